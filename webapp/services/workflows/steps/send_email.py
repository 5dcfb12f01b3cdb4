"""send_email: the campaign machinery, one recipient row per enrollment. The step's email
is a hidden campaign (kind "workflow"), so sends, opens and clicks count as a campaign's."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import select, update

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.infra.sql import insert_ignoring_duplicates
from webapp.mail.compose import Attachment
from webapp.mail.design import brand_of, default_design, validate_design
from webapp.mail.templating import RenderFailed, check_template_field
from webapp.models import AutomationEnrollment, AutomationStep, CampaignRecipient, Customer, EmailCampaign, Tenant
from webapp.services.campaigns.frequency_cap import capped
from webapp.services.campaigns.marks import bump_counters, mark_sent, revert_sent, settle_sent
from webapp.services.campaigns.rendering import render_for, sender_of
from webapp.services.enrollment.waits import Outcome
from webapp.services.events.calendar import CONTENT_TYPE, FILENAME, calendar_url, event_calendar, payload_event
from webapp.services.merge_tags import readable
from webapp.services.workflows.quiet_hours import quiet_hold
from webapp.services.workflows.steps.base import FormField, FormValues, RunContext, StepFailed, StepType, Strict


class SendEmailStep(Strict):
    subject: Annotated[str, Field(min_length=1, max_length=300)]
    # HTML, or the builder's design (compiled into content when the step is saved).
    content: Annotated[str, Field(min_length=1, max_length=500_000)] | None = None
    design: dict[str, Any] | None = None
    preheader: Annotated[str, Field(max_length=300)] | None = None
    from_name: Annotated[str, Field(max_length=200)] | None = None
    from_email: Annotated[str, Field(max_length=320)] | None = None
    reply_to: Annotated[str, Field(max_length=320)] | None = None
    # An order confirmation, a ticket, a password: sent whatever the frequency cap and quiet
    # hours say, and not counted towards the cap.
    transactional: bool | None = None
    # When the trigger names an event (a reminder, a change, a purchase): its .ics rides along.
    attach_calendar: bool | None = None


SENDER_FIELDS = ("preheader", "from_name", "from_email", "reply_to")
# The subject "Add step" puts in: a config needs one, and the switch-on guard refuses this
# one, so a new email step never goes out before someone has written it. The step's page
# shows an empty Subject field for it.
PLACEHOLDER_SUBJECT = "(no subject yet)"


def check(out: dict[str, Any], *, allowlist: str | None, step_ids: set[int] | None) -> dict[str, Any]:
    if out.get("design") is not None:
        out["design"] = validate_design(out["design"], "config.design")
    elif not out.get("content"):
        raise ValidationFailed("config.content", "is required (or give a design)")
    for field, html in (("subject", False), ("preheader", False), ("content", True)):
        check_template_field(f"config.{field}", out.get(field), html=html)
    for field in ("subject", *SENDER_FIELDS):
        if "\r" in (out.get(field) or "") or "\n" in (out.get(field) or ""):
            raise ValidationFailed(f"config.{field}", "must not contain line breaks")
    return out


def describe(config: dict[str, Any]) -> str:
    if config.get("subject") == PLACEHOLDER_SUBJECT:
        return "An email not written yet"
    return f"Send “{readable(config.get('subject', ''))}”"


def summary(config: dict[str, Any]) -> list[tuple[str, str]]:
    """The lines the builder shows under the step's description (its page edits it)."""
    lines = []
    if config.get("preheader"):
        lines.append(("Preheader", readable(config["preheader"])))
    if config.get("from_email") or config.get("from_name"):
        lines.append(("From", " ".join(filter(None, (config.get("from_name"),
                                                     f"<{config['from_email']}>" if config.get("from_email")
                                                     else None)))))
    lines.append(("Content", "built with blocks" if config.get("design") is not None else "HTML"))
    if config.get("transactional"):
        lines.append(("Kind", "Transactional: not capped, not held for quiet hours"))
    if config.get("attach_calendar"):
        lines.append(("Calendar", "The event's calendar file (.ics) is attached"))
    return lines


