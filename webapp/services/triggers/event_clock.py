"""The performance clock: a reminder at an offset before each performance (on the venue's
clock), and the word to holders when a performance changes. They fire from what happens
(services/events/reminders.py, changes.py), never from POST /triggers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator
from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.models import Event
from webapp.services.performance_clock import CHANGE_KINDS, parse_offset
from webapp.services.triggers.base import EVENT_PAYLOAD_FIELDS, Strict, TriggerField, TriggerNames, TriggerType

EventId = Annotated[int, Field(ge=1, le=2**31 - 1)]
CALENDAR_FIELD = ("trigger.event.calendar_url", "Add-to-calendar link (.ics)", None)
UNIT_WORDS = {"d": "day", "h": "hour", "m": "minute"}


class EventReminderTrigger(Strict):
    offset: Annotated[str, Field(max_length=20)] = "-24h"
    anchor: Literal["starts_at", "doors_at"] = "starts_at"
    late_buyers: Literal["send_now", "skip"] = "send_now"
    event_id: EventId | None = None
    tag: Annotated[str, Field(min_length=1, max_length=200)] | None = None

    @field_validator("offset")
    @classmethod
    def _offset(cls, value: str) -> str:
        return str(parse_offset(value))  # stored as written the one way: "-24h"

    @field_validator("tag")
    @classmethod
    def _tag(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value.strip() if value is not None else None


def _kinds(value: Any) -> Any:
    # The builder posts one kind; the API may give a list.
    return [value] if isinstance(value, str) else value


class EventChangedTrigger(Strict):
    event_id: EventId | None = None
    changes: Annotated[list[Literal[CHANGE_KINDS]] | None,  # type: ignore[valid-type]
                       BeforeValidator(_kinds), Field(min_length=1, max_length=len(CHANGE_KINDS))] = None

    @field_validator("changes")
    @classmethod
    def _distinct(cls, value: list[str] | None) -> list[str] | None:
        return sorted(set(value), key=CHANGE_KINDS.index) if value else value


def _event_name(config: dict[str, Any], names: TriggerNames, every: str = "an event") -> str:
    if config.get("event_id") is None:
        return f"{every} tagged “{config['tag']}”" if config.get("tag") else every
    name = names.event(config["event_id"])
    return f"“{name}”" if name else "an event that was deleted"


def _when(offset_text: str) -> str:
    offset = parse_offset(offset_text)
    if not offset.amount:
        return "When"
    unit = UNIT_WORDS[offset.unit]
    return f"{offset.amount} {unit}{'s' if offset.amount != 1 else ''} before"


def _reminder(config: dict[str, Any], names: TriggerNames) -> str:
    """"24 hours before each event starts", "2 hours before doors open for “Harbour Lights”"."""
    target = _event_name(config, names, "each event")
    moment = f"doors open for {target}" if config.get("anchor") == "doors_at" else f"{target} starts"
    late = "late buyers get it at purchase" if config.get("late_buyers", "send_now") == "send_now" \
        else "late buyers are skipped"
    return f"{_when(config.get('offset', '-24h'))} {moment} (the venue's clock); {late}"


def _changed(config: dict[str, Any], names: TriggerNames) -> str:
    kinds = config.get("changes")
    what = " or ".join(kinds) if kinds else "changed, rescheduled, moved or cancelled"
    return f"{_event_name(config, names, 'An event')} is {what}: its ticket holders"


def _check_event(tenant_id: int, config: dict[str, Any]) -> None:
    if config.get("event_id") is not None and db.session.scalar(
            select(Event.id).where(Event.id == config["event_id"], Event.tenant_id == tenant_id)) is None:
        raise ValidationFailed("trigger_config.event_id", "no such event")


EVENT_FIELD = TriggerField("event_id", "Event", kind="select", options="events", empty_label="Every event", ids=True)

TYPES = (
    TriggerType(
        "event_reminder", "Before an event (reminder)", "by an event reminder", EventReminderTrigger, _reminder,
        fields=(TriggerField("offset", "How long before", hint="-7d, -24h, -2h or -30m, up to 90 days. Whole days "
                             "keep the venue's clock when the clocks change; hours and minutes are real time."),
                TriggerField("anchor", "Before", kind="select",
                             options=(("starts_at", "The start"), ("doors_at", "Doors open"))),
                TriggerField("late_buyers", "People who buy after that time", kind="select",
                             options=(("send_now", "Send it to them when they buy"), ("skip", "Don't send it"))),
                EVENT_FIELD,
                TriggerField("tag", "Only events tagged", hint="A genre, artist, series or tag; blank: any.")),
        merge_fields=(*EVENT_PAYLOAD_FIELDS, CALENDAR_FIELD), check=_check_event,
        starter=lambda tenant_id: {"offset": "-24h"}),
    TriggerType(
        "event_changed", "An event changes", "because an event changed", EventChangedTrigger, _changed,
        fields=(EVENT_FIELD,
                TriggerField("changes", "Which changes", kind="select", empty_label="Any change",
                             options=(("rescheduled", "Rescheduled (a new date or time)"),
                                      ("cancelled", "Cancelled"), ("moved", "Moved (another venue)"),
                                      ("changed", "Other changes (doors, end)")))),
        merge_fields=(*EVENT_PAYLOAD_FIELDS, CALENDAR_FIELD,
                      ("trigger.change", "What changed (rescheduled, cancelled, moved, changed)", "")),
        check=_check_event),
)
