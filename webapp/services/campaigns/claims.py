"""Claims on a batch's recipients: which rows may be claimed, the claim itself (a token and a
time on each row: only its holder may mark the row sent), the claimed rows, and how a claim
ends (sent, failed, skipped on suppression or cancel). The campaign is `sent` once no row is open."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Row, and_, bindparam, distinct, or_, select, update

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.mail.compose import CustomerView
from webapp.models import CampaignRecipient, Customer, CustomerTag, EmailCampaign, Topic, subscribed_to_topic
from webapp.services.campaigns.marks import bump_counters

MAX_ATTEMPTS = 5


def lease() -> timedelta:
    """How long a claim holds: a row claimed longer ago belongs to a worker that died."""
    return timedelta(seconds=int(current_app.config.get("DELIVERY_LEASE_SECONDS", 600)))


def claimable(now: datetime):
    return or_(
        and_(CampaignRecipient.status == "pending",
             or_(CampaignRecipient.next_attempt_at.is_(None), CampaignRecipient.next_attempt_at <= now)),
        and_(CampaignRecipient.status == "sending", CampaignRecipient.claimed_at < now - lease()),
    )


def batches_with_work(campaign_id: int) -> list[int]:
    return list(db.session.scalars(select(distinct(CampaignRecipient.batch_no)).where(
        CampaignRecipient.campaign_id == campaign_id, claimable(utcnow())).order_by(CampaignRecipient.batch_no)))


def claim_batch(campaign_id: int, batch_no: int, claim: str, now: datetime) -> list[int]:
    """Claim the batch's claimable rows for `claim` (committed); their ids."""
    claimed = list(db.session.scalars(
        update(CampaignRecipient)
        .where(CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.batch_no == batch_no, claimable(now))
        .values(status="sending", claim_token=claim, claimed_at=now, attempts=CampaignRecipient.attempts + 1)
        .returning(CampaignRecipient.id)))
    db.session.commit()
    return claimed


def give_up_on_abandoned(campaign_id: int, batch_no: int, now: datetime) -> None:
    """A row whose worker died MAX_ATTEMPTS times (a message that crashes its worker, say)
    is failed instead of being taken over forever."""
    gave_up = db.session.execute(
        update(CampaignRecipient)
        .where(CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.batch_no == batch_no,
               CampaignRecipient.status == "sending", CampaignRecipient.claimed_at < now - lease(),
               CampaignRecipient.attempts >= MAX_ATTEMPTS)
        .values(status="failed", claim_token=None,
                error=f"delivery was interrupted {MAX_ATTEMPTS} times (worker stopped); not retried")
        .execution_options(synchronize_session=False)).rowcount
    if gave_up:
        bump_counters(campaign_id, failed_count=gave_up)
    db.session.commit()


def claimed_rows(claim: str) -> list[tuple[Row, CustomerView]]:
    """The claimed recipients with what templates read of their customers, as plain
    values in two queries (ORM objects cost ~0.3 ms per message to build)."""
    recipients, customers = CampaignRecipient.__table__, Customer.__table__
    mine = and_(recipients.c.claim_token == claim, recipients.c.status == "sending")
    rows = db.session.execute(
        select(recipients.c.id, recipients.c.campaign_id, recipients.c.tenant_id, recipients.c.customer_id,
               recipients.c.email, recipients.c.token, recipients.c.attempts, recipients.c.variant,
               customers.c.email.label("customer_email"), customers.c.first_name, customers.c.last_name,
               customers.c.attributes, customers.c.total_spent, customers.c.orders_count)
        .join(customers, customers.c.id == recipients.c.customer_id)
        .where(mine)
        .order_by(recipients.c.id)).all()
    tags: dict[int, list[str]] = {}
    if rows:
        # The customers by a subquery rather than a list of ids: a batch's few hundred
        # ids made a new statement text to bind and parse on every call.
        for customer_id, tag in db.session.execute(
                select(CustomerTag.customer_id, CustomerTag.tag)
                .where(CustomerTag.customer_id.in_(select(recipients.c.customer_id).where(mine)))
                .order_by(CustomerTag.customer_id, CustomerTag.tag)):
            tags.setdefault(customer_id, []).append(tag)
    return [(row, CustomerView(id=row.customer_id, tenant_id=row.tenant_id, email=row.customer_email,
                               first_name=row.first_name, last_name=row.last_name, attributes=row.attributes,
                               total_spent=row.total_spent, orders_count=row.orders_count,
                               tags=tags.get(row.customer_id, [])))
            for row in rows]