def from_form(form: FormValues) -> dict[str, Any]:
    """The step page's fields: the subject, the sender fields given, and the builder's design
    (JSON) or, without one, the HTML."""
    config: dict[str, Any] = {"subject": form.get("subject", "")}
    if (form.get("design") or "").strip():
        config["design"] = form.json("design", "config.design")
    else:
        config["content"] = form.get("content", "")
    for name in SENDER_FIELDS:
        if (form.get(name) or "").strip():
            config[name] = form.get(name)
    if form.get("transactional") in ("y", "on", "true", "1"):
        config["transactional"] = True
    if form.get("attach_calendar") in ("y", "on", "true", "1"):
        config["attach_calendar"] = True
    return config


def starter(tenant: Tenant) -> dict[str, Any]:
    """A new email step: the brand kit's starting design and a subject still to write."""
    return {"subject": PLACEHOLDER_SUBJECT, "design": default_design(brand_of(tenant.brand))}


def _random_token() -> str:
    return uuid.uuid4().hex


def _recipient(campaign_id: int, enrollment: AutomationEnrollment, email: str) -> CampaignRecipient:
    created = db.session.execute(insert_ignoring_duplicates(CampaignRecipient.__table__).values(
        campaign_id=campaign_id, tenant_id=enrollment.tenant_id, customer_id=enrollment.customer_id, email=email,
        batch_no=0, status="pending", token=_random_token(), attempts=0, enrollment_id=enrollment.id)).rowcount
    if created:
        bump_counters(campaign_id, recipients_count=1)
    return db.session.scalar(select(CampaignRecipient).where(
        CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.customer_id == enrollment.customer_id,
        CampaignRecipient.enrollment_id == enrollment.id).execution_options(populate_existing=True))


def _skip(campaign: EmailCampaign, enrollment: AutomationEnrollment, customer: Customer,
          reason: str | None = None) -> Outcome:
    recipient = _recipient(campaign.id, enrollment, customer.email)
    if recipient.status == "sent":
        return Outcome("done", f"already sent ({recipient.message_id}); not sent again")
    reason = reason or f"customer is {customer.email_status}"
    if recipient.status != "skipped":
        db.session.execute(update(CampaignRecipient).where(CampaignRecipient.id == recipient.id)
                           .values(status="skipped", error=reason))
        bump_counters(campaign.id, skipped_count=1)
    return Outcome("skipped", f"not sent: {'the ' if reason.startswith('customer') else ''}{reason}")


# Messages the customer asked for by name: a waitlist offer goes to someone who joined the
# waitlist without subscribing to marketing (or after unsubscribing). Bounced and complained
# addresses are never written to.
REQUESTED_BY_CUSTOMER = frozenset({"waitlist_offer"})


def _asked_for(enrollment: AutomationEnrollment, customer: Customer) -> bool:
    return enrollment.trigger_type in REQUESTED_BY_CUSTOMER and customer.email_status == "unsubscribed"


def _send_window(runner: RunContext, enrollment: AutomationEnrollment, campaign: EmailCampaign,
                 customer: Customer, config: dict) -> Outcome | None:
    """A marketing email in quiet hours waits (the enrollment runs again at their end); one
    to a person at the frequency cap is skipped with the reason and the enrollment goes on.
    Transactional emails pass, and those the customer asked for (an offer that expires in an
    hour must not wait for the morning); None: send now."""
    if config.get("transactional") or enrollment.trigger_type in REQUESTED_BY_CUSTOMER:
        return None
    tenant = runner.tenant(enrollment.tenant_id)
    hold = quiet_hold(tenant, customer.timezone, runner.now)
    if hold is not None:
        return Outcome("waiting", hold[1], until=hold[0])
    reason = capped(tenant, customer.id, runner.now)
    return _skip(campaign, enrollment, customer, reason) if reason else None


