"""Topics a tenant sends under, who is subscribed to which, and the record of every change
of consent (what, granted or withdrawn, where from, when, and the wording shown)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.infra.types import UTCDateTime, utcnow

# Where a change of consent came from.
CONSENT_SOURCES = ("form", "api", "import", "preference_centre", "admin", "complaint", "bounce", "unsubscribe_link")


class Topic(db.Model):
    """What a campaign is about ("Jazz listings"): people choose the topics they get."""

    __tablename__ = "topics"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_topics_tenant_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(500))
    # Whether someone who has not chosen gets it: True makes it opt-out (everyone subscribed
    # to marketing gets it until they say no), False opt-in (only those who said yes).
    default_subscribed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Order on the preference centre and in lists.
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomerTopic(db.Model):
    """A customer's own choice for a topic. Without a row the topic's default applies, so a
    new topic or a new customer writes nothing, and a campaign's audience stays one query
    (services/consent.py subscribed_to)."""

    __tablename__ = "customer_topics"
    __table_args__ = (Index("ix_customer_topics_tenant_topic", "tenant_id", "topic_id", "customer_id"),)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    subscribed: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsentRecord(db.Model):
    """One change of consent, kept as evidence (GDPR art. 7(1)): never updated."""

    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_records_customer", "tenant_id", "customer_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    # None: all marketing. The topic's name is kept too, for when the topic is deleted.
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id", ondelete="SET NULL"))
    topic_name: Mapped[str | None] = mapped_column(String(100))
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(30))
    # What the person saw when they chose (a form's consent text, the preference centre's).
    wording: Mapped[str | None] = mapped_column(Text)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    # The campaign, form or import it came through, when there is one.
    context: Mapped[str | None] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def subscribed_to_topic(topic_id: int, customer_id: Any) -> ColumnElement[bool]:
    """SQL: the customer (the `customer_id` column) gets topic `topic_id`'s campaigns, by
    their own choice or else the topic's default. Campaign audiences and the `topic`
    segment condition both read it; the default is an uncorrelated subquery, evaluated once."""
    chose = select(CustomerTopic.customer_id).where(CustomerTopic.customer_id == customer_id,
                                                    CustomerTopic.topic_id == topic_id)
    default = select(Topic.default_subscribed).where(Topic.id == topic_id).scalar_subquery()
    return or_(chose.where(CustomerTopic.subscribed.is_(True)).exists(),
               and_(default.is_(True), ~chose.where(CustomerTopic.subscribed.is_(False)).exists()))