def skip_suppressed(campaign: EmailCampaign, claim: str) -> None:
    """Suppression is checked at claim time: unsubscribed since the snapshot (from all
    marketing, or from the campaign's topic) -> skipped."""
    suppressed = select(Customer.id).where(Customer.id == CampaignRecipient.customer_id,
                                           ~Customer.is_reachable).exists()
    skipped = db.session.execute(
        update(CampaignRecipient).where(CampaignRecipient.claim_token == claim, CampaignRecipient.status == "sending",
                                        suppressed)
        .values(status="skipped", error="not subscribed any more", claim_token=None)
        .execution_options(synchronize_session=False)).rowcount
    if campaign.topic_id is not None:
        topic_name = db.session.scalar(select(Topic.name).where(Topic.id == campaign.topic_id)) or "the topic"
        skipped += db.session.execute(
            update(CampaignRecipient).where(CampaignRecipient.claim_token == claim,
                                            CampaignRecipient.status == "sending",
                                            ~subscribed_to_topic(campaign.topic_id, CampaignRecipient.customer_id))
            .values(status="skipped", error=f"unsubscribed from {topic_name}"[:2000], claim_token=None)
            .execution_options(synchronize_session=False)).rowcount
    if skipped:
        bump_counters(campaign.id, skipped_count=skipped)
    db.session.commit()


_CAMPAIGNS = EmailCampaign.__table__
_CAMPAIGN_STATUS = select(_CAMPAIGNS.c.status).where(_CAMPAIGNS.c.id == bindparam("campaign_id"))


def cancelled(campaign_id: int) -> bool:
    # On the table: the ORM's select cost ~0.1 ms more, and this runs every 25 messages.
    return db.session.scalar(_CAMPAIGN_STATUS, {"campaign_id": campaign_id}) != "sending"


def release(claim: str) -> None:
    """A cancelled campaign's claimed but unsent rows are skipped."""
    rows = db.session.execute(
        update(CampaignRecipient).where(CampaignRecipient.claim_token == claim, CampaignRecipient.status == "sending")
        .values(status="skipped", error="campaign cancelled", claim_token=None)
        .returning(CampaignRecipient.campaign_id)).all()
    if rows:
        bump_counters(rows[0][0], skipped_count=len(rows))
    db.session.commit()


def finish_if_done(campaign_id: int) -> bool:
    """`sent` only once every recipient is final (sent, failed or skipped): an A/B test's
    held remainder is still to send."""
    open_rows = select(CampaignRecipient.id).where(CampaignRecipient.campaign_id == campaign_id,
                                                   CampaignRecipient.status.in_(("pending", "sending", "held"))
                                                   ).exists()
    done = db.session.execute(
        update(EmailCampaign).where(EmailCampaign.id == campaign_id, EmailCampaign.status == "sending",
                                    EmailCampaign.snapshot_at.isnot(None), ~open_rows)
        .values(status="sent", finished_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return bool(done)


def finish(recipient: Row, claim: str, status: str, error: str) -> bool:
    done = db.session.execute(
        update(CampaignRecipient).where(CampaignRecipient.id == recipient.id, CampaignRecipient.claim_token == claim)
        .values(status=status, error=error[:2000], claim_token=None)
        .execution_options(synchronize_session=False)).rowcount
    if done:
        bump_counters(recipient.campaign_id, **{f"{status}_count": 1})
    db.session.commit()
    return bool(done)

