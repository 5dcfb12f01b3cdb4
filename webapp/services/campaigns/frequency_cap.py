"""The frequency cap: at most N marketing emails per person in D days (a tenant setting;
none by default). What counts is what was sent: campaign emails and workflow emails, except
workflow emails marked transactional (their hidden campaign's `transactional`), which are
never capped either.

Campaigns check it at claim time, for the whole claimed batch in one statement beside the
suppression check (claims.skip_suppressed): a capped recipient is `skipped` with the reason.
Workflow emails check it for their one customer before sending (steps/send_email.py).
Two sends racing for the same person at the same moment may both pass: the cap counts
what is already sent, and is a courtesy, not a guarantee.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import aliased

from webapp.extensions import db
from webapp.models import CampaignRecipient, EmailCampaign, Tenant
from webapp.services.campaigns.marks import bump_counters


def cap_of(tenant: Tenant) -> tuple[int, int] | None:
    """(emails, days) or None when the tenant has no cap."""
    if tenant.frequency_cap_emails is None or tenant.frequency_cap_days is None:
        return None
    return tenant.frequency_cap_emails, tenant.frequency_cap_days


def cap_reason(emails: int, days: int) -> str:
    """The reason a capped recipient was skipped, as the report shows it."""
    return f"frequency cap: {emails} email{'s' if emails != 1 else ''} in {days} day{'s' if days != 1 else ''}"


def _sent_since(customer_id, since: datetime):
    """How many marketing emails were sent to `customer_id` (a column or a value) since `since`."""
    earlier = aliased(CampaignRecipient)
    return (select(func.count()).select_from(earlier)
            .join(EmailCampaign, EmailCampaign.id == earlier.campaign_id)
            .where(earlier.customer_id == customer_id, earlier.status == "sent", earlier.sent_at >= since,
                   EmailCampaign.transactional.is_(False))
            .scalar_subquery())


def skip_capped(campaign_id: int, tenant: Tenant, claim: str, now: datetime) -> int:
    """The claimed rows of people already at the cap are skipped with the reason, in one
    statement (a count per claimed customer over their own sent rows, by the customer index).
    Committed; how many were skipped."""
    cap = cap_of(tenant)
    if cap is None:
        return 0
    emails, days = cap
    skipped = db.session.execute(
        update(CampaignRecipient)
        .where(CampaignRecipient.claim_token == claim, CampaignRecipient.status == "sending",
               _sent_since(CampaignRecipient.customer_id, now - timedelta(days=days)) >= emails)
        .values(status="skipped", error=cap_reason(emails, days), claim_token=None)
        .execution_options(synchronize_session=False)).rowcount
    if skipped:
        bump_counters(campaign_id, skipped_count=skipped)
    db.session.commit()
    return skipped


def capped(tenant: Tenant, customer_id: int, now: datetime) -> str | None:
    """The reason `customer_id` may get no more marketing email now, or None."""
    cap = cap_of(tenant)
    if cap is None:
        return None
    emails, days = cap
    sent = db.session.scalar(select(_sent_since(customer_id, now - timedelta(days=days))))
    return cap_reason(emails, days) if sent >= emails else None
