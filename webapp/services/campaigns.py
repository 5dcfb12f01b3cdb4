"""Campaigns: drafts, scheduling, the send snapshot, cancel, preview, test sends, unsubscribe."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import Select, func, insert, literal, select, update

from webapp.extensions import db
from webapp.infra.errors import Conflict, NotFound, ValidationFailed
from webapp.infra.pagination import Page, keyset_by_id
from webapp.infra.types import utcnow
from webapp.infra.validation import utc_moment
from webapp.mail.compose import Envelope, Personal, compose, compose_many, customer_context, tenant_context
from webapp.mail.templating import RenderFailed, TemplateRejected, check_template
from webapp.mail.transport import open_transport
from webapp.models import (
    CampaignRecipient,
    Customer,
    CustomerSegmentMember,
    EmailCampaign,
    Tenant,
)
from webapp.services.sending_domains import check_from_address
from webapp.services.tenants import normalise_email
from webapp.services.tracking import instrumenters

EDITABLE = ("draft", "scheduled")
BATCH_SIZE = 250
TEXT_FIELDS = ("name", "subject", "preheader", "from_name", "reply_to", "from_email", "html_content",
               "text_content", "segment_id", "utm_source", "utm_medium", "utm_campaign")
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign")


# --- validation -------------------------------------------------------------------------

def _no_line_breaks(field: str, value: str | None) -> None:
    if value and ("\r" in value or "\n" in value):
        raise ValidationFailed(field, "must not contain line breaks")


def _template(field: str, source: str | None, *, html: bool) -> None:
    if source is None:
        return
    try:
        check_template(source, html=html)
    except TemplateRejected as exc:
        raise ValidationFailed(field, str(exc)) from None


def _validate(tenant_id: int, values: dict[str, Any], *, check_sender: bool = True) -> dict[str, Any]:
    out = dict(values)
    for field in ("name", "subject"):
        if field in out and not (out[field] or "").strip():
            raise ValidationFailed(field, "must not be empty")
    for field in ("subject", "preheader", "from_name", "reply_to", "from_email", "name", *UTM_FIELDS):
        _no_line_breaks(field, out.get(field))
    for field in UTM_FIELDS:
        if field in out:
            out[field] = (out[field] or "").strip() or None
            if out[field] and len(out[field]) > (200 if field == "utm_campaign" else 100):
                raise ValidationFailed(field, "is too long")
    for field in ("from_email", "reply_to"):
        if out.get(field):
            out[field] = normalise_email(out[field], field)
    if out.get("from_email") and check_sender:
        check_from_address(tenant_id, out["from_email"], "from_email")
    _template("subject", out.get("subject"), html=False)
    _template("preheader", out.get("preheader"), html=False)
    _template("html_content", out.get("html_content"), html=True)
    _template("text_content", out.get("text_content"), html=False)
    if "html_content" in out and not (out["html_content"] or "").strip():
        raise ValidationFailed("html_content", "must not be empty")
    if out.get("segment_id") is not None:
        from webapp.services.segments import get_segment

        try:
            get_segment(tenant_id, out["segment_id"])
        except NotFound:
            raise ValidationFailed("segment_id", "no such segment") from None
    return out


# --- CRUD -------------------------------------------------------------------------------

def tenant_campaigns(tenant_id: int) -> Select:
    """The tenant's campaigns: workflow steps' hidden campaigns are not campaigns to the
    marketer (not listed, not on the dashboard, a 404 by id)."""
    return select(EmailCampaign).where(EmailCampaign.tenant_id == tenant_id, EmailCampaign.kind == "campaign")


def get_campaign(tenant_id: int, campaign_id: int) -> EmailCampaign:
    campaign = db.session.scalar(tenant_campaigns(tenant_id).where(EmailCampaign.id == campaign_id))
    if campaign is None:
        raise NotFound("campaign not found")
    return campaign


def create_campaign(tenant_id: int, data: dict[str, Any]) -> EmailCampaign:
    """A draft; templates are checked now so a broken one never reaches a send."""
    values = _validate(tenant_id, {k: data.get(k) for k in TEXT_FIELDS if k in data})
    for field in ("name", "subject", "html_content"):
        if not values.get(field):
            raise ValidationFailed(field, "is required")
    campaign = EmailCampaign(tenant_id=tenant_id, status="draft", **values)
    db.session.add(campaign)
    db.session.commit()
    return campaign


def update_campaign(tenant_id: int, campaign_id: int, changes: dict[str, Any]) -> EmailCampaign:
    campaign = get_campaign(tenant_id, campaign_id)
    if campaign.status not in EDITABLE:
        raise Conflict(f"a {campaign.status} campaign cannot be edited")
    values = _validate(tenant_id, {k: v for k, v in changes.items() if k in TEXT_FIELDS})
    for key, value in values.items():
        setattr(campaign, key, value)
    db.session.commit()
    return campaign


def delete_campaign(tenant_id: int, campaign_id: int) -> None:
    campaign = get_campaign(tenant_id, campaign_id)
    # Drafts, and cancelled campaigns (whatever they sent stays on customers' timelines).
    if campaign.status not in ("draft", "cancelled"):
        hint = "; cancel it first" if campaign.status in ("scheduled", "sending") else ""
        raise Conflict(f"a {campaign.status} campaign cannot be deleted{hint}")
    db.session.delete(campaign)
    db.session.commit()


def campaigns_page(tenant_id: int, *, status: str | None = None, limit: int = 50,
                   cursor: str | None = None) -> Page:
    stmt = tenant_campaigns(tenant_id)
    if status:
        stmt = stmt.where(EmailCampaign.status == status)
    return keyset_by_id(stmt, EmailCampaign.id, limit=limit, cursor=cursor)


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
    if campaign.status not in EDITABLE:
        raise Conflict(f"a {campaign.status} campaign cannot be scheduled")
    _check_sendable(campaign, db.session.get(Tenant, tenant_id))
    campaign.status = "scheduled"
    campaign.scheduled_at = send_at
    db.session.commit()
    from webapp.tasks.delivery import enqueue_start_at

    enqueue_start_at(campaign.id, send_at)
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
    from webapp.tasks.delivery import enqueue_start

    enqueue_start(campaign.id)
    return campaign


def _begin_sending(campaign_id: int) -> bool:
    result = db.session.execute(
        update(EmailCampaign).where(EmailCampaign.id == campaign_id, EmailCampaign.status.in_(EDITABLE))
        .values(status="sending", started_at=utcnow(), last_error=None)
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
    from webapp.services.segments import calculate_segment

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
    number = func.row_number().over(order_by=Customer.id)
    rows = (select(literal(campaign.id), literal(campaign.tenant_id), Customer.id, Customer.email,
                   ((number - 1) // BATCH_SIZE).label("batch_no"), literal("pending"), _random_token(),
                   literal(0))
            .join(CustomerSegmentMember, CustomerSegmentMember.customer_id == Customer.id)
            .where(CustomerSegmentMember.segment_id == campaign.segment_id,
                   Customer.tenant_id == campaign.tenant_id, Customer.email_status == "subscribed"))
    count = db.session.execute(
        insert(CampaignRecipient.__table__).from_select(
            ["campaign_id", "tenant_id", "customer_id", "email", "batch_no", "status", "token", "attempts"], rows)
        .execution_options(preserve_rowcount=True)).rowcount
    campaign.recipients_count = count
    campaign.batches_count = -(-count // BATCH_SIZE)
    campaign.snapshot_at = utcnow()
    db.session.commit()
    return count


def cancel_campaign(tenant_id: int, campaign_id: int) -> EmailCampaign:
    """Stop a scheduled or sending campaign: recipients not yet sent are skipped."""
    campaign = get_campaign(tenant_id, campaign_id)
    if campaign.status not in ("scheduled", "sending"):
        raise Conflict(f"a {campaign.status} campaign cannot be cancelled")
    result = db.session.execute(
        update(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign.id,
                                        CampaignRecipient.status == "pending")
        .values(status="skipped", error="campaign cancelled").execution_options(synchronize_session=False))
    campaign.skipped_count = (campaign.skipped_count or 0) + result.rowcount
    campaign.status = "cancelled"
    campaign.finished_at = utcnow()
    db.session.commit()
    return campaign


# --- rendering --------------------------------------------------------------------------

def sender_of(campaign: EmailCampaign, tenant: Tenant) -> tuple[str | None, str]:
    return (campaign.from_name or tenant.sender_name or tenant.name,
            campaign.from_email or tenant.sender_email or f"no-reply@{tenant.slug}.invalid")


def unsubscribe_url(token: str, base_url: str | None = None) -> str:
    return f"{base_url or current_app.config['BASE_URL']}/u/{token}"


def render_for(campaign: EmailCampaign, tenant: Tenant, customer: Customer | None, *, to: str,
               token: str, test: bool = False, extra: dict[str, Any] | None = None, track: bool = False):
    """The composed message; `track` (real deliveries only, never previews or test sends)
    rewrites links and adds the open pixel for this recipient's token."""
    person = _Recipients(campaign, tenant, test=test, track=track).personal(customer, to, token, extra)
    return compose(context=person.context, envelope=person.envelope, instrument=person.instrument,
                   **_message_source(campaign, tenant))


