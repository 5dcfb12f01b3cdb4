"""Unsubscribe links: the recipient a token names, and the unsubscribe itself."""

from __future__ import annotations

from sqlalchemy import select, update

from webapp.extensions import db
from webapp.infra.errors import NotFound
from webapp.infra.types import utcnow
from webapp.models import CampaignRecipient, Customer, EmailCampaign
from webapp.services.changes import customer_changed
from webapp.services.consent import Evidence, email_status_changed

LINK_EVIDENCE = Evidence("unsubscribe_link", wording="Unsubscribe from all marketing emails")


def recipient_by_token(token: str) -> CampaignRecipient | None:
    if not token or len(token) > 64:
        return None
    return db.session.scalar(select(CampaignRecipient).where(CampaignRecipient.token == token))


def unsubscribe(token: str, evidence: Evidence = LINK_EVIDENCE) -> CampaignRecipient:
    """The recipient's customer stops getting marketing mail (a consent record, the
    `unsubscribed` activity and trigger); repeated calls change nothing."""
    recipient = recipient_by_token(token)
    if recipient is None:
        raise NotFound("this unsubscribe link is not valid")
    customer = db.session.get(Customer, recipient.customer_id)
    campaign = db.session.get(EmailCampaign, recipient.campaign_id)
    changed = db.session.execute(
        update(Customer).where(Customer.id == customer.id, Customer.email_status == "subscribed")
        .values(email_status="unsubscribed", updated_at=utcnow()).execution_options(synchronize_session=False)
    ).rowcount
    if changed:
        db.session.refresh(customer)
        email_status_changed(customer, "subscribed", evidence,
                             {"campaign_id": campaign.id, "campaign_name": campaign.name})
        db.session.execute(update(EmailCampaign).where(EmailCampaign.id == campaign.id).values(
            unsubscribed_count=EmailCampaign.unsubscribed_count + 1).execution_options(synchronize_session=False))
        db.session.flush()
        customer_changed(customer.tenant_id, customer.id)
    db.session.commit()
    return recipient
