"""What a page with condition rows (the segment builder, a workflow's condition step) serves
to static/js/segment-builder/: the condition language's types, operators and inputs, and the
tenant's tags, events and activity types the rows suggest."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from webapp.infra.types import utcnow
from webapp.models import EMAIL_STATUSES
from webapp.segments.conditions import (
    CONDITION_TYPES,
    DEFAULT_OPERATOR,
    FIELD_LABELS,
    NO_VALUE_OPERATORS,
    RELATIVE_OPERATORS,
)
from webapp.segments.definition import MAX_DEPTH
from webapp.services import segments
from webapp.services.condition_choices import event_choices, ticket_suggestions
from webapp.services.consent import tenant_topics
from webapp.web.filters import ACTIVITY_LABELS
from webapp.web.times import day_and_time, tenant_zone


def builder_schema() -> dict[str, Any]:
    """The condition language's types, operators and inputs, for the builder's script."""
    types = CONDITION_TYPES.values()
    return {
        "types": [kind.form() for kind in types],
        "defaultOperator": {kind.name: kind.builder_operator for kind in types},
        "languageDefault": DEFAULT_OPERATOR,
        "noValueOperators": sorted(NO_VALUE_OPERATORS),
        "relativeOperators": sorted(RELATIVE_OPERATORS),
        "emailStatuses": list(EMAIL_STATUSES),
        "maxDepth": MAX_DEPTH,
        "fieldLabels": FIELD_LABELS,
    }


def condition_builder_context(tenant_id: int) -> dict[str, Any]:
    """The template context templates/_condition_builder.html reads."""
    schema = builder_schema()
    # The topic condition's menu: the tenant's topics by name (the value is the id).
    schema["topics"] = [{"value": topic.id, "label": topic.name} for topic in tenant_topics(tenant_id)]
    # The ticket and attendance conditions' event menu: name, date on the venue's clock, venue.
    schema["events"] = [{"value": e["value"], "name": e["name"], "label": _event_label(e)}
                        for e in event_choices(tenant_id)]
    return {"condition_schema": schema, "known_tags": segments.known_tags(tenant_id),
            "known_events": segments.known_events(tenant_id), "activity_types": sorted(ACTIVITY_LABELS),
            "ticket_suggestions": ticket_suggestions(tenant_id)}


def _event_label(event: dict[str, Any]) -> str:
    parts = [event["name"]]
    if event["starts_at"] is not None:
        zone = ZoneInfo(event["timezone"]) if event["timezone"] else tenant_zone()
        parts.append(day_and_time(event["starts_at"], zone, utcnow()))
    if event["venue"]:
        parts.append(event["venue"])
    return " · ".join(parts)
