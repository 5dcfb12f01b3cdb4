"""What a page with condition rows (the segment builder, a workflow's condition step) serves
to static/js/segment-builder/: the condition language's types, operators and inputs, and the
tenant's tags, events and activity types the rows suggest."""

from __future__ import annotations

from typing import Any

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
from webapp.web.filters import ACTIVITY_LABELS


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
    return {"condition_schema": builder_schema(), "known_tags": segments.known_tags(tenant_id),
            "known_events": segments.known_events(tenant_id), "activity_types": sorted(ACTIVITY_LABELS)}