def render_many(campaign: EmailCampaign, tenant: Tenant, recipients: list[tuple[Any, str, str]]) -> list:
    """render_for(..., track=True) for a group of deliveries, (customer, to, token) each,
    composed together; a RenderFailed stands in for a message that could not be made."""
    shared = _Recipients(campaign, tenant, track=True)
    return compose_many([shared.personal(customer, to, token) for customer, to, token in recipients],
                        **_message_source(campaign, tenant))


def _message_source(campaign: EmailCampaign, tenant: Tenant) -> dict[str, Any]:
    """What compose() and compose_many() make every recipient's message from."""
    return {"subject": campaign.subject, "html": campaign.html_content, "text": campaign.text_content,
            "preheader": campaign.preheader, "postal_address": tenant.postal_address or ""}


class _Recipients:
    """What every recipient's part of a campaign's message is made from, read once."""

    def __init__(self, campaign: EmailCampaign, tenant: Tenant, *, test: bool = False, track: bool = False):
        self.from_name, self.from_email = sender_of(campaign, tenant)
        self.reply_to, self.test = campaign.reply_to, test
        self.base_url = current_app.config["BASE_URL"]
        self.mailto = current_app.config.get("UNSUBSCRIBE_MAILTO")
        self.tenant = tenant_context(tenant)
        self.instrumenter = instrumenters(campaign) if track else None

    def personal(self, customer: Any, to: str, token: str, extra: dict[str, Any] | None = None) -> Personal:
        envelope = Envelope(from_name=self.from_name, from_email=self.from_email, reply_to=self.reply_to, to=to,
                            unsubscribe_url=unsubscribe_url(token, self.base_url), unsubscribe_mailto=self.mailto,
                            test=self.test)
        context = {"customer": customer_context(customer) if customer is not None else _sample_customer(to),
                   "tenant": dict(self.tenant), "view_in_browser_url": f"{self.base_url}/v/{token}", **(extra or {})}
        return Personal(context, envelope, self.instrumenter(token) if self.instrumenter else None)


