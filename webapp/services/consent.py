"""Consent: which topics a customer gets, and the record of every change of it.

A customer gets marketing mail while their email status is "subscribed"; within that, a
campaign sent under a topic reaches those subscribed to the topic (their own choice, else
the topic's default: models/audience.py). Every change of either, from any source, goes
through here and leaves a ConsentRecord: what, granted or withdrawn, where from, when, from
which address and browser, and the wording the person saw.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.infra.types import utcnow
from webapp.models import CONSENT_SOURCES, ConsentRecord, Customer, CustomerTopic, Topic
from webapp.services import webhooks
from webapp.services.activity_log import log_activity
from webapp.services.changes import customer_changed
from webapp.services.webhooks import customer_ref


@dataclass(frozen=True)
class Evidence:
    """Where a change of consent came from, kept on its record."""

    source: str
    wording: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    context: str | None = None  # the campaign, form or import it came through

    def __post_init__(self) -> None:
        if self.source not in CONSENT_SOURCES:
            raise ValueError(f"unknown consent source {self.source!r}")


def record_consent(customer: Customer, evidence: Evidence, *, granted: bool, topic: Topic | None = None,
                   occurred_at: datetime | None = None) -> ConsentRecord:
    """Add one consent record (topic None: all marketing) to the session; the caller commits."""
    record = ConsentRecord(
        tenant_id=customer.tenant_id, customer_id=customer.id, topic_id=topic.id if topic else None,
        topic_name=topic.name if topic else None, granted=granted, source=evidence.source,
        wording=(evidence.wording or None) and evidence.wording[:5000],
        ip_address=(evidence.ip_address or None) and evidence.ip_address[:64],
        user_agent=(evidence.user_agent or None) and evidence.user_agent[:500],
        context=(evidence.context or None) and evidence.context[:200],
        occurred_at=occurred_at or utcnow())
    db.session.add(record)
    return record


def tenant_topics(tenant_id: int) -> list[Topic]:
    """The tenant's topics in the order people see them."""
    return list(db.session.scalars(select(Topic).where(Topic.tenant_id == tenant_id)
                                   .order_by(Topic.position, Topic.id)))


def topic_states(tenant_id: int, customer_id: int) -> dict[int, bool]:
    """Every topic of the tenant -> whether the customer gets it (choice, else default)."""
    chosen = dict(db.session.execute(select(CustomerTopic.topic_id, CustomerTopic.subscribed).where(
        CustomerTopic.tenant_id == tenant_id, CustomerTopic.customer_id == customer_id)).all())
    return {topic.id: chosen.get(topic.id, topic.default_subscribed) for topic in tenant_topics(tenant_id)}


def subscribed_topic_ids(tenant_id: int, customer_id: int) -> list[int]:
    return [topic_id for topic_id, on in topic_states(tenant_id, customer_id).items() if on]


def set_topic_choices(customer: Customer, choices: Mapping[int, bool], evidence: Evidence,
                      field: str = "topics") -> list[tuple[Topic, bool]]:
    """Apply the customer's choices (topic id -> get it or not). Only real changes are
    written: a choice stored for the first time or changed gets its row and a consent
    record; a change of what they get also a timeline activity, and segments follow.
    Another tenant's or an unknown topic id is a ValidationFailed naming `field`, before
    anything is written. The caller commits. Returns (topic, subscribed) per change."""
    topics = {topic.id: topic for topic in tenant_topics(customer.tenant_id)}
    unknown = sorted(set(choices) - set(topics))
    if unknown:
        raise ValidationFailed(field, f"no topic {unknown[0]} in this organisation")
    rows = {row.topic_id: row for row in db.session.scalars(select(CustomerTopic).where(
        CustomerTopic.tenant_id == customer.tenant_id, CustomerTopic.customer_id == customer.id))}
    changes = []
    now = utcnow()
    for topic_id, wanted in choices.items():
        topic, row = topics[topic_id], rows.get(topic_id)
        current = row.subscribed if row is not None else topic.default_subscribed
        wanted = bool(wanted)
        if row is None or row.subscribed != wanted:
            # A choice is kept (and evidenced) even when it matches the default: a later
            # change of the default must not override what this person said.
            if row is None:
                db.session.add(CustomerTopic(customer_id=customer.id, topic_id=topic_id,
                                             tenant_id=customer.tenant_id, subscribed=wanted, updated_at=now))
            else:
                row.subscribed, row.updated_at = wanted, now
            record_consent(customer, evidence, granted=wanted, topic=topic, occurred_at=now)
        if current == wanted:
            continue
        log_activity(customer, "topic_subscribed" if wanted else "topic_unsubscribed",
                     {"topic_id": topic.id, "topic_name": topic.name, "source": evidence.source}, occurred_at=now)
        changes.append((topic, wanted))
    db.session.flush()
    for topic, wanted in changes:
        # Workflows that start when someone joins or leaves a topic (services/triggers/).
        customer_changed(customer.tenant_id, customer.id, segments=False,
                         trigger="topic_subscribed" if wanted else "topic_unsubscribed",
                         payload={"topic_id": topic.id, "topic_name": topic.name, "source": evidence.source})
    if changes:
        customer_changed(customer.tenant_id, customer.id)
    return changes


