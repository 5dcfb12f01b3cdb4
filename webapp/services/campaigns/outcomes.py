"""What a send's outcome does to its recipient's row: sent and lost stay as marked, a
temporary refusal goes back to pending with a backoff, anything else fails (a hard bounce
marks the customer bounced too)."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import Row, and_, insert, update

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.mail.compose import CustomerView
from webapp.mail.transport import SendOutcome
from webapp.models import CampaignRecipient, Customer, CustomerActivity
from webapp.services import webhooks
from webapp.services.campaigns.claims import MAX_ATTEMPTS, finish
from webapp.services.campaigns.marks import revert_sent
from webapp.services.changes import customer_changed
from webapp.services.webhooks import customer_refs


def retry_delay(attempts: int) -> timedelta:
    base = float(current_app.config.get("DELIVERY_RETRY_BASE_SECONDS", 30))
    return timedelta(seconds=min(base * (2 ** max(attempts - 1, 0)), 3600))


def record_outcome(recipient: Row, customer: CustomerView, claim: str, outcome: SendOutcome) -> str:
    if outcome.status == "sent":
        return "sent"
    if outcome.status == "lost":
        return "lost"
    # Sent rows whose server then said no (after the final ".") go back from "sent".
    if outcome.status == "transient" and recipient.attempts < MAX_ATTEMPTS:
        revert_sent(recipient, claim)
        mine = and_(CampaignRecipient.id == recipient.id, CampaignRecipient.claim_token == claim)
        db.session.execute(
            update(CampaignRecipient).where(mine)
            .values(status="pending", claim_token=None, error=outcome.detail[:2000],
                    next_attempt_at=utcnow() + retry_delay(recipient.attempts))
            .execution_options(synchronize_session=False))
        db.session.commit()
        return "retry"
    revert_sent(recipient, claim)
    db.session.commit()
    reason = outcome.detail if outcome.status == "permanent" else f"gave up after {recipient.attempts} attempts: " \
                                                                  f"{outcome.detail}"
    finish(recipient, claim, "failed", reason)
    if outcome.hard_bounce:
        _mark_bounced(customer, recipient.campaign_id, outcome.detail)
    return "failed"


def _mark_bounced(customer: CustomerView, campaign_id: int, detail: str) -> None:
    changed = db.session.execute(
        update(Customer).where(Customer.id == customer.id, Customer.email_status == "subscribed")
        .values(email_status="bounced", updated_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    if changed:
        db.session.execute(insert(CustomerActivity.__table__).values(
            tenant_id=customer.tenant_id, customer_id=customer.id, type="email_bounced",
            properties={"campaign_id": campaign_id, "reply": detail[:500]}, occurred_at=utcnow(), created_at=utcnow()))
        customer_changed(customer.tenant_id, customer.id)
        webhooks.emit(customer.tenant_id, "customer.bounced", lambda: {
            "customer": customer_refs(customer.tenant_id, [customer.id]).get(customer.id), "provider": "smtp",
            "campaign_id": campaign_id, "reason": detail[:500]})
    db.session.commit()