def _sample_customer(email: str) -> dict[str, Any]:
    return {"email": email, "first_name": None, "last_name": None, "tags": [], "attributes": {},
            "total_spent": 0.0, "orders_count": 0}


def preview_campaign(tenant_id: int, campaign_id: int, customer_id: int | None = None) -> dict[str, str]:
    """Subject, HTML and text as `customer_id` (or a nameless sample customer) would get them."""
    return _preview(tenant_id, get_campaign(tenant_id, campaign_id), customer_id)


def preview_content(tenant_id: int, data: dict[str, Any], customer_id: int | None = None) -> dict[str, str]:
    """Like preview_campaign, for content not saved yet (the editor's live preview): it is
    checked as a save would check it, and nothing is stored."""
    # The From domain is the save's and the send's to check: the preview shows the content.
    values = _validate(tenant_id, {k: data.get(k) for k in TEXT_FIELDS if k in data and k != "segment_id"},
                       check_sender=False)
    return _preview(tenant_id, EmailCampaign(tenant_id=tenant_id, **values), customer_id)


def _preview(tenant_id: int, campaign: EmailCampaign, customer_id: int | None) -> dict[str, str]:
    from webapp.services.customers import get_customer

    tenant = db.session.get(Tenant, tenant_id)
    customer = get_customer(tenant_id, customer_id) if customer_id is not None else None
    try:
        composed = render_for(campaign, tenant, customer, to=customer.email if customer else "preview@example.com",
                              token="preview")
    except RenderFailed as exc:
        raise ValidationFailed("html_content", str(exc)) from None
    return {"subject": composed.subject, "html": composed.html, "text": composed.text}


