"""The triggers a workflow has always had: purchases, sign-ups, manual enrollment, segments,
topics, and the day of an event."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator
from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.errors import NotFound, ValidationFailed
from webapp.models import CustomerSegment, Topic
from webapp.services.segments import get_segment
from webapp.services.triggers.base import Strict, TriggerField, TriggerNames, TriggerType

EVENT_FIELDS = (("trigger.event.name", "Event name", ""), ("trigger.event.starts_at", "Event date", ""))


class PurchaseTrigger(Strict):
    min_order_total: Annotated[float, Field(ge=0, lt=1e12)] | None = None
    event_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    event_name: Annotated[str, Field(min_length=1, max_length=300)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _ints_are_numbers(cls, data: Any) -> Any:
        # Strict mode refuses 100 for a float; a whole number is a fine minimum.
        if isinstance(data, dict) and isinstance(data.get("min_order_total"), int) \
                and not isinstance(data.get("min_order_total"), bool):
            data = {**data, "min_order_total": float(data["min_order_total"])}
        return data


class NoTriggerConfig(Strict):
    pass


class SegmentTrigger(Strict):
    segment_id: Annotated[int, Field(ge=1, le=2**31 - 1)]


class EventDayTrigger(Strict):
    offset_days: Annotated[int, Field(ge=-30, le=30)] = 0
    hour: Annotated[int, Field(ge=0, le=23)] = 9


class TopicTrigger(Strict):
    # None: any topic.
    topic_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None


def _purchase(config: dict[str, Any], names: TriggerNames) -> str:
    parts = ["A purchase"]
    if config.get("min_order_total") is not None:
        parts.append(f"of at least {config['min_order_total']:g}")
    if config.get("event_id"):
        parts.append(f"for event {config['event_id']}")
    if config.get("event_name"):
        parts.append(f"for “{config['event_name']}”")
    return " ".join(parts)


def _segment(config: dict[str, Any], names: TriggerNames) -> str:
    return f"Entering a segment: {names.segment(config.get('segment_id')) or 'a segment that was deleted'}"


def check_segment(tenant_id: int, config: dict[str, Any]) -> None:
    try:
        get_segment(tenant_id, config["segment_id"])
    except NotFound:
        raise ValidationFailed("trigger_config.segment_id", "no such segment") from None


def first_segment(tenant_id: int) -> dict[str, Any]:
    first = db.session.scalar(select(CustomerSegment.id).where(CustomerSegment.tenant_id == tenant_id)
                              .order_by(CustomerSegment.id).limit(1))
    if first is None:
        raise ValidationFailed("trigger_type", "create a segment first: this trigger starts when a customer "
                                               "enters one")
    return {"segment_id": first}


def _topic_words(label: str):
    def describe(config: dict[str, Any], names: TriggerNames) -> str:
        topic_id = config.get("topic_id")
        name = (names.topic(topic_id) or "a topic that was deleted") if topic_id else "any topic"
        return f"{label}: {name}"
    return describe


def _check_topic(tenant_id: int, config: dict[str, Any]) -> None:
    if config.get("topic_id") is not None and db.session.scalar(
            select(Topic.id).where(Topic.id == config["topic_id"], Topic.tenant_id == tenant_id)) is None:
        raise ValidationFailed("trigger_config.topic_id", "no such topic")


def _event_day(config: dict[str, Any], names: TriggerNames) -> str:
    offset = int(config.get("offset_days", 0))
    when = "on the day" if offset == 0 else (f"{-offset} day(s) before" if offset < 0 else f"{offset} day(s) after")
    return f"The day of an event, {when}, at {int(config.get('hour', 9)):02d}:00"


TOPIC_FIELD = TriggerField("topic_id", "Topic", kind="select", options="topics", empty_label="Any topic", ids=True)

TYPES = (
    TriggerType(
        "purchase", "A purchase", "after a purchase", PurchaseTrigger, _purchase, api_fired=True,
        fields=(TriggerField("min_order_total", "Minimum order total", kind="number", decimal=True),
                TriggerField("event_id", "Event id"), TriggerField("event_name", "Event name")),
        merge_fields=(("trigger.order_id", "Order number", None), ("trigger.order_total", "Order total", None),
                      ("trigger.event.name", "Event bought", ""), ("trigger.event.starts_at", "Event date", ""),
                      ("trigger.event.venue", "Event venue", ""), ("trigger.tickets", "Tickets", None))),
    TriggerType("signup", "A sign-up", "on signing up", NoTriggerConfig, lambda c, n: "A sign-up", api_fired=True),
    TriggerType("event_day", "The day of an event", "on the day of an event", EventDayTrigger, _event_day,
                fields=(TriggerField("offset_days", "Days from the event (−1 = the day before)", kind="number",
                                     minimum=-30, maximum=30),
                        TriggerField("hour", "Hour (your timezone, {timezone})", kind="number", minimum=0,
                                     maximum=23)),
                merge_fields=EVENT_FIELDS),
    TriggerType("custom", "Manual enrollment", "by hand", NoTriggerConfig, lambda c, n: "Manual enrollment",
                api_fired=True),
    TriggerType("segment_entered", "Entering a segment", "on entering a segment", SegmentTrigger, _segment,
                fields=(TriggerField("segment_id", "Segment", kind="select", options="segments", ids=True),),
                check=check_segment, starter=first_segment, api_fired=True),
    # A customer's own choices (preference centre, API, profile, import): joining or leaving
    # a topic, and leaving all marketing.
    TriggerType("topic_subscribed", "Subscribing to a topic", "on subscribing to a topic", TopicTrigger,
                _topic_words("Subscribing to a topic"), fields=(TOPIC_FIELD,), check=_check_topic),
    TriggerType("topic_unsubscribed", "Unsubscribing from a topic", "on unsubscribing from a topic",
                TopicTrigger, _topic_words("Unsubscribing from a topic"), fields=(TOPIC_FIELD,),
                check=_check_topic),
    TriggerType("unsubscribed", "Unsubscribing from all marketing", "on unsubscribing from all marketing",
                NoTriggerConfig, lambda c, n: "Unsubscribing from all marketing"),
)
