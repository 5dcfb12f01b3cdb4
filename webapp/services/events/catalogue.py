"""Events as the platform describes them: validated, upserted by the platform's id, read
back, and the changes between two descriptions (what holders are told of)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from sqlalchemy import delete, select

from webapp.extensions import db
from webapp.infra.errors import NotFound, ValidationFailed
from webapp.infra.types import MAX_ID, iso_or_none, utcnow
from webapp.infra.validation import Moment, check_storable, validate
from webapp.models import EVENT_STATUSES, EVENT_TAG_KINDS, Event, EventTag, Tenant
from webapp.services.events.changes import announce_change
from webapp.services.tenants import check_timezone

MAX_TAGS_PER_KIND = 20
# What holders are told of when it changes (event_changed), and what bumps the calendar's
# SEQUENCE.
ANNOUNCED_FIELDS = ("starts_at", "doors_at", "ends_at", "venue_name", "venue_city", "timezone", "status")


def _key(value: Any) -> Any:
    # The platform's ids may be numbers; they are stored as text (String(200)).
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _http(value: Any) -> Any:
    if isinstance(value, str) and value and not value.startswith(("https://", "http://")):
        raise ValueError("must be an http(s) address")
    return value


ExternalId = Annotated[str, BeforeValidator(_key), Field(min_length=1, max_length=200)]
Url = Annotated[str, BeforeValidator(_http), Field(max_length=2000)]
Capacity = Annotated[int, Field(ge=0, le=10_000_000)]


class Venue(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: Annotated[str, Field(max_length=300)] | None = None
    city: Annotated[str, Field(max_length=200)] | None = None


def _venue(value: Any) -> Any:
    # A purchase has always carried the venue as one string: its name.
    return {"name": value} if isinstance(value, str) else value


def _tags(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    return {kind: [tag] if isinstance(tag, str) else tag for kind, tag in value.items()}


TagValues = list[Annotated[str, Field(min_length=1, max_length=200)]]


class EventFields(BaseModel):
    """What may be said of an event; every field optional (a PATCH)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    starts_at: Annotated[Moment, Field(strict=False)] | None = None
    doors_at: Annotated[Moment, Field(strict=False)] | None = None
    ends_at: Annotated[Moment, Field(strict=False)] | None = None
    venue: Annotated[Venue | None, BeforeValidator(_venue)] = None
    timezone: Annotated[str, Field(max_length=64)] | None = None
    capacity: Capacity | None = None
    status: Literal[EVENT_STATUSES] | None = None  # type: ignore[valid-type]
    url: Url | None = None
    image_url: Url | None = None
    tags: Annotated[dict[Literal[EVENT_TAG_KINDS], TagValues] | None,  # type: ignore[valid-type]
                    BeforeValidator(_tags)] = None

    @field_validator("tags")
    @classmethod
    def _few_tags(cls, value):
        for kind, tags in (value or {}).items():
            if len(tags) > MAX_TAGS_PER_KIND:
                raise ValueError(f"at most {MAX_TAGS_PER_KIND} {kind} tags")
        return value


class EventIn(EventFields):
    """An upsert: the platform's id, and a name when the event is new."""

    external_id: ExternalId


@dataclass(frozen=True)
class Upserted:
    event: Event
    created: bool
    # {field: {"old": ..., "new": ...}} of the announced fields that moved (empty on create).
    changes: dict[str, dict[str, Any]]


def get_event(tenant_id: int, event_id: int) -> Event:
    event = db.session.get(Event, event_id) if 0 < event_id <= MAX_ID else None
    if event is None or event.tenant_id != tenant_id:
        raise NotFound("event not found")
    return event


def find_event(tenant_id: int, external_id: str) -> Event | None:
    return db.session.scalar(select(Event).where(Event.tenant_id == tenant_id, Event.external_id == external_id))


def event_tags(event_ids: list[int]) -> dict[int, dict[str, list[str]]]:
    """{event id: {kind: [values]}} for the events named, in one query."""
    found: dict[int, dict[str, list[str]]] = {event_id: {} for event_id in event_ids}
    if event_ids:
        for event_id, kind, value in db.session.execute(
                select(EventTag.event_id, EventTag.kind, EventTag.value)
                .where(EventTag.event_id.in_(event_ids)).order_by(EventTag.kind, EventTag.value)):
            found[event_id].setdefault(kind, []).append(value)
    return found


def event_zone(event: Event, tenant: Tenant | None = None) -> str:
    """The IANA zone the event's wall clock is in: the venue's, else the organisation's."""
    if event.timezone:
        return event.timezone
    tenant = tenant or db.session.get(Tenant, event.tenant_id)
    return tenant.timezone if tenant is not None and tenant.timezone else "UTC"


def _announced(event: Event) -> dict[str, Any]:
    return {name: getattr(event, name) for name in ANNOUNCED_FIELDS}


