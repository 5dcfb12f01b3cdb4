"""A segment definition in words, for the segment page (the template escapes it).

Reads the stored JSON leniently, without parsing it again: each item is said by its type's
entry (webapp.segments.conditions); an unknown type still gets a plain line.
"""

from __future__ import annotations

from typing import Any

from webapp.segments.conditions import CONDITION_TYPES, OPERATOR_LABELS
from webapp.segments.conditions.words import describe_plain


def describe_group(conditions: list[dict[str, Any]], topic_names: dict[int, str] | None = None,
                   event_names: dict[int, str] | None = None) -> list[dict[str, Any]]:
    """[{"text": ...} | {"match": ..., "items": [...]}] for the template to render (escaped).
    `topic_names`, `event_names`: the tenant's topics and events by id, so a condition naming
    one says its name as it is today."""
    items: list[dict[str, Any]] = []
    for raw in conditions if isinstance(conditions, list) else []:
        if isinstance(raw, dict) and "conditions" in raw:
            items.append({"match": raw.get("match", "all"),
                          "items": describe_group(raw["conditions"], topic_names, event_names)})
        elif isinstance(raw, dict):
            items.append({"text": describe_condition(raw, topic_names, event_names)})
    return items


def describe_condition(raw: dict[str, Any], topic_names: dict[int, str] | None = None,
                       event_names: dict[int, str] | None = None) -> str:
    ctype = raw.get("type", "")
    if ctype == "topic" and topic_names and raw.get("value") in topic_names:
        raw = {**raw, "topic_name": topic_names[raw["value"]]}
    if event_names and raw.get("event") in event_names:
        raw = {**raw, "event_name": event_names[raw["event"]]}
    kind = CONDITION_TYPES.get(ctype)
    op = raw.get("operator") or (kind.default_operator if kind else None) or ""
    op_label = OPERATOR_LABELS.get(op, str(op))
    if kind is None:
        return describe_plain(str(ctype), raw, op, op_label)
    return kind.describe(raw, op, op_label)
