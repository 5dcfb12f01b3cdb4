"""Campaign sending: schedule, send now, start when due, the recipient snapshot and the fan-out
of its batches, cancel, progress."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, literal, select, update

from webapp.extensions import db
from webapp.infra.errors import Conflict, ValidationFailed
from webapp.infra.types import utcnow
from webapp.infra.validation import utc_moment
from webapp.models import (
    CampaignRecipient,
    Customer,
    CustomerSegmentMember,
    EmailCampaign,
    Tenant,
    subscribed_to_topic,
)
from webapp.services.campaigns import variants, waves
from webapp.services.campaigns.claims import batches_with_work, finish_if_done
from webapp.services.campaigns.drafts import EDITABLE, get_campaign
from webapp.services.campaigns.jobs import enqueue_batch, enqueue_start, enqueue_start_at, enqueue_winner
from webapp.services.segments import calculate_segment
from webapp.services.sending_domains import check_from_address

BATCH_SIZE = 250


# --- scheduling and sending -------------------------------------------------------------

def _check_sendable(campaign: EmailCampaign, tenant: Tenant) -> None:
    if campaign.segment_id is None:
        raise ValidationFailed("segment_id", "choose a segment to send to")
    if not (tenant.postal_address or "").strip():
        raise ValidationFailed("postal_address", "set your organisation's postal address in Settings: "
                                                 "the law requires it in every marketing email")
    if not (campaign.from_email or tenant.sender_email):
        raise ValidationFailed("from_email", "set a from address on the campaign or a sender in Settings")
    # Checked again at the send: the domain may have been proven another organisation's since.
    check_from_address(tenant.id, campaign.from_email or tenant.sender_email, "from_email")


def schedule_campaign(tenant_id: int, campaign_id: int, send_at: datetime) -> EmailCampaign:
    """Schedule for `send_at` (timezone-aware, in the future); the scheduler starts it."""
    campaign = get_campaign(tenant_id, campaign_id)
    if send_at.tzinfo is None:
        raise ValidationFailed("send_at", "must include a timezone offset, e.g. 2026-12-01T09:00:00+01:00")
    send_at = utc_moment(send_at, "send_at")
    if send_at <= utcnow():
        raise ValidationFailed("send_at", "must be in the future")
    return _schedule(campaign, send_at, None)


def schedule_local(tenant_id: int, campaign_id: int, local_time: datetime, *,
                   per_customer_timezone: bool) -> EmailCampaign:
    """Schedule for a wall-clock time (naive): in each recipient's own timezone (waves,
    services/campaigns/waves.py), or else in the organisation's."""
    campaign = get_campaign(tenant_id, campaign_id)
    wall = waves.parse_local_time(local_time)
    tenant = db.session.get(Tenant, tenant_id)
    if per_customer_timezone:
        return _schedule(campaign, waves.start_of(wall), wall.strftime(waves.LOCAL_TIME_FORMAT))
    send_at = waves.wall_time_in(wall, waves.zone_or(tenant.timezone, None))
    if send_at <= utcnow():
        raise ValidationFailed("local_time", "must be in the future")
    return _schedule(campaign, send_at, None)


def _schedule(campaign: EmailCampaign, start: datetime, local_send_time: str | None) -> EmailCampaign:
    if campaign.status not in EDITABLE:
        raise Conflict(f"a {campaign.status} campaign cannot be scheduled")
    _check_sendable(campaign, db.session.get(Tenant, campaign.tenant_id))
    if local_send_time and campaign.ab_share_percent is not None:
        raise ValidationFailed("per_customer_timezone", "an A/B test is sent at one time: its winner goes to "
                                                        "the rest when the test ends, not in waves over a day")
    campaign.status = "scheduled"
    campaign.scheduled_at = start
    campaign.local_send_time = local_send_time
    db.session.commit()
    enqueue_start_at(campaign.id, start)
    return campaign


def send_campaign(tenant_id: int, campaign_id: int) -> EmailCampaign:
    """Start sending now: the status flips once (a second call is a 409) and a job takes
    the snapshot and fans out the delivery batches."""
    campaign = get_campaign(tenant_id, campaign_id)
    if campaign.status not in EDITABLE:
        raise Conflict(f"the campaign is already {campaign.status}")
    _check_sendable(campaign, db.session.get(Tenant, tenant_id))
    if not _begin_sending(campaign.id):
        raise Conflict("the campaign is already being sent")
    db.session.refresh(campaign)
    enqueue_start(campaign.id)
    return campaign


