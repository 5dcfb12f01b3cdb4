"""Workflow jobs: run a batch of due enrollments, the periodic sweep that hands due
enrollments to the workers in batches, and the event_day sweep.

Durability: the database says what is due (status and next_run_at); a lost job only
delays work until the next sweep, and a duplicate job claims nothing (claims are
conditional UPDATEs), so every job here is idempotent.
"""

from __future__ import annotations

from webapp.infra.types import utcnow
from webapp.services import enrollment
from webapp.services.events import reminders
from webapp.services.workflows import claims, engine


def run_enrollments(enrollment_ids: list[int]) -> dict[str, int]:
    """Claim and run those of `enrollment_ids` that are still due."""
    return engine.run_batch(list(enrollment_ids))


def enqueue_due_enrollments() -> int:
    """Periodic: every enrollment due now, enqueued in batches; returns how many."""
    return claims.enqueue_due_runs(utcnow())


def enroll_event_day() -> int:
    """Periodic: enroll ticket holders into event_day workflows whose time has come."""
    return enrollment.enroll_event_day()


def send_event_reminders() -> int:
    """Periodic: enroll ticket holders into event_reminder workflows whose time has come."""
    return reminders.send_due_reminders()
