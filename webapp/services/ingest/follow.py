"""What a batch's stored activities set going once their rows are in: segment membership
(set-based, once per round), workflow enrollment (one set-based enrollment per trigger
type), the goal and exit checks (one statement) and the wait_for steps each activity wakes,
as record_activity does for one.

A batch of up to BATCH_FOLLOW_INLINE_MAX activities does this in its request. A larger one
(an on-sale minute: 1,000 purchases into 50 workflows is 50,000 enrollments and their wait
traces, seconds of work) writes one ingest_followups row in its transaction and answers; a
worker does the work after commit and deletes the row in the transaction that does it, so
the work is done once: a second job finds no row, and a failure rolls the DELETE back and
keeps the reason on the row for the next try. The periodic sweep hands over rows whose job
Redis lost, and retries failed ones with a growing delay until MAX_ATTEMPTS.

A deferred round sees the customers as they are when the worker runs it: every round's
aggregates have moved by then (inline, a customer's second purchase of the batch moves them
after the first round is followed). Segment membership depends only on that state, and
enrollment only on each activity's properties, so both end where they would have.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import case, delete, select, update

from webapp.extensions import db
from webapp.infra.queues import after_commit, enqueue_unique
from webapp.infra.sql import among, dialect
from webapp.infra.types import utcnow
from webapp.models import CustomerActivity, IngestFollowup
from webapp.services.enrollment import process_triggers, wake_awaiting
from webapp.services.enrollment.awaiting import awaited_types
from webapp.services.enrollment.goals import check_customers
from webapp.services.segment_refresh import refresh_segments_for

# A followup whose job has not taken it by then is handed over again by the sweep.
LOST_AFTER = timedelta(seconds=60)
MAX_ATTEMPTS = 6  # retried after 1, 2, 4, 8 and 16 minutes, then left with its reason
JOB_TIMEOUT = 1800


@dataclass(frozen=True)
class Stored:
    """A stored activity, as what follows it reads it."""
    customer_id: int
    type: str
    properties: dict[str, Any]
    occurred_at: datetime


def inline_max() -> int:
    """How many stored activities a batch follows in its own request."""
    return int(current_app.config["BATCH_FOLLOW_INLINE_MAX"])


def follow_round(tenant_id: int, stored: list[Stored], guests: set[int]) -> None:
    """Segments, triggers, goals and wake-ups for one round (each customer at most once), in
    the caller's transaction. `guests` are the customers the round's tickets name."""
    changed = {s.customer_id for s in stored} | guests
    refresh_segments_for(tenant_id, changed)
    now = utcnow()
    for trigger in ("purchase", "signup"):
        entries = [(s.customer_id, s.properties) for s in stored if s.type == trigger]
        if entries:
            process_triggers(tenant_id, trigger, entries, now)
    check_customers(tenant_id, changed)
    awaited = awaited_types(tenant_id)
    for s in stored:
        if s.type in awaited:
            wake_awaiting(tenant_id, s.customer_id, s.type, s.properties, s.occurred_at)


def defer(tenant_id: int, activity_ids: list[int], guests: set[int]) -> int:
    """Owe the follow-up of these stored activities (of customers the batch names once: one
    round) and of the guests their tickets name, in the caller's transaction; its job is
    enqueued when that commits. Returns the followup's id. (The row keeps a list of rounds,
    so that it can hold more than one.)"""
    now = utcnow()
    row = IngestFollowup(tenant_id=tenant_id, created_at=now, next_try_at=now + LOST_AFTER, attempts=0,
                         rounds=[{"activities": activity_ids, "guests": sorted(guests)}])
    db.session.add(row)
    db.session.flush()
    after_commit("ingest.follow_batch", row.id, **_job_options(row.id))
    return row.id


def _job_options(followup_id: int) -> dict[str, Any]:
    return {"queue": "default", "job_id": f"ingest-follow-{followup_id}", "job_timeout": JOB_TIMEOUT,
            "result_ttl": 60, "failure_ttl": 86400}


def _load(tenant_id: int, ids: list[int]) -> list[Stored]:
    """The round's activities still stored (an erased customer's are gone), in id order."""
    rows = db.session.execute(
        select(CustomerActivity.customer_id, CustomerActivity.type, CustomerActivity.properties,
               CustomerActivity.occurred_at)
        .where(CustomerActivity.tenant_id == tenant_id, among(CustomerActivity.id, "ids", dialect()))
        .order_by(CustomerActivity.id), {"ids": ids})
    return [Stored(r.customer_id, r.type, r.properties or {}, r.occurred_at) for r in rows]


def run_followup(followup_id: int) -> int:
    """Claim the followup (a DELETE, skipping one another worker holds) and do its rounds in
    the same transaction; returns how many activities were followed, 0 when the row is gone
    (done already) or taken. A failure keeps the row, notes why, and is raised again."""
    table = IngestFollowup.__table__
    claimed = select(table.c.id).where(table.c.id == followup_id).with_for_update(skip_locked=True)
    claim = delete(table).where(table.c.id == claimed.scalar_subquery()).returning(table.c.tenant_id, table.c.rounds)
    try:
        row = db.session.execute(claim).first()
        if row is None:
            db.session.rollback()
            return 0
        followed = 0
        for round_ in row.rounds:
            stored = _load(row.tenant_id, round_["activities"])
            follow_round(row.tenant_id, stored, set(round_["guests"]))
            followed += len(stored)
        db.session.commit()
        return followed
    except Exception as error:
        db.session.rollback()
        _note_failure(followup_id, error)
        raise


def _note_failure(followup_id: int, error: Exception) -> None:
    """The reason on the row, and when to try again (or that the tries are spent)."""
    now = utcnow()
    table = IngestFollowup.__table__
    attempts = db.session.scalar(select(table.c.attempts).where(table.c.id == followup_id))
    if attempts is None:
        return
    delay = timedelta(minutes=2 ** min(attempts, MAX_ATTEMPTS))  # a row run by hand past its tries stays in range
    # The driver's own message for a database error: SQLAlchemy's adds the statement and its
    # parameters (customers' addresses among them), which the row does not need to keep.
    reason = getattr(error, "orig", None) or error
    db.session.execute(update(table).where(table.c.id == followup_id).values(
        attempts=table.c.attempts + 1, last_error=f"{type(error).__name__}: {reason}"[:2000],
        next_try_at=now + delay,
        failed_at=case((table.c.attempts + 1 >= MAX_ATTEMPTS, now), else_=None)))
    db.session.commit()


def enqueue_due(now: datetime | None = None) -> int:
    """Periodic: hand every followup whose job never took it, or whose retry is due, to a
    worker (one job each; a job still waiting is not enqueued twice). Returns how many."""
    now = now or utcnow()
    ids = list(db.session.scalars(select(IngestFollowup.id).where(
        IngestFollowup.failed_at.is_(None), IngestFollowup.next_try_at <= now).order_by(IngestFollowup.id).limit(1000)))
    db.session.rollback()
    for followup_id in ids:
        options = _job_options(followup_id)
        enqueue_unique("ingest.follow_batch", followup_id, lease_seconds=JOB_TIMEOUT, **options)
    return len(ids)