def _plain(value: Any) -> Any:
    return iso_or_none(value) if isinstance(value, datetime) else value


def _apply(event: Event, fields: EventFields, given: set[str]) -> None:
    for name in ("name", "status"):
        if name in given and getattr(fields, name) is None:
            raise ValidationFailed(name, "cannot be empty: an event always has one")
    if "timezone" in given and fields.timezone is not None:
        check_timezone(fields.timezone, "timezone")
    # A new start without new doors or end moves them with it: "rescheduled to next week"
    # keeps the evening's shape.
    if "starts_at" in given and fields.starts_at is not None and event.starts_at is not None:
        shift = fields.starts_at - event.starts_at
        for name in ("doors_at", "ends_at"):
            if name not in given and getattr(event, name) is not None:
                setattr(event, name, getattr(event, name) + shift)
    for name in ("name", "starts_at", "doors_at", "ends_at", "timezone", "capacity", "status", "url",
                 "image_url"):
        if name in given:
            setattr(event, name, getattr(fields, name))
    if "venue" in given:
        venue = fields.venue or Venue()
        event.venue_name, event.venue_city = venue.name, venue.city
    starts, doors, ends = event.starts_at, event.doors_at, event.ends_at
    if starts is not None and doors is not None and doors > starts:
        raise ValidationFailed("doors_at", "must not be after starts_at")
    if starts is not None and ends is not None and ends < starts:
        raise ValidationFailed("ends_at", "must not be before starts_at")


def _replace_tags(event: Event, tags: dict[str, list[str]]) -> None:
    db.session.execute(delete(EventTag).where(EventTag.event_id == event.id))
    seen: set[tuple[str, str]] = set()
    for kind, values in tags.items():
        for value in values:
            value = value.strip()
            if value and (kind, value.lower()) not in seen:
                seen.add((kind, value.lower()))
                db.session.add(EventTag(event_id=event.id, kind=kind, value=value, tenant_id=event.tenant_id))


def _save(tenant_id: int, event: Event | None, fields: EventFields, given: set[str], external_id: str,
          *, commit: bool) -> Upserted:
    created = event is None
    if created:
        if not fields.name:
            raise ValidationFailed("name", "is required to create an event")
        event = Event(tenant_id=tenant_id, external_id=external_id, status="on_sale", sequence=0,
                      created_at=utcnow())
        db.session.add(event)
    before = _announced(event)
    _apply(event, fields, given)
    after = _announced(event)
    changes = {} if created else {name: {"old": _plain(before[name]), "new": _plain(after[name])}
                                  for name in ANNOUNCED_FIELDS if before[name] != after[name]}
    if changes:
        event.sequence = (event.sequence or 0) + 1
    event.updated_at = utcnow()
    db.session.flush()
    if "tags" in given:
        _replace_tags(event, fields.tags or {})
    if changes:
        # Holders are told, waits re-time, a cancellation stops reminders: in this transaction.
        announce_change(tenant_id, event, changes, event_payload(event))
    if commit:
        db.session.commit()
    return Upserted(event, created, changes)


def upsert_event(tenant_id: int, data: dict[str, Any], *, commit: bool = True) -> Upserted:
    """Create or update the event the platform calls `external_id`; only the fields given
    change. Returns the event, whether it is new, and what holders should be told of."""
    check_storable(data, "")
    body = validate(EventIn, data)
    given = set(body.model_fields_set) - {"external_id"}
    return _save(tenant_id, find_event(tenant_id, body.external_id), body, given, body.external_id, commit=commit)


def update_event(tenant_id: int, event_id: int, data: dict[str, Any], *, commit: bool = True) -> Upserted:
    """Change the fields given of one of the tenant's events (404 across tenants)."""
    event = get_event(tenant_id, event_id)
    check_storable(data, "")
    body = validate(EventFields, data)
    return _save(tenant_id, event, body, set(body.model_fields_set), event.external_id, commit=commit)


def _local(moment: datetime | None, zone: ZoneInfo) -> str | None:
    if moment is None:
        return None
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M} ({local.tzname()})"


def event_payload(event: Event, tenant: Tenant | None = None) -> dict[str, Any]:
    """What every event trigger's payload carries as `event` (and emails read as
    {{ trigger.event.* }}): the platform's id as `id` (as purchases say it), ours as
    `event_id`, times in UTC and as the venue's wall clock (`when`, `doors`)."""
    zone = ZoneInfo(event_zone(event, tenant))
    return {"id": event.external_id, "event_id": event.id, "name": event.name,
            "starts_at": iso_or_none(event.starts_at), "doors_at": iso_or_none(event.doors_at),
            "ends_at": iso_or_none(event.ends_at), "when": _local(event.starts_at, zone),
            "doors": _local(event.doors_at, zone), "venue": event.venue_name, "city": event.venue_city,
            "timezone": zone.key, "status": event.status, "url": event.url, "image_url": event.image_url}
