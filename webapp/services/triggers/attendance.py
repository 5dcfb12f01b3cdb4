"""Triggers of attendance: an event ended, with whether each holder came (settled by the
sweep in services/events/attendance.py)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.models import Event
from webapp.services.triggers.base import EVENT_PAYLOAD_FIELDS, Strict, TriggerField, TriggerNames, TriggerType

_WORDS = {"true": True, "false": False}


def _flag(value: Any) -> Any:
    # The builder's select posts "True" / "False" (its options are the booleans themselves,
    # so a saved setting shows as chosen); the API sends JSON booleans.
    if isinstance(value, str) and value.strip().lower() in _WORDS:
        return _WORDS[value.strip().lower()]
    return value


class EventEndedTrigger(Strict):
    # None: any event.
    event_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    # True: only those who came; False: only no-shows; None: everyone who held a ticket.
    attended: Annotated[bool, BeforeValidator(_flag)] | None = None


def _event_ended(config: dict[str, Any], names: TriggerNames) -> str:
    event_id = config.get("event_id")
    event = (names.event(event_id) or "an event that was deleted") if event_id else None
    attended = config.get("attended")
    if attended is True:
        who = f"those who came to {event}" if event else "those who came"
    elif attended is False:
        who = f"no-shows of {event}" if event else "no-shows"
    else:
        who = f"everyone who held a ticket for {event}" if event else "everyone who held a ticket"
    return f"When an event ends: {who}"


def _check_event(tenant_id: int, config: dict[str, Any]) -> None:
    if config.get("event_id") is not None and db.session.scalar(
            select(Event.id).where(Event.id == config["event_id"], Event.tenant_id == tenant_id)) is None:
        raise ValidationFailed("trigger_config.event_id", "no such event")


TYPES = (
    TriggerType(
        "event_ended", "An event ends", "after an event ended", EventEndedTrigger, _event_ended,
        fields=(TriggerField("event_id", "Event", kind="select", options="events", empty_label="Any event", ids=True),
                TriggerField("attended", "Which ticket holders", kind="select",
                             empty_label="Everyone who held a ticket",
                             options=((True, "Only those who came"), (False, "Only no-shows")),  # type: ignore[arg-type]
                             hint="Attendance is settled a couple of hours after the event's end: every "
                                  "ticket holder not scanned in by then is a no-show.")),
        # `trigger.attended` is in the payload too, for conditions; as text it would read "True".
        merge_fields=EVENT_PAYLOAD_FIELDS,
        check=_check_event),
)
