"""Signup form jobs: send one confirmation email, send those a lost job did not, and forget
signups never confirmed."""

from __future__ import annotations

from webapp.infra.queues import enqueue
from webapp.services import signup_forms


def send_confirmation(pending_id: int) -> str:
    """Email one pending signup its confirmation link (idempotent: sent once)."""
    return signup_forms.send_confirmation(pending_id)


def send_unsent_confirmations() -> int:
    """Periodic: enqueue again every confirmation email the database says was not sent."""
    ids = signup_forms.unsent_signup_ids()
    for pending_id in ids:
        enqueue("signup_forms.send_confirmation", pending_id, queue="mail", job_timeout=120,
                job_id=f"signup-confirmation-{pending_id}")
    return len(ids)


def forget_unconfirmed_signups() -> int:
    """Periodic: delete signups whose link expired long ago unconfirmed."""
    return signup_forms.forget_unconfirmed()
