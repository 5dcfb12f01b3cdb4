"""Phrasing shared by the types' descriptions (the segment page renders them escaped)."""

from __future__ import annotations

from typing import Any

from webapp.segments.conditions.operators import NO_VALUE_OPERATORS, RELATIVE_OPERATORS


def quoted(value: Any) -> str:
    return f"“{value}”"


def describe_common(label: str, raw: dict[str, Any], op: str, op_label: str, *,
                    subject: str | None = None) -> str | None:
    """The phrasing operators give whatever the type: "is set", "in the last 30 days",
    "between a and b"; None for the others. `subject` replaces the label before "is set"."""
    value = raw.get("value")
    if op in NO_VALUE_OPERATORS:
        return f"{subject or label} {op_label}"
    if op in RELATIVE_OPERATORS:
        return f"{label} {op_label} {value} days{' ago' if op == 'more_than_days_ago' else ''}"
    if op == "between" and isinstance(value, list) and len(value) == 2:
        return f"{label} between {value[0]} and {value[1]}"
    return None


def describe_plain(label: str, raw: dict[str, Any], op: str, op_label: str, *, quote: bool = False) -> str:
    """`label op_label value`, a list of values joined by commas, text values in quotes."""
    common = describe_common(label, raw, op, op_label)
    if common is not None:
        return common
    value = raw.get("value")
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    elif quote:
        value = quoted(value)
    return f"{label} {op_label} {value}"
