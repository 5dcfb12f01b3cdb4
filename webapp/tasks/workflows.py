"""Workflow jobs: run a batch of due enrollments, the periodic sweep that enqueues due
enrollments in batches, and the event_day sweep.

Durability: the database says what is due (status and next_run_at); a lost job only
delays work until the next sweep, and a duplicate job claims nothing (claims are
conditional UPDATEs), so every job here is idempotent.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import RedisError

from webapp.infra.queues import get_queue

log = logging.getLogger(__name__)

# Enrollments per job: large enough that a job's fork and start-up (~0.1 s) is a small part.
BATCH_SIZE = 500
JOB_TIMEOUT = 1800
BACKLOG_JOBS = 50


def run_enrollments(enrollment_ids: list[int]) -> dict[str, int]:
    """Claim and run those of `enrollment_ids` that are still due."""
    from webapp.services.workflow_engine import run_batch

    return run_batch(list(enrollment_ids))


def enqueue_run(enrollment_ids: list[int]) -> None:
    """After a trigger committed: run its new enrollments now (an empty list asks for a
    sweep, e.g. after a workflow was switched back on). Redis trouble is logged, not
    raised: the trigger's transaction is already committed and the sweep will find the work."""
    try:
        if enrollment_ids:
            for start in range(0, len(enrollment_ids), BATCH_SIZE):
                get_queue("default").enqueue(run_enrollments, enrollment_ids[start:start + BATCH_SIZE],
                                             job_timeout=JOB_TIMEOUT, result_ttl=60, failure_ttl=86400)
        else:
            get_queue("default").enqueue(enqueue_due_enrollments, job_timeout=JOB_TIMEOUT, result_ttl=60,
                                         job_id=f"workflows-due-now-{int(time.time())}")
    except RedisError:
        log.exception("could not enqueue workflow work; the periodic sweep will pick it up")


def enqueue_due_enrollments() -> int:
    """Periodic: every enrollment due now (a wait ran out, a retry's time came, a job was
    lost), enqueued in batches; returns how many."""
    from webapp.infra.types import utcnow
    from webapp.services.workflow_engine import due_enrollment_ids

    queue = get_queue("default")
    if queue.count > BACKLOG_JOBS:
        # The last sweep's jobs are still queued: enqueueing the same enrollments again would
        # only pile up duplicates (harmless, claims decide, but slow). The next sweep looks again.
        return 0
    ids = due_enrollment_ids(utcnow())
    for start in range(0, len(ids), BATCH_SIZE):
        queue.enqueue(run_enrollments, ids[start:start + BATCH_SIZE], job_timeout=JOB_TIMEOUT, result_ttl=60,
                      failure_ttl=86400)
    return len(ids)


def enroll_event_day() -> int:
    """Periodic: enroll ticket holders into event_day workflows whose time has come."""
    from webapp.services.workflows import enroll_event_day as enroll

    return enroll()