def _begin_sending(campaign_id: int) -> bool:
    result = db.session.execute(
        update(EmailCampaign).where(EmailCampaign.id == campaign_id, EmailCampaign.status.in_(EDITABLE))
        .values(status="sending", started_at=utcnow(), last_error=None, local_send_time=None)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount == 1


def start_due_campaign(campaign_id: int) -> bool:
    """Scheduler: begin a scheduled campaign whose time has come (once, however often called)."""
    result = db.session.execute(
        update(EmailCampaign).where(EmailCampaign.id == campaign_id, EmailCampaign.status == "scheduled",
                                    EmailCampaign.scheduled_at <= utcnow())
        .values(status="sending", started_at=utcnow()).execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount == 1


def _random_token():
    if db.session.get_bind().dialect.name == "postgresql":
        return func.replace(func.cast(func.gen_random_uuid(), db.String), "-", "")
    return func.lower(func.hex(func.randomblob(16)))


def snapshot_recipients(campaign_id: int) -> int:
    """Recompute the segment, then copy its subscribed members into campaign_recipients in
    one statement, numbered into delivery batches. Idempotent: done once per campaign."""
    campaign = db.session.get(EmailCampaign, campaign_id)
    if campaign is None or campaign.status != "sending" or campaign.snapshot_at is not None:
        return 0
    if campaign.segment_id is not None:
        calculate_segment(campaign.tenant_id, campaign.segment_id)
    # Lock the campaign row so two start jobs cannot both snapshot.
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(EmailCampaign.id).where(EmailCampaign.id == campaign_id).with_for_update())
    campaign = db.session.get(EmailCampaign, campaign_id, populate_existing=True)
    if campaign.snapshot_at is not None:
        db.session.rollback()
        return 0
    # A local-time campaign's rows each get their wave, and batches follow the waves (a
    # batch is then due at one time, two at most), so each wave's jobs send only its rows.
    wave = waves.wave_expression(campaign, db.session.get(Tenant, campaign.tenant_id).timezone) \
        if campaign.local_send_time else literal(None, CampaignRecipient.__table__.c.wave_at.type)
    number = func.row_number().over(order_by=(wave, Customer.id) if campaign.local_send_time else Customer.id)
    rows = (select(literal(campaign.id), literal(campaign.tenant_id), Customer.id, Customer.email,
                   ((number - 1) // BATCH_SIZE).label("batch_no"), literal("pending"), _random_token(),
                   literal(0), wave, wave)
            .join(CustomerSegmentMember, CustomerSegmentMember.customer_id == Customer.id)
            .where(CustomerSegmentMember.segment_id == campaign.segment_id,
                   Customer.tenant_id == campaign.tenant_id, Customer.is_reachable))
    if campaign.topic_id is not None:  # under a topic: only those who get it
        rows = rows.where(subscribed_to_topic(campaign.topic_id, Customer.id))
    count = db.session.execute(
        insert(CampaignRecipient.__table__).from_select(
            ["campaign_id", "tenant_id", "customer_id", "email", "batch_no", "status", "token", "attempts",
             "next_attempt_at", "wave_at"], rows)
        .execution_options(preserve_rowcount=True)).rowcount
    # An A/B test: its sample and the held remainder, in the same transaction.
    variants.assign_sample(campaign, count)
    campaign.recipients_count = count
    campaign.batches_count = -(-count // BATCH_SIZE)
    campaign.snapshot_at = utcnow()
    db.session.commit()
    return count


def start_delivery(campaign_id: int) -> int:
    """Snapshot the recipients (once) and enqueue every batch that has work."""
    snapshot_recipients(campaign_id)
    campaign = db.session.get(EmailCampaign, campaign_id)
    if campaign is None or campaign.status != "sending":
        return 0
    batches = batches_with_work(campaign_id)
    for batch_no in batches:
        enqueue_batch(campaign_id, batch_no)
    if campaign.local_send_time:
        waves.enqueue_waves(campaign_id)
    if campaign.ab_test_ends_at is not None and campaign.ab_winner is None:
        enqueue_winner(campaign_id, campaign.ab_test_ends_at)
    finish_if_done(campaign_id)
    return len(batches)


def cancel_campaign(tenant_id: int, campaign_id: int) -> EmailCampaign:
    """Stop a scheduled or sending campaign: recipients not yet sent are skipped."""
    campaign = get_campaign(tenant_id, campaign_id)
    if campaign.status not in ("scheduled", "sending"):
        raise Conflict(f"a {campaign.status} campaign cannot be cancelled")
    result = db.session.execute(
        update(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign.id,
                                        CampaignRecipient.status.in_(("pending", "held")))
        .values(status="skipped", error="campaign cancelled").execution_options(synchronize_session=False))
    campaign.skipped_count = (campaign.skipped_count or 0) + result.rowcount
    campaign.status = "cancelled"
    campaign.finished_at = utcnow()
    db.session.commit()
    return campaign


# --- progress ---------------------------------------------------------------------------

def progress(campaign: EmailCampaign) -> dict[str, Any]:
    """Sent, failed, skipped and remaining, from the counters (no scan of recipients), and
    while sending, the seconds left: what remains at the pace so far, never faster than the
    tenant's sending rate (None before the first message or when nothing remains)."""
    done = (campaign.sent_count or 0) + (campaign.failed_count or 0) + (campaign.skipped_count or 0)
    total = campaign.recipients_count or 0
    remaining = max(total - done, 0)
    seconds_left = None
    since = campaign.snapshot_at or campaign.started_at
    # A local-time campaign waiting for its later waves, or an A/B test's remainder waiting
    # for the winner, is not slow: no estimate then.
    if campaign.status == "sending" and remaining and done and since is not None \
            and not waves.future_waves(campaign) and not variants.testing(campaign):
        pace = done / max((utcnow() - since).total_seconds(), 1.0)
        rate = db.session.get(Tenant, campaign.tenant_id).send_rate_per_second
        seconds_left = remaining / (min(pace, rate) if rate > 0 else pace)
    return {"recipients": total, "sent": campaign.sent_count or 0, "failed": campaign.failed_count or 0,
            "skipped": campaign.skipped_count or 0, "remaining": remaining, "seconds_left": seconds_left,
            "percent": int(100 * done / total) if total else (100 if campaign.status == "sent" else 0)}


def segment_audience(tenant_id: int, segment_id: int) -> int:
    """How many members of the segment can receive email right now."""
    return db.session.scalar(
        select(func.count()).select_from(CustomerSegmentMember)
        .join(Customer, Customer.id == CustomerSegmentMember.customer_id)
        .where(CustomerSegmentMember.segment_id == segment_id, Customer.tenant_id == tenant_id,
               Customer.is_reachable)) or 0
