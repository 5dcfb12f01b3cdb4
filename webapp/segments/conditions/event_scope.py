"""What the ticket and attendance conditions share: which events count (one event, events of
a tag, events at a venue), how they read their settings, and how they say them.

An item names the scope with these keys, each optional:
  "event": 12                                  our id of the event (GET /api/crm/events)
  "event_name": "Jazz Night"                   display only: how the builder named it
  "event_tag": {"kind": "genre", "value": "jazz"}   kind: genre | artist | series | tag
  "venue": "Village Vanguard"                  the venue's name
Text compares ignoring case, as tags and venues are typed by people on both sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, func
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from webapp.infra.errors import ValidationFailed
from webapp.infra.types import MAX_ID
from webapp.models import EVENT_TAG_KINDS, Event, EventTag
from webapp.segments.conditions.values import MAX_COUNT, MAX_MONEY, read_date
from webapp.segments.conditions.words import quoted
from webapp.segments.facts import EventFacts

# The keys of a scope, with their names for people (the builder's error messages).
SCOPE_SETTINGS = {"event": "Event", "event_name": "Event name", "event_tag": "Event tag", "venue": "Venue"}
PERIOD_SETTINGS = {"from": "From", "to": "To"}
MAX_MONTHS = 1200
TAG_WORDS = {"genre": "genre", "artist": "artist", "series": "series", "tag": "tag"}


@dataclass(frozen=True)
class EventScope:
    """Which events count; an empty scope counts every event (and tickets naming none)."""

    event_id: int | None = None
    tag_kind: str | None = None
    tag_value: str | None = None
    venue: str | None = None

    @property
    def empty(self) -> bool:
        return self.event_id is None and self.tag_kind is None and self.venue is None


# --- reading an item ------------------------------------------------------------------------

def read_optional_text(raw: dict, key: str, path: str, max_length: int) -> str | None:
    """A setting holding a non-empty text of at most `max_length` characters, stripped; None
    when the item leaves it out (or sends null)."""
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"{path}.{key}", "must be a non-empty string")
    if len(value) > max_length:
        raise ValidationFailed(f"{path}.{key}", f"at most {max_length} characters")
    return value.strip()


def read_whole(value: Any, field: str, minimum: int, maximum: int) -> int:
    """A whole number within [minimum, maximum] (5.0 is 5), else ValidationFailed naming `field`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not (math.isfinite(value) and value.is_integer())):
        raise ValidationFailed(field, f"must be a whole number from {minimum:,} to {maximum:,}")
    if not minimum <= value <= maximum:
        raise ValidationFailed(field, f"must be a whole number from {minimum:,} to {maximum:,}")
    return int(value)


def read_money(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not math.isfinite(value)):
        raise ValidationFailed(field, "must be a number")
    if not 0 <= value < MAX_MONEY:
        raise ValidationFailed(field, f"must be from 0 to below {MAX_MONEY:,}")
    return Decimal(str(value))


def read_scope(raw: dict, path: str, allowed: tuple[str, ...] = ("event", "event_tag", "venue")) -> EventScope:
    """The item's event, event tag and venue (those in `allowed`; the others are refused by
    the type's settings already)."""
    event_id = tag_kind = tag_value = None
    if "event" in allowed and raw.get("event") is not None:
        event_id = raw["event"]
        if isinstance(event_id, bool) or not isinstance(event_id, int) or not 1 <= event_id <= MAX_ID:
            raise ValidationFailed(f"{path}.event", "must be an event id (GET /api/crm/events lists them)")
    read_optional_text(raw, "event_name", path, 300)
    tag = raw.get("event_tag")
    if "event_tag" in allowed and tag is not None:
        if not isinstance(tag, dict) or set(tag) - {"kind", "value"}:
            raise ValidationFailed(f"{path}.event_tag", 'must be {"kind": "genre", "value": "jazz"}')
        if tag.get("kind") not in EVENT_TAG_KINDS:
            raise ValidationFailed(f"{path}.event_tag.kind", f"must be one of {', '.join(EVENT_TAG_KINDS)}")
        tag_kind = tag["kind"]
        tag_value = read_optional_text(tag, "value", f"{path}.event_tag", 200)
        if tag_value is None:
            raise ValidationFailed(f"{path}.event_tag.value", "must be a non-empty string")
    venue = read_optional_text(raw, "venue", path, 300) if "venue" in allowed else None
    return EventScope(event_id, tag_kind, tag_value, venue)


