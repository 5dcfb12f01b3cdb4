"""Workflow trigger types: one entry per type (see `base.TriggerType`), from which its
validation, builder settings, summary, timeline words and merge tags are all found.

To add a type, write its TriggerType in the family module it belongs to and add it to that
module's TYPES; a new family module also goes into FAMILIES. The order is the builder's.
How a trigger fires (a purchase, a sweep) lives with what fires it; `enrollment.matches`
says which workflows a firing reaches.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import or_, select

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.infra.types import utcnow
from webapp.infra.validation import check_storable, validate
from webapp.models import CustomerSegment, Event, Topic
from webapp.services.triggers import attendance, basics, event_clock, inventory
from webapp.services.triggers.base import TriggerField, TriggerNames, TriggerType

__all__ = ["TRIGGER_TYPES", "TriggerField", "TriggerNames", "TriggerType", "check_trigger", "config_from_form",
           "describe_trigger", "field_options", "validate_trigger"]

FAMILIES = (basics, event_clock, attendance, inventory)

TRIGGER_TYPES: dict[str, TriggerType] = {kind.name: kind for family in FAMILIES for kind in family.TYPES}


def validate_trigger(trigger_type: str, config: Any) -> dict[str, Any]:
    """The settings of a trigger as stored, or ValidationFailed naming the field."""
    kind = TRIGGER_TYPES.get(trigger_type)
    if kind is None:
        raise ValidationFailed("trigger_type", f"must be one of {', '.join(TRIGGER_TYPES)}")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ValidationFailed("trigger_config", "must be an object")
    check_storable(config, "trigger_config")
    return validate(kind.model, config, "trigger_config").model_dump(exclude_none=True)


def check_trigger(tenant_id: int, trigger_type: str, config: Any) -> dict[str, Any]:
    """validate_trigger, and the tenant's data the trigger points at exists."""
    out = validate_trigger(trigger_type, config)
    TRIGGER_TYPES[trigger_type].check(tenant_id, out)
    return out


def describe_trigger(trigger_type: str, config: dict[str, Any] | None, names: TriggerNames) -> str:
    """One line for people: "Entering a segment: VIP fans"."""
    kind = TRIGGER_TYPES.get(trigger_type)
    if kind is None:
        return trigger_type.replace("_", " ").capitalize()
    try:
        return kind.describe(config or {}, names)
    except (ValueError, TypeError, LookupError):
        # Settings saved by an older version: the label alone, never a broken page.
        return kind.label


def _read(field: TriggerField, raw: str) -> Any:
    if field.kind == "number" or field.ids:
        try:
            return float(Decimal(raw)) if field.decimal else int(raw)
        except (ValueError, InvalidOperation):
            raise ValidationFailed(f"trigger_config.{field.name}", "must be a number") from None
    return raw


def config_from_form(trigger_type: str, form: Any) -> dict[str, Any]:
    """The builder's settings fields of `trigger_type` as the config the service validates
    (a blank field is left out: the type's default applies)."""
    config: dict[str, Any] = {}
    for field in TRIGGER_TYPES[trigger_type].fields if trigger_type in TRIGGER_TYPES else ():
        raw = (form.get(field.name) or "").strip()
        if raw:
            config[field.name] = _read(field, raw)
    return config


def field_options(tenant_id: int) -> dict[str, list[tuple[int, str]]]:
    """What the builder's select fields offer, by `TriggerField.options` name: the
    organisation's segments, topics and events (upcoming first, then the latest past ones)."""
    segments = db.session.execute(select(CustomerSegment.id, CustomerSegment.name)
                                  .where(CustomerSegment.tenant_id == tenant_id).order_by(CustomerSegment.name))
    topics = db.session.execute(select(Topic.id, Topic.name).where(Topic.tenant_id == tenant_id)
                                .order_by(Topic.position, Topic.id))
    now = utcnow()
    upcoming = select(Event.id, Event.name, Event.starts_at).where(Event.tenant_id == tenant_id,
                                                                   Event.starts_at >= now)
    events = [*db.session.execute(upcoming.order_by(Event.starts_at).limit(200)),
              *db.session.execute(select(Event.id, Event.name, Event.starts_at)
                                  .where(Event.tenant_id == tenant_id, or_(Event.starts_at < now,
                                                                           Event.starts_at.is_(None)))
                                  .order_by(Event.starts_at.desc()).limit(100))]
    return {"segments": [tuple(r) for r in segments], "topics": [tuple(r) for r in topics],
            "events": [(i, f"{name} ({starts:%d %b %Y})" if starts else name) for i, name, starts in events]}
