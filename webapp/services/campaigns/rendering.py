"""Campaign rendering: the sender, unsubscribe links, each recipient's message, previews, test sends."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select, update

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.infra.types import utcnow
from webapp.mail.compose import (
    Attachment,
    Envelope,
    Personal,
    compile_message,
    compose,
    compose_many,
    customer_context,
    feedback_id_header,
    list_id_header,
    tenant_context,
)
from webapp.mail.templating import RenderFailed
from webapp.mail.transport import open_transport
from webapp.models import Customer, EmailCampaign, Tenant, Topic
from webapp.services.campaigns import variants
from webapp.services.campaigns.drafts import TEXT_FIELDS, _validate, get_campaign
from webapp.services.customers import get_customer
from webapp.services.sending_domains import check_from_address
from webapp.services.tenants import normalise_email
from webapp.services.tracking import instrumenters
from webapp.services.upcoming_events import events_by_id, next_events

# The event card's references (webapp/mail/design/blocks.py): the next event, or one by id.
SAMPLE_EVENT = {"id": "sample", "name": "Your next event", "when": "Sat 12 Dec 2026, 19:30", "venue": "The venue",
                "url": "https://example.com/", "image_url": None}
_NAMED_EVENT = re.compile(r'events\[("(?:[^"\\]|\\.)*")\]')


def sender_of(campaign: EmailCampaign, tenant: Tenant) -> tuple[str | None, str]:
    return (campaign.from_name or tenant.sender_name or tenant.name,
            campaign.from_email or tenant.sender_email or f"no-reply@{tenant.slug}.invalid")


def unsubscribe_url(token: str, base_url: str | None = None) -> str:
    return f"{base_url or current_app.config['BASE_URL']}/u/{token}"


def render_for(campaign: EmailCampaign, tenant: Tenant, customer: Customer | None, *, to: str,
               token: str, test: bool = False, extra: dict[str, Any] | None = None, track: bool = False,
               attachments: tuple[Attachment, ...] = ()):
    """The composed message; `track` (real deliveries only, never previews or test sends)
    rewrites links and adds the open pixel for this recipient's token; `attachments` ride
    beside its text and HTML (a workflow email's calendar file)."""
    person = _Recipients(campaign, tenant, test=test, track=track).personal(customer, to, token, extra)
    if attachments:
        person.envelope.attachments = attachments
    return compose(context=person.context, envelope=person.envelope, instrument=person.instrument,
                   **_message_source(campaign, tenant))


def batch_renderer(campaign: EmailCampaign, tenant: Tenant,
                   customer_ids: list[int]) -> Callable[[list[tuple[Any, str, str]]], list]:
    """render_for(..., track=True) for the groups of deliveries of one batch, (customer, to,
    token) each, composed together (a RenderFailed stands in for a message that could not be
    made); what their messages share (sender, tracking, the event cards of the batch's
    customers) is read once for all the groups."""
    shared = _Recipients(campaign, tenant, track=True)
    shared.prefetch_events(customer_ids)
    source = _message_source(campaign, tenant)
    # CSS inlined, footer, preheader and pixel placed once (cached per process for the campaign's
    # batches); None leaves every recipient to the per-recipient path.
    compiled = compile_message(**source)

    def render(recipients: list[tuple[Any, str, str]]) -> list:
        return compose_many([shared.personal(customer, to, token) for customer, to, token in recipients],
                            compiled=compiled, **source)

    return render


def variant_renderer(campaign: EmailCampaign, tenant: Tenant,
                     customer_ids: list[int]) -> Callable[[list[tuple[Any, str, str, int | None]]], list]:
    """batch_renderer for deliveries that carry their A/B variant, (customer, to, token,
    variant) each: every variant's version is made once per batch (on first use), and a row
    outside the test's sample (variant None) gets the winner's."""
    versions = variants.variants_of(campaign.id) if campaign.ab_share_percent is not None else []
    if not versions:
        plain = batch_renderer(campaign, tenant, customer_ids)
        return lambda recipients: plain([r[:3] for r in recipients])
    # Read now, not from the loaded campaign: the remainder is claimable only once the
    # winner is committed, and this runs after the claim.
    winner = db.session.scalar(select(EmailCampaign.ab_winner).where(EmailCampaign.id == campaign.id)) or 0
    renderers: dict[int, Callable] = {}

    def render(recipients: list[tuple[Any, str, str, int | None]]) -> list:
        out: list = [None] * len(recipients)
        groups: dict[int, list[int]] = {}
        for i, recipient in enumerate(recipients):
            groups.setdefault(recipient[3] if recipient[3] is not None else winner, []).append(i)
        for position, indexes in groups.items():
            if position not in renderers:
                renderers[position] = batch_renderer(variants.version_of(campaign, versions[position]), tenant,
                                                     customer_ids)
            messages = renderers[position]([recipients[i][:3] for i in indexes])
            for i, message in zip(indexes, messages, strict=True):
                out[i] = message
        return out

    return render


def _message_source(campaign: EmailCampaign, tenant: Tenant) -> dict[str, Any]:
    """What compose() and compose_many() make every recipient's message from."""
    return {"subject": campaign.subject, "html": campaign.html_content, "text": campaign.text_content,
            "preheader": campaign.preheader, "postal_address": tenant.postal_address or "",
            # A design compiles to HTML with its styles inline already, and the media queries
            # that stack its columns on phones must stay in <style>.
            "inline_css": campaign.design is None}


class _Recipients:
    """What every recipient's part of a campaign's message is made from, read once."""

    def __init__(self, campaign: EmailCampaign, tenant: Tenant, *, test: bool = False, track: bool = False):
        self.from_name, self.from_email = sender_of(campaign, tenant)
        self.reply_to, self.test = campaign.reply_to, test
        self.base_url = current_app.config["BASE_URL"]
        self.mailto = current_app.config.get("UNSUBSCRIBE_MAILTO")
        self.tenant = tenant_context(tenant)
        self.instrumenter = instrumenters(campaign) if track else None
        host = urlsplit(self.base_url).hostname or "localhost"
        topic = db.session.get(Topic, campaign.topic_id) if campaign.topic_id else None
        self.list_id = list_id_header(tenant.name, tenant.slug, host,
                                      (topic.id, topic.name) if topic is not None else None)
        # Real deliveries only: a preview or [TEST] copy is not part of the campaign's feedback.
        self.track = track
        self.feedback_id = feedback_id_header(campaign.id or 0, campaign.kind or "campaign", tenant.id, host) \
            if track else None
        # Event cards are filled per recipient from purchases, only when the email shows one.
        html = campaign.html_content or ""
        self.tenant_id, self.timezone = tenant.id, tenant.timezone
        self.wants_next_event = "next_event" in html
        named = {json.loads(m) for m in _NAMED_EVENT.findall(html)}
        self.events = events_by_id(tenant.id, named, tenant.timezone) if named else {}
        self.upcoming: dict[int, dict[str, Any]] | None = None

    def prefetch_events(self, customer_ids: list[int]) -> None:
        if self.wants_next_event:
            self.upcoming = next_events(self.tenant_id, customer_ids, self.timezone)

    def personal(self, customer: Any, to: str, token: str, extra: dict[str, Any] | None = None) -> Personal:
        envelope = Envelope(from_name=self.from_name, from_email=self.from_email, reply_to=self.reply_to, to=to,
                            unsubscribe_url=unsubscribe_url(token, self.base_url), unsubscribe_mailto=self.mailto,
                            test=self.test, list_id=self.list_id, feedback_id=self.feedback_id,
                            message_token=token if self.track else None)
        context = {"customer": customer_context(customer) if customer is not None else _sample_customer(to),
                   "tenant": dict(self.tenant), "view_in_browser_url": f"{self.base_url}/v/{token}",
                   "events": self.events, **(extra or {})}
        if self.wants_next_event:
            customer_id = getattr(customer, "id", None)
            if self.upcoming is None and customer_id is not None:
                self.prefetch_events([customer_id])
            # A preview without a customer shows what the card looks like.
            context["next_event"] = (self.upcoming or {}).get(customer_id) if customer is not None else SAMPLE_EVENT
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


def _preview(tenant_id: int, campaign: EmailCampaign, customer_id: int | None,
             extra: dict[str, Any] | None = None) -> dict[str, str]:
    tenant = db.session.get(Tenant, tenant_id)
    customer = get_customer(tenant_id, customer_id) if customer_id is not None else None
    try:
        composed = render_for(campaign, tenant, customer, to=customer.email if customer else "preview@example.com",
                              token="preview", extra=extra)
    except RenderFailed as exc:
        raise ValidationFailed("html_content", str(exc)) from None
    return {"subject": composed.subject, "html": composed.html, "text": composed.text}


def send_test(tenant_id: int, campaign_id: int, emails: list[str], customer_id: int | None = None) -> list[dict]:
    """Send a copy marked [TEST] to each address now: no recipient rows, no stats."""
    return send_test_of(tenant_id, get_campaign(tenant_id, campaign_id), emails, customer_id)


def preview_email(tenant_id: int, campaign: EmailCampaign, customer_id: int | None = None,
                  extra: dict[str, Any] | None = None) -> dict[str, str]:
    """preview_campaign for a campaign already loaded (a workflow step's hidden one)."""
    return _preview(tenant_id, campaign, customer_id, extra)


def send_test_of(tenant_id: int, campaign: EmailCampaign, emails: list[str], customer_id: int | None = None,
                 extra: dict[str, Any] | None = None) -> list[dict]:
    """send_test for a campaign already loaded (a workflow step's hidden one)."""
    if not emails:
        raise ValidationFailed("emails", "give at least one address")
    if len(emails) > 10:
        raise ValidationFailed("emails", "at most 10 test addresses")
    addresses = [normalise_email(e, f"emails[{i}]") for i, e in enumerate(emails)]
    tenant = db.session.get(Tenant, tenant_id)
    if campaign.from_email or tenant.sender_email:
        check_from_address(tenant_id, campaign.from_email or tenant.sender_email, "from_email")
    customer = get_customer(tenant_id, customer_id) if customer_id is not None else None
    results = []
    with open_transport(current_app.config["MAIL_URL"], tenant_id=tenant_id) as transport:
        for address in addresses:
            try:
                composed = render_for(campaign, tenant, customer, to=address, token="test", test=True, extra=extra)
            except RenderFailed as exc:
                raise ValidationFailed("html_content", str(exc)) from None
            # The outbox lists the subject as the inbox shows it, [TEST] mark included.
            outcome = transport.send(sender_of(campaign, tenant)[1], address, composed.message.as_bytes(),
                                     commit=_commit_true, subject=f"[TEST] {composed.subject}",
                                     message_id=composed.message_id)
            results.append({"email": address, "status": outcome.status, "detail": outcome.detail})
    if any(r["status"] == "sent" for r in results):
        # For the pre-send checklist; updated_at stays the last edit's.
        db.session.execute(update(EmailCampaign).where(EmailCampaign.id == campaign.id).values(
            last_test_sent_at=utcnow(), updated_at=EmailCampaign.updated_at).execution_options(
            synchronize_session=False))
        db.session.commit()
    return results


def _commit_true() -> bool:
    db.session.commit()
    return True
