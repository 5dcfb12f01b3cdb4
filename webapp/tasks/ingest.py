"""Batch ingest jobs: the follow-up a large batch owes after its request, and the sweep that
hands over follow-ups whose job Redis lost or whose retry is due. Both are idempotent: a
follow-up is claimed by deleting its row in the transaction that does the work."""

from __future__ import annotations

from webapp.services.ingest import follow


def follow_batch(followup_id: int) -> int:
    """Segments, enrollments, goals and wake-ups of one batch's stored activities."""
    return follow.run_followup(followup_id)


def enqueue_due_followups() -> int:
    """Periodic: follow-ups not taken in time, or due for another try, to the workers."""
    return follow.enqueue_due()