def check_topic_ids(tenant_id: int, topic_ids: Iterable[Any], field: str = "topics") -> list[int]:
    """The ids, each one of the tenant's topics, else a ValidationFailed naming `field[i]`."""
    known = {topic.id for topic in tenant_topics(tenant_id)}
    out: list[int] = []
    for i, topic_id in enumerate(topic_ids):
        if isinstance(topic_id, bool) or not isinstance(topic_id, int) or topic_id not in known:
            raise ValidationFailed(f"{field}[{i}]", "no such topic in this organisation")
        if topic_id not in out:
            out.append(topic_id)
    return out


def set_subscribed_topics(customer: Customer, topic_ids: Iterable[int], evidence: Evidence,
                          field: str = "topics") -> list[tuple[Topic, bool]]:
    """The customer gets exactly these topics: each of the tenant's topics becomes an explicit
    choice (in the list: yes, else no). The caller commits."""
    wanted = set(check_topic_ids(customer.tenant_id, topic_ids, field))
    return set_topic_choices(customer, {topic.id: topic.id in wanted for topic in tenant_topics(customer.tenant_id)},
                             evidence, field)


def topic_ids_by_customer(tenant_id: int, customer_ids: list[int]) -> dict[int, list[int]]:
    """Customer id -> the ids of the topics they get, for a page of customers: two queries."""
    topics = tenant_topics(tenant_id)
    if not topics or not customer_ids:
        return {customer_id: [] for customer_id in customer_ids}
    chosen: dict[int, dict[int, bool]] = {}
    for customer_id, topic_id, subscribed in db.session.execute(
            select(CustomerTopic.customer_id, CustomerTopic.topic_id, CustomerTopic.subscribed).where(
                CustomerTopic.tenant_id == tenant_id, CustomerTopic.customer_id.in_(customer_ids))):
        chosen.setdefault(customer_id, {})[topic_id] = subscribed
    return {customer_id: [topic.id for topic in topics
                          if chosen.get(customer_id, {}).get(topic.id, topic.default_subscribed)]
            for customer_id in customer_ids}


# Email statuses that are a person's say about all marketing; bounced is the mailbox's.
_CONSENT_STATUSES = {"subscribed": True, "unsubscribed": False, "complained": False}


def email_status_changed(customer: Customer, before: str | None, evidence: Evidence,
                         properties: Mapping[str, Any] | None = None) -> bool:
    """After the customer's email_status moved from `before`: a consent record for all
    marketing when the new status is a say about it (subscribed: granted; unsubscribed or
    complained: withdrawn), a timeline activity, and the `unsubscribed` trigger for
    workflows. Nothing when the status did not change. The caller commits and refreshes
    segments."""
    after = customer.email_status
    if before == after or after not in _CONSENT_STATUSES:
        return False
    granted = _CONSENT_STATUSES[after]
    record_consent(customer, evidence, granted=granted)
    props = {"source": evidence.source, **(properties or {})}
    log_activity(customer, "resubscribed" if granted else "unsubscribed", props)
    db.session.flush()
    if not granted and after == "unsubscribed":
        customer_changed(customer.tenant_id, customer.id, segments=False, trigger="unsubscribed", payload=props)
        webhooks.emit(customer.tenant_id, "customer.unsubscribed",
                      lambda: {"customer": customer_ref(customer), **props})
    return True


def consent_history(tenant_id: int, customer_id: int, limit: int = 100) -> list[ConsentRecord]:
    """The customer's consent records, newest first."""
    return list(db.session.scalars(select(ConsentRecord).where(
        ConsentRecord.tenant_id == tenant_id, ConsentRecord.customer_id == customer_id)
        .order_by(ConsentRecord.id.desc()).limit(limit)))


def set_topics_by_admin(customer: Customer, topic_ids: Iterable[int], evidence: Evidence) -> list[tuple[Topic, bool]]:
    """A marketer's change of the customer's topics on the profile page; commits."""
    changes = set_subscribed_topics(customer, topic_ids, evidence)
    db.session.commit()
    return changes