def read_period(raw: dict, path: str) -> dict[str, datetime]:
    """`from` and `to` (both optional, both included) as the Condition's since and until."""
    found: dict[str, datetime] = {}
    if raw.get("from") is not None:
        found["since"] = read_date(raw["from"], f"{path}.from")
    if raw.get("to") is not None:
        found["until"] = read_date(raw["to"], f"{path}.to")
    if "since" in found and "until" in found and found["until"] < found["since"]:
        raise ValidationFailed(f"{path}.to", "must not be before from")
    return found


def read_months(raw: dict, path: str, default: int | None = None) -> int | None:
    value = raw.get("within_last_months")
    if value is None:
        return default
    return read_whole(value, f"{path}.within_last_months", 1, MAX_MONTHS)


def read_count(raw: dict, path: str, default: int = 1) -> int:
    value = raw.get("value")
    return default if value is None else read_whole(value, f"{path}.value", 0, MAX_COUNT)


# --- SQL and its reference twin -------------------------------------------------------------

def same_text(column, value: str) -> ColumnElement[bool]:
    return func.lower(column) == value.lower()


def same_text_py(stored: str | None, value: str) -> bool:
    return stored is not None and stored.lower() == value.lower()


def scope_criteria(scope: EventScope, event_id_column) -> list[ColumnElement[bool]]:
    """WHERE criteria saying the event whose id is `event_id_column` is in the scope. Tags
    and venues are looked up by primary key, so they never widen the query's plan."""
    criteria: list[ColumnElement[bool]] = []
    if scope.event_id is not None:
        criteria.append(event_id_column == scope.event_id)
    if scope.tag_kind is not None:
        criteria.append(exists().where(EventTag.event_id == event_id_column, EventTag.kind == scope.tag_kind,
                                       same_text(EventTag.value, scope.tag_value)))
    if scope.venue is not None:
        # Aliased: the caller may have `events` in its own FROM already.
        at_venue = aliased(Event)
        criteria.append(exists().where(at_venue.id == event_id_column, same_text(at_venue.venue_name, scope.venue)))
    return criteria


def in_scope(scope: EventScope, event: EventFacts | None) -> bool:
    if scope.empty:
        return True
    if event is None:
        return False
    if scope.event_id is not None and event.id != scope.event_id:
        return False
    if scope.tag_kind is not None and not any(kind == scope.tag_kind and same_text_py(value, scope.tag_value)
                                              for kind, value in event.tags):
        return False
    return scope.venue is None or same_text_py(event.venue_name, scope.venue)


def in_period(moment: datetime | None, since: datetime | None, until: datetime | None) -> bool:
    if since is None and until is None:
        return True
    return moment is not None and (since is None or moment >= since) and (until is None or moment <= until)


# --- words ----------------------------------------------------------------------------------

def event_words(raw: dict[str, Any]) -> str:
    """How an item's event reads: its name (the describer fills it in from the tenant's
    events; the builder stores it too), else its number."""
    name = raw.get("event_name")
    return quoted(name) if isinstance(name, str) and name.strip() else f"event #{raw.get('event')}"


def scope_words(raw: dict[str, Any], *, lead: str | None = "for") -> str:
    """" for “Jazz Night”", " for events with genre “jazz”", " at “Vanguard”" (joined), or "".
    `lead` None: the events are named already (" with genre “jazz”")."""
    text = ""
    if raw.get("event") is not None:
        text += f" {lead or 'for'} {event_words(raw)}"
    tag = raw.get("event_tag")
    if isinstance(tag, dict):
        kind = TAG_WORDS.get(str(tag.get("kind")), str(tag.get("kind")))
        text += f"{f' {lead} events' if lead else ''} with {kind} {quoted(tag.get('value'))}"
    if raw.get("venue"):
        text += f" at {quoted(raw['venue'])}"
    return text


def period_words(raw: dict[str, Any], what: str = "") -> str:
    text = ""
    if raw.get("from"):
        text += f" {what}from {raw['from']}".replace("  ", " ")
    if raw.get("to"):
        text += f" until {raw['to']}"
    return text


def months_words(raw: dict[str, Any], default: int | None = None) -> str:
    months = raw.get("within_last_months", default)
    if months is None:
        return ""
    return " in the last month" if months == 1 else f" in the last {months} months"
