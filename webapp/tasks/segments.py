"""Segment jobs: recalculation of one segment, and the periodic sweep of time-relative ones."""

from __future__ import annotations

from webapp.infra.errors import NotFound
from webapp.infra.queues import get_queue
from webapp.services import segments

RECALC_TIMEOUT = 1800


def recalculate_segment(tenant_id: int, segment_id: int) -> dict | None:
    """Recalculate one segment; a segment deleted meanwhile is nothing to do."""
    try:
        return segments.calculate_segment(tenant_id, segment_id).as_dict()
    except NotFound:
        return None


def recalculate_time_relative_segments() -> int:
    """Enqueue a recalculation of every segment whose membership drifts with the clock.

    The job id is per segment, so a sweep that overlaps a running one does not pile up
    duplicate work; recalculation itself is idempotent.
    """
    queue = get_queue("bulk")
    pairs = segments.time_relative_segment_ids()
    for tenant_id, segment_id in pairs:
        queue.enqueue(recalculate_segment, tenant_id, segment_id, job_timeout=RECALC_TIMEOUT,
                      job_id=f"segment-recalc-{segment_id}", result_ttl=600, failure_ttl=86400)
    return len(pairs)
