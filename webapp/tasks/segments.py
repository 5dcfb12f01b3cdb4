"""Segment jobs: recalculation of one segment, and the periodic sweep of time-relative ones."""

from __future__ import annotations

from webapp.infra.errors import NotFound
from webapp.infra.queues import enqueue_unique
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

    A segment whose recalculation is still waiting is not queued again (RQ queues a job id
    given twice twice, so the id alone did not stop the pile-up); recalculation itself is
    idempotent.
    """
    pairs = segments.time_relative_segment_ids()
    for tenant_id, segment_id in pairs:
        enqueue_unique("segments.recalculate_segment", tenant_id, segment_id, job_id=f"segment-recalc-{segment_id}",
                       queue="bulk", lease_seconds=RECALC_TIMEOUT, job_timeout=RECALC_TIMEOUT, result_ttl=600,
                       failure_ttl=86400)
    return len(pairs)

