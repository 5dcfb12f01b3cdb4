"""Finding and claiming due enrollments. A batch claims enrollments with one conditional
UPDATE (claim token + lease, as delivery claims recipients); a claim that outlives its
lease (a worker killed mid-step) can be taken again."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, update

from webapp.extensions import db
from webapp.infra.queues import enqueue_chunks, get_queue
from webapp.models import AutomationEnrollment, AutomationWorkflow
from webapp.services.enrollment.enroll import RUN_BATCH_SIZE, RUN_JOB_TIMEOUT

# Sweeps skip a round while this many run jobs are still queued.
BACKLOG_JOBS = 50


def lease() -> timedelta:
    return timedelta(seconds=int(current_app.config.get("WORKFLOW_LEASE_SECONDS", 300)))


def _claimable(now: datetime):
    return and_(AutomationEnrollment.status.in_(("active", "waiting")), AutomationEnrollment.next_run_at <= now,
                or_(AutomationEnrollment.claim_token.is_(None), AutomationEnrollment.claimed_at < now - lease()))


def due_enrollment_ids(now: datetime, limit: int = 100_000) -> list[int]:
    active = select(AutomationWorkflow.id).where(AutomationWorkflow.active.is_(True))
    return list(db.session.scalars(select(AutomationEnrollment.id).where(
        _claimable(now), AutomationEnrollment.workflow_id.in_(active))
        .order_by(AutomationEnrollment.next_run_at, AutomationEnrollment.id).limit(limit)))


def enqueue_due_runs(now: datetime) -> int:
    """Every enrollment due now (a wait ran out, a retry's time came, a job was lost), handed
    to the workers in batches; returns how many."""
    if get_queue("default").count > BACKLOG_JOBS:
        # The last sweep's jobs are still queued: enqueueing the same enrollments again would
        # only pile up duplicates (harmless, claims decide, but slow). The next sweep looks again.
        return 0
    ids = due_enrollment_ids(now)
    enqueue_chunks("workflows.run_enrollments", ids, chunk=RUN_BATCH_SIZE, queue="default",
                   job_timeout=RUN_JOB_TIMEOUT, result_ttl=60, failure_ttl=86400)
    return len(ids)


def claim(ids: list[int], now: datetime) -> tuple[str, list[int]]:
    token = uuid.uuid4().hex
    if not ids:
        return token, []
    claimed = list(db.session.scalars(
        update(AutomationEnrollment).where(AutomationEnrollment.id.in_(ids), _claimable(now))
        .values(claim_token=token, claimed_at=now).returning(AutomationEnrollment.id)))
    db.session.commit()
    return token, sorted(claimed)


def release_claims(token: str, ids: list[int]) -> int:
    """Unclaim enrollments of this claim that were not run: the next sweep finds them due."""
    released = db.session.execute(
        update(AutomationEnrollment)
        .where(AutomationEnrollment.id.in_(ids), AutomationEnrollment.claim_token == token)
        .values(claim_token=None, claimed_at=None)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return released
