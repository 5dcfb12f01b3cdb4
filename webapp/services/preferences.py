"""The preference centre an unsubscribe link opens: what a person gets (all marketing, and
each topic), what they chose there, and RFC 8058 one-click unsubscribes.

Every change leaves a consent record (services/consent.py) with the request's address and
browser and the wording the person saw, a timeline activity, refreshed segments and the
workflow triggers; an unsubscribe counts on the campaign it came from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import update

from webapp.extensions import db
from webapp.infra.errors import NotFound
from webapp.infra.types import utcnow
from webapp.models import CampaignRecipient, Customer, EmailCampaign, Tenant, Topic
from webapp.services.campaigns.unsubscribe import recipient_by_token, unsubscribe
from webapp.services.changes import customer_changed
from webapp.services.consent import Evidence, email_status_changed, set_topic_choices, tenant_topics, topic_states

ONE_CLICK_WORDING = "List-Unsubscribe one-click (RFC 8058) from the email's unsubscribe header or button"


@dataclass
class Preferences:
    """What the preference centre shows for one unsubscribe link."""

    recipient: CampaignRecipient
    customer: Customer
    tenant: Tenant
    campaign: EmailCampaign
    topics: list[Topic]
    states: dict[int, bool]  # topic id -> gets it

    @property
    def subscribed(self) -> bool:
        return self.customer.email_status == "subscribed"

    @property
    def can_resubscribe(self) -> bool:
        # Only a person's own "no" can be undone here: a bounced address is the mailbox's
        # verdict, and a complaint asks for no more mail.
        return self.customer.email_status == "unsubscribed"

    @property
    def campaign_topic(self) -> Topic | None:
        return next((t for t in self.topics if t.id == self.campaign.topic_id), None)


def mask_email(email: str) -> str:
    """a***@e***.com: enough for the person to recognise their address, not for a stranger
    who was forwarded the email to learn it."""
    local, _, domain = (email or "").partition("@")
    host, dot, tld = domain.rpartition(".")
    if not dot:
        host, tld = domain, ""
    return f"{local[:1]}***@{host[:1]}***{'.' + tld if tld else ''}"


def preferences_for(token: str) -> Preferences:
    """The preference centre of the link's customer; NotFound for a bad or stale token."""
    recipient = recipient_by_token(token)
    customer = db.session.get(Customer, recipient.customer_id) if recipient is not None else None
    if recipient is None or customer is None:
        raise NotFound("this unsubscribe link is not valid")
    return Preferences(recipient=recipient, customer=customer, tenant=db.session.get(Tenant, recipient.tenant_id),
                       campaign=db.session.get(EmailCampaign, recipient.campaign_id),
                       topics=tenant_topics(recipient.tenant_id),
                       states=topic_states(recipient.tenant_id, customer.id))


def _count_unsubscribe(campaign_id: int) -> None:
    db.session.execute(update(EmailCampaign).where(EmailCampaign.id == campaign_id).values(
        unsubscribed_count=EmailCampaign.unsubscribed_count + 1).execution_options(synchronize_session=False))


def _resubscribe(prefs: Preferences, evidence: Evidence) -> bool:
    """unsubscribed -> subscribed by a conditional UPDATE (two clicks change it once)."""
    changed = db.session.execute(
        update(Customer).where(Customer.id == prefs.customer.id, Customer.email_status == "unsubscribed")
        .values(email_status="subscribed", updated_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    if not changed:
        return False
    db.session.refresh(prefs.customer)
    email_status_changed(prefs.customer, "unsubscribed", evidence,
                         {"campaign_id": prefs.campaign.id, "campaign_name": prefs.campaign.name})
    return True


def unsubscribe_everything(token: str, evidence: Evidence) -> Preferences:
    """The person gets no marketing email at all; a second call changes nothing."""
    unsubscribe(token, evidence)
    return preferences_for(token)


def save_choices(token: str, chosen: Iterable[int], evidence: Evidence, *, resubscribe: bool = False) -> Preferences:
    """The preference centre's form: the person gets exactly the `chosen` topics (ids not
    the tenant's are ignored: the form only offers theirs), and with `resubscribe` marketing
    again after unsubscribing from everything."""
    prefs = preferences_for(token)
    wanted = {topic_id for topic_id in chosen}
    status_changed = resubscribe and prefs.can_resubscribe and _resubscribe(prefs, evidence)
    changes = set_topic_choices(prefs.customer, {t.id: t.id in wanted for t in prefs.topics}, evidence)
    if prefs.campaign.topic_id is not None and (prefs.campaign.topic_id, False) in {(t.id, on) for t, on in changes}:
        _count_unsubscribe(prefs.campaign.id)
    if status_changed and not changes:
        db.session.flush()
        customer_changed(prefs.tenant.id, prefs.customer.id)
    db.session.commit()
    return preferences_for(token)


def one_click(token: str, evidence: Evidence) -> Preferences:
    """RFC 8058: leave the campaign's topic, or all marketing when it has none (workflow
    emails have none). Repeated calls change nothing."""
    prefs = preferences_for(token)
    topic = prefs.campaign_topic
    if topic is None:
        return unsubscribe_everything(token, evidence)
    if prefs.states.get(topic.id):
        set_topic_choices(prefs.customer, {topic.id: False}, evidence)
        _count_unsubscribe(prefs.campaign.id)
    db.session.commit()
    return preferences_for(token)


def choices_wording(prefs: Preferences) -> str:
    """The words the page showed, kept on each consent record it leads to."""
    lines = [f"{prefs.tenant.name}: choose the emails you get at {mask_email(prefs.customer.email)}."]
    lines += [f"[{'x' if prefs.states.get(t.id) else ' '}] {t.name}" + (f": {t.description}" if t.description else "")
              for t in prefs.topics]
    lines.append("Buttons: Save my choices / Unsubscribe from everything")
    return "\n".join(lines)
