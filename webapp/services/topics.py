"""Topics a tenant sends under: create, rename, reorder, delete, and who gets each.

Who gets a topic is models/audience.py `subscribed_to_topic` (a customer's own choice, else
the topic's default); services/consent.py changes a customer's choices.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.infra.errors import Conflict, NotFound, ValidationFailed
from webapp.infra.validation import check_storable
from webapp.models import Customer, CustomerTopic, EmailCampaign, Topic
from webapp.services.consent import tenant_topics

MAX_TOPICS = 50
NAME_LENGTH = 100
DESCRIPTION_LENGTH = 500
# A campaign in one of these still has a send ahead of it: its topic cannot go.
UNSENT = ("draft", "scheduled", "sending")


def get_topic(tenant_id: int, topic_id: int, field: str | None = None) -> Topic:
    """The tenant's topic; NotFound for another tenant's or a missing id, or, with `field`,
    a ValidationFailed naming it (a topic referred to from another resource's body)."""
    topic = db.session.scalar(select(Topic).where(Topic.id == topic_id, Topic.tenant_id == tenant_id))
    if topic is None:
        if field is not None:
            raise ValidationFailed(field, "no such topic in this organisation")
        raise NotFound("topic not found")
    return topic


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in ("name", "description"):
        check_storable(values.get(field), field)
    if "name" in values:
        name = " ".join(str(values["name"] or "").split())
        if not name:
            raise ValidationFailed("name", "must not be empty")
        if len(name) > NAME_LENGTH:
            raise ValidationFailed("name", f"at most {NAME_LENGTH} characters")
        out["name"] = name
    if "description" in values:
        description = str(values["description"] or "").strip()
        if len(description) > DESCRIPTION_LENGTH:
            raise ValidationFailed("description", f"at most {DESCRIPTION_LENGTH} characters")
        out["description"] = description or None
    if "default_subscribed" in values:
        if not isinstance(values["default_subscribed"], bool):
            raise ValidationFailed("default_subscribed", "must be true or false")
        out["default_subscribed"] = values["default_subscribed"]
    return out


def _check_name_free(tenant_id: int, name: str, topic_id: int | None = None) -> None:
    # Case-insensitive: "Jazz" and "jazz" side by side on a preference centre confuse people.
    # Compared here, not with the database's lower(): SQLite's folds ASCII letters only, so
    # "Äpfel" passed beside "Äpfel" there and met the unique constraint in a later flush.
    # At most MAX_TOPICS names.
    wanted = name.casefold()
    names = db.session.execute(select(Topic.id, Topic.name).where(Topic.tenant_id == tenant_id)).all()
    if any(other_id != topic_id and other.casefold() == wanted for other_id, other in names):
        raise Conflict("name: another topic already has this name",
                       details=[{"field": "name", "message": "another topic already has this name"}])


def _flush_named() -> None:
    try:
        db.session.flush()
    except IntegrityError:
        # Two requests naming a topic the same at once: the unique constraint decides.
        db.session.rollback()
        raise Conflict("name: another topic already has this name",
                       details=[{"field": "name", "message": "another topic already has this name"}]) from None


def create_topic(tenant_id: int, data: dict[str, Any]) -> Topic:
    """A new topic, last in the order. At most MAX_TOPICS per tenant; names unique."""
    values = _clean(data)
    if "name" not in values:
        raise ValidationFailed("name", "is required")
    count = db.session.scalar(select(func.count()).select_from(Topic).where(Topic.tenant_id == tenant_id)) or 0
    if count >= MAX_TOPICS:
        raise ValidationFailed("name", f"an organisation has at most {MAX_TOPICS} topics: delete one first")
    _check_name_free(tenant_id, values["name"])
    last = db.session.scalar(select(func.max(Topic.position)).where(Topic.tenant_id == tenant_id))
    topic = Topic(tenant_id=tenant_id, position=(last + 1) if last is not None else 0,
                  default_subscribed=values.pop("default_subscribed", True), **values)
    db.session.add(topic)
    _flush_named()
    db.session.commit()
    return topic


def update_topic(tenant_id: int, topic_id: int, changes: dict[str, Any]) -> Topic:
    """Change name, description, default and/or position (0 = first); only what is given.
    A change of the default moves everyone who has not chosen, at once."""
    topic = get_topic(tenant_id, topic_id)
    values = _clean(changes)
    position = changes.get("position")
    if position is not None and (isinstance(position, bool) or not isinstance(position, int) or position < 0):
        raise ValidationFailed("position", "must be a whole number from 0")
    if "name" in values:
        _check_name_free(tenant_id, values["name"], topic.id)
    for key, value in values.items():
        setattr(topic, key, value)
    # The new name is flushed where a clash is a 409, before the move's query flushes it.
    _flush_named()
    if position is not None:
        _move(tenant_id, topic, position)
    db.session.commit()
    return topic


def _move(tenant_id: int, topic: Topic, position: int) -> None:
    others = [t for t in tenant_topics(tenant_id) if t.id != topic.id]
    others.insert(min(position, len(others)), topic)
    for index, item in enumerate(others):
        item.position = index


def reorder_topics(tenant_id: int, topic_ids: list[int]) -> list[Topic]:
    """Put the tenant's topics in this order; the list must name each of them once."""
    topics = {topic.id: topic for topic in tenant_topics(tenant_id)}
    if sorted(topic_ids) != sorted(topics):
        raise ValidationFailed("topic_ids", "list each of the organisation's topics once")
    for index, topic_id in enumerate(topic_ids):
        topics[topic_id].position = index
    db.session.commit()
    return [topics[topic_id] for topic_id in topic_ids]


def campaigns_using(tenant_id: int, topic_id: int) -> list[EmailCampaign]:
    """Campaigns not sent yet that are under the topic."""
    return list(db.session.scalars(select(EmailCampaign).where(
        EmailCampaign.tenant_id == tenant_id, EmailCampaign.topic_id == topic_id,
        EmailCampaign.status.in_(UNSENT)).order_by(EmailCampaign.id)))


def delete_topic(tenant_id: int, topic_id: int) -> None:
    """Delete a topic and everyone's choices of it. A 409 naming the campaigns while a draft,
    scheduled or sending campaign is under it; sent ones keep their figures, without the
    topic (consent records keep its name)."""
    topic = get_topic(tenant_id, topic_id)
    using = campaigns_using(tenant_id, topic.id)
    if using:
        names = ", ".join(f"“{c.name}” ({c.status})" for c in using[:5])
        more = f" and {len(using) - 5} more" if len(using) > 5 else ""
        raise Conflict(f"campaigns not sent yet are under this topic: {names}{more}. "
                       "Choose another topic for them (or none) first",
                       details=[{"field": "campaigns", "message": c.name, "id": c.id} for c in using])
    # Explicitly, not only by the foreign keys' ON DELETE: SQLite enforces them only when
    # asked to, and sent campaigns must not point at a topic that is gone.
    db.session.execute(update(EmailCampaign).where(EmailCampaign.topic_id == topic.id)
                       .values(topic_id=None).execution_options(synchronize_session=False))
    db.session.execute(CustomerTopic.__table__.delete().where(CustomerTopic.topic_id == topic.id))
    db.session.delete(topic)
    db.session.flush()
    for index, item in enumerate(tenant_topics(tenant_id)):
        item.position = index
    db.session.commit()


def subscriber_counts(tenant_id: int) -> dict[int, int]:
    """Topic id -> how many customers who get marketing get it: two grouped queries, not one
    per topic (the default covers all who have not chosen)."""
    reachable = db.session.scalar(select(func.count()).select_from(Customer).where(
        Customer.tenant_id == tenant_id, Customer.is_reachable)) or 0
    chosen: dict[tuple[int, bool], int] = {}
    for topic_id, subscribed, count in db.session.execute(
            select(CustomerTopic.topic_id, CustomerTopic.subscribed, func.count())
            .join(Customer, Customer.id == CustomerTopic.customer_id)
            .where(CustomerTopic.tenant_id == tenant_id, Customer.is_reachable)
            .group_by(CustomerTopic.topic_id, CustomerTopic.subscribed)):
        chosen[(topic_id, bool(subscribed))] = count
    return {topic.id: (reachable - chosen.get((topic.id, False), 0)) if topic.default_subscribed
            else chosen.get((topic.id, True), 0)
            for topic in tenant_topics(tenant_id)}


def topic_names(tenant_id: int) -> dict[int, str]:
    return {topic.id: topic.name for topic in tenant_topics(tenant_id)}
