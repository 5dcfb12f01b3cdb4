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


# --- "fields": a row of labelled inputs, each bound to one key of the item -----------------
# The ticket and attendance conditions take several optional settings; a type lists them
# (with words between) and the script draws each: text, number, date, words, and "scope"
# (any event / one of the organisation's events / events of a tag / a venue).

def fields(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "fields", "fields": list(parts)}


def field_text(field: str, label: str, placeholder: str, suggestions: str | None = None) -> dict[str, Any]:
    """An optional text setting (left out when empty)."""
    return {"input": "text", "field": field, "label": label, "placeholder": placeholder, "list": suggestions,
            "optional": True}


def field_number(field: str, label: str, placeholder: str, *, step: str = "1", minimum: str = "0",
                 optional: bool = True, index: int | None = None) -> dict[str, Any]:
    """A number setting; `index` binds one end of a [from, to] pair held in `field`."""
    found = {"input": "number", "field": field, "label": label, "placeholder": placeholder, "step": step,
             "min": minimum, "optional": optional}
    if index is not None:
        found["index"] = index
    return found


def field_date(field: str, label: str) -> dict[str, Any]:
    return {"input": "date", "field": field, "label": label, "optional": True}


def field_words(text_: str) -> dict[str, Any]:
    return {"input": "words", "text": text_}


def field_scope(*choices: str) -> dict[str, Any]:
    """Which events: "any" plus `choices` among "event", "event_tag", "venue"."""
    return {"input": "scope", "choices": list(choices)}
