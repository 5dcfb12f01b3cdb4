"""The builder's inputs, as the page's schema hands them to static/js/segment-builder.js.

An input is a dict with a `kind`: the script has one renderer per kind and takes the labels,
placeholders and suggestion lists from the rest. When a marketer changes the operator, the
value is kept if the kind stays the same and reset otherwise (status <-> statuses and
text <-> scalar carry it over), so a type should give operators that take the same value
the same kind.
"""

from __future__ import annotations

from typing import Any

NONE: dict[str, Any] = {"kind": "none"}
DATE: dict[str, Any] = {"kind": "date", "label": "Date"}
# Two dates, both ends included.
RANGE: dict[str, Any] = {"kind": "range"}
# One email status (a menu), or several (checkboxes).
STATUS: dict[str, Any] = {"kind": "status"}
STATUSES: dict[str, Any] = {"kind": "statuses"}
# A JSON value of a chosen kind: text, number or yes/no.
SCALAR: dict[str, Any] = {"kind": "scalar"}
# How many times (optional, 1), within the last N days (optional).
ACTIVITY: dict[str, Any] = {"kind": "activity"}
# Within the last N days (optional).
WINDOW: dict[str, Any] = {"kind": "window"}


def number(label: str, placeholder: str, *, step: str = "1", minimum: str | None = "0",
           unit: str | None = None) -> dict[str, Any]:
    """A number input; `unit` is the words after it ("days ago")."""
    widget: dict[str, Any] = {"kind": "number", "label": label, "placeholder": placeholder, "step": step,
                              "min": minimum}
    if unit:
        widget["unit"] = unit
    return widget


def text(label: str, placeholder: str | None = None, suggestions: str | None = None) -> dict[str, Any]:
    """A text input; `suggestions` is the id of a <datalist> of the builder page."""
    return {"kind": "text", "label": label, "placeholder": placeholder, "list": suggestions}


def event(kind: str, label: str, placeholder: str, suggestions: str | None) -> dict[str, Any]:
    """An event (by id: kind "event-id", by name: "event-name") and optional from/to dates."""
    return {"kind": kind, "label": label, "placeholder": placeholder, "list": suggestions}


def leading(field: str, label: str, placeholder: str, suggestions: str | None = None) -> dict[str, Any]:
    """A text input for one of the item's settings, shown before the operator."""
    return {"field": field, "label": label, "placeholder": placeholder, "list": suggestions}