def send_test(tenant_id: int, campaign_id: int, emails: list[str], customer_id: int | None = None) -> list[dict]:
    """Send a copy marked [TEST] to each address now: no recipient rows, no stats."""
    from webapp.services.customers import get_customer

    if not emails:
        raise ValidationFailed("emails", "give at least one address")
    if len(emails) > 10:
        raise ValidationFailed("emails", "at most 10 test addresses")
    addresses = [normalise_email(e, f"emails[{i}]") for i, e in enumerate(emails)]
    campaign = get_campaign(tenant_id, campaign_id)
    tenant = db.session.get(Tenant, tenant_id)
    if campaign.from_email or tenant.sender_email:
        check_from_address(tenant_id, campaign.from_email or tenant.sender_email, "from_email")
    customer = get_customer(tenant_id, customer_id) if customer_id is not None else None
    results = []
    with open_transport(current_app.config["MAIL_URL"], tenant_id=tenant_id) as transport:
        for address in addresses:
            try:
                composed = render_for(campaign, tenant, customer, to=address, token="test", test=True)
            except RenderFailed as exc:
                raise ValidationFailed("html_content", str(exc)) from None
            # The outbox lists the subject as the inbox shows it, [TEST] mark included.
            outcome = transport.send(sender_of(campaign, tenant)[1], address, composed.message.as_bytes(),
                                     commit=_commit_true, subject=f"[TEST] {composed.subject}",
                                     message_id=composed.message_id)
            results.append({"email": address, "status": outcome.status, "detail": outcome.detail})
    return results


def _commit_true() -> bool:
    db.session.commit()
    return True


# --- unsubscribe ------------------------------------------------------------------------

def recipient_by_token(token: str) -> CampaignRecipient | None:
    if not token or len(token) > 64:
        return None
    return db.session.scalar(select(CampaignRecipient).where(CampaignRecipient.token == token))


def unsubscribe(token: str) -> CampaignRecipient:
    """The recipient's customer stops getting marketing mail; repeated calls change nothing."""
    from webapp.services.activity_log import log_activity

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
        log_activity(customer, "unsubscribed", {"campaign_id": campaign.id, "campaign_name": campaign.name})
        db.session.execute(update(EmailCampaign).where(EmailCampaign.id == campaign.id).values(
            unsubscribed_count=EmailCampaign.unsubscribed_count + 1).execution_options(synchronize_session=False))
        from webapp.services.segments import refresh_customer_segments

        db.session.flush()
        refresh_customer_segments(customer.tenant_id, customer.id)
    db.session.commit()
    return recipient


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
    if campaign.status == "sending" and remaining and done and since is not None:
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
               Customer.email_status == "subscribed")) or 0