def handle(runner: RunContext, enrollment: AutomationEnrollment, step: AutomationStep, config: dict) -> Outcome:

    campaign = db.session.get(EmailCampaign, step.campaign_id) if step.campaign_id else None
    if campaign is None:
        raise StepFailed("the step has no email to send (its campaign is missing)", retry=False)
    customer = db.session.get(Customer, enrollment.customer_id)
    if customer.email_status != "subscribed" and not _asked_for(enrollment, customer):
        return _skip(campaign, enrollment, customer)
    held_or_capped = _send_window(runner, enrollment, campaign, customer, config)
    if held_or_capped is not None:
        return held_or_capped
    recipient = _recipient(campaign.id, enrollment, customer.email)
    if recipient.status == "sent":
        return Outcome("done", f"already sent ({recipient.message_id}); not sent again")
    runner.allowance(enrollment.tenant_id).wait()
    claim_token = uuid.uuid4().hex
    db.session.execute(update(CampaignRecipient).where(CampaignRecipient.id == recipient.id).values(
        status="sending", claim_token=claim_token, claimed_at=runner.now, attempts=CampaignRecipient.attempts + 1)
        .execution_options(synchronize_session=False))
    db.session.commit()
    tenant = runner.tenant(enrollment.tenant_id)
    trigger, attachments = _event_extras(enrollment, tenant, config)
    try:
        composed = render_for(campaign, tenant, customer, to=recipient.email, token=recipient.token,
                              extra={"trigger": trigger}, track=True, attachments=attachments)
    except RenderFailed as exc:
        _settle(recipient.id, campaign.id, "failed", f"could not render: {exc}")
        raise StepFailed(f"could not render the email: {exc}", retry=False) from None

    def commit() -> bool:
        return bool(mark_sent([(recipient, composed.message_id)], claim_token,
                              {"workflow_id": enrollment.workflow_id, "enrollment_id": enrollment.id}))

    outcome = runner.transport(enrollment.tenant_id).send(
        sender_of(campaign, tenant)[1], recipient.email, composed.message.as_bytes(), commit=commit,
        subject=composed.subject, message_id=composed.message_id)
    settle_sent()
    if outcome.status == "sent":
        return Outcome("done", f"sent “{composed.subject}” ({composed.message_id})")
    return _not_sent(outcome, recipient, campaign, claim_token)


def _event_extras(enrollment: AutomationEnrollment, tenant: Tenant,
                  config: dict) -> tuple[dict[str, Any], tuple[Attachment, ...]]:
    """The trigger as the email reads it and what rides along: when the trigger names one of
    the tenant's events, {{ trigger.event.calendar_url }} links to its .ics, and the step's
    attach_calendar attaches the file as the event is now (a rescheduled date, a bumped
    SEQUENCE)."""
    trigger = dict(enrollment.trigger_payload or {})
    event = payload_event(enrollment.tenant_id, trigger)
    if event is None:
        return trigger, ()
    trigger["event"] = {**trigger["event"], "calendar_url": calendar_url(event)}
    ics = event_calendar(event, tenant) if config.get("attach_calendar") else None
    return trigger, (Attachment(FILENAME, CONTENT_TYPE, ics),) if ics else ()


def _not_sent(outcome: Any, recipient: CampaignRecipient, campaign: EmailCampaign, claim_token: str) -> Outcome:
    """The transport did not send: always a StepFailed, after putting the recipient row right."""
    if outcome.status == "lost":
        raise StepFailed("another worker took this step over")
    revert_sent(recipient, claim_token)  # the server refused after the data: undo the "sent"
    db.session.commit()
    if outcome.status == "permanent":
        _settle(recipient.id, campaign.id, "failed", outcome.detail)
        raise StepFailed(f"the mail server refused the message: {outcome.detail}", retry=False)
    db.session.execute(update(CampaignRecipient).where(CampaignRecipient.id == recipient.id)
                       .values(status="pending", claim_token=None, error=outcome.detail[:2000]))
    db.session.commit()
    raise StepFailed(f"sending failed: {outcome.detail}")


def _settle(recipient_id: int, campaign_id: int, status: str, error: str) -> None:
    db.session.execute(update(CampaignRecipient).where(CampaignRecipient.id == recipient_id)
                       .values(status=status, error=error[:2000], claim_token=None))
    bump_counters(campaign_id, **{f"{status}_count": 1})
    db.session.commit()


STEP = StepType(
    name="send_email", label="Send email", model=SendEmailStep, check=check, describe=describe,
    # What "Add step" puts in place before the marketer edits it: valid, so a half-built
    # workflow never holds an invalid step. `starter` puts the tenant's own brand kit in.
    default_config={"subject": PLACEHOLDER_SUBJECT, "design": default_design(None)}, starter=starter,
    # Edited on a page of its own: the email builder, preview as a customer, test sends.
    form=(FormField("email", "Edit email", summary, kind="page", endpoint="step_email.edit"),),
    from_form=from_form, handle=handle)
