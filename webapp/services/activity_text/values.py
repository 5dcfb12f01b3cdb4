"""Stored values as words: labels from keys ("seat_row" -> "Seat row"), nested objects
flattened under their parent's label ("Event name"), lists joined, long text cut short,
ISO timestamps as moments. Nothing comes out as a Python repr or JSON."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from webapp.infra.validation import parse_moment
from webapp.services.activity_text.parts import Moment, Part, Text

SHORT = 80  # characters of a value in a one-line summary
LONG = 500  # ... in the details list
MAX_DEPTH = 3  # nested objects below this are counted, not shown
MAX_ITEMS = 5  # list items shown before "and N more"
MAX_PAIRS = 60  # labelled values in a details list

_AWARE = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})"
_AWARE_RE = re.compile(_AWARE)
_NAIVE_RE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2})(?::\d{2}(?:\.\d{1,9})?)?)?")
_WORD_BREAKS = re.compile(r"[\s_\-.:/]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def label(*keys: str) -> str:
    """A label for people from a key path: ("event", "starts_at") -> "Event starts at"."""
    words = []
    for key in keys:
        words += [w for w in _WORD_BREAKS.split(_CAMEL.sub(" ", str(key))) if w]
    text = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)[:60]
    return (text[:1].upper() + text[1:]) if text else "Value"


def shorten(text: str, limit: int = SHORT) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def number(value: int | float) -> str:
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.10g}"
    return str(value)


def moment_of(text: str) -> datetime | None:
    """The aware moment a string holds when it is exactly an ISO 8601 timestamp with an offset."""
    if len(text) > 40 or not _AWARE_RE.fullmatch(text.strip()):
        return None
    return parse_moment(text.strip())


def _naive_date(text: str) -> str | None:
    """A date or a timestamp without offset, as written (we do not know its zone)."""
    found = _NAIVE_RE.fullmatch(text.strip()) if len(text) <= 40 else None
    if not found:
        return None
    try:
        day = datetime.fromisoformat(found.group(1))
    except ValueError:
        return None
    words = f"{day:%a} {day.day} {day:%b %Y}"
    return f"{words}, {found.group(2)}" if found.group(2) else words


def scalar_text(value: Any, limit: int = SHORT) -> str:
    """A scalar as words (a list or object is counted)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return number(value)
    if isinstance(value, dict):
        return f"{len(value)} value{'s' if len(value) != 1 else ''}"
    if isinstance(value, list):
        return f"{len(value)} item{'s' if len(value) != 1 else ''}"
    text = str(value)
    return _naive_date(text) or shorten(text, limit)


def _inline_object(value: dict, limit: int) -> str:
    """An object inside a list, on one line: "Type VIP, price 40"."""
    pairs = []
    for n, (key, item) in enumerate(list(value.items())[:MAX_ITEMS]):
        name = label(key)
        pairs.append(f"{name if n == 0 or name[:2].isupper() else name[:1].lower() + name[1:]} "
                     f"{scalar_text(item, limit)}")
    return ", ".join(pairs) + (", …" if len(value) > MAX_ITEMS else "")


def value_parts(value: Any, limit: int = SHORT) -> list[Part]:
    """One stored value as parts: a moment for an ISO timestamp, text otherwise."""
    if isinstance(value, str) and (at := moment_of(value)) is not None:
        return [Moment(at)]
    if isinstance(value, list):
        if not value:
            return [Text("none")]
        shown = [_inline_object(v, limit) if isinstance(v, dict) else scalar_text(v, limit)
                 for v in value[:MAX_ITEMS]]
        more = f" and {len(value) - MAX_ITEMS} more" if len(value) > MAX_ITEMS else ""
        separator = "; " if any(isinstance(v, dict) for v in value[:MAX_ITEMS]) else ", "
        return [Text(shorten(separator.join(shown), limit * 2) + more)]
    return [Text(scalar_text(value, limit))]


def flatten(properties: dict[str, Any], path: tuple[str, ...] = ()) -> list[tuple[str, Any]]:
    """(label, leaf value) pairs, objects flattened under their parent's label."""
    out: list[tuple[str, Any]] = []
    for key, value in properties.items():
        here = (*path, str(key))
        if isinstance(value, dict) and value and len(here) < MAX_DEPTH:
            out += flatten(value, here)
        else:
            out.append((label(*here), value))
        if len(out) >= MAX_PAIRS:
            break
    return out[:MAX_PAIRS]


def labelled(properties: Any, limit: int = LONG) -> list[tuple[str, list[Part]]]:
    """Stored properties as a labelled list (the "details" disclosure)."""
    if not isinstance(properties, dict):
        return [("Value", value_parts(properties, limit))] if properties not in (None, "") else []
    return [(name, value_parts(value, limit)) for name, value in flatten(properties)]


def summary_of(properties: Any, skip: tuple[str, ...] = (), most: int = 3) -> list[Part]:
    """A type we have no sentence for: its first few values, labelled, on one line."""
    if not isinstance(properties, dict):
        return value_parts(properties) if properties not in (None, "", []) else [Text("No details")]
    pairs = flatten({k: v for k, v in properties.items() if k not in skip})
    if not pairs:
        return [Text("No details")]
    out: list[Part] = []
    for n, (name, value) in enumerate(pairs[:most]):
        out += [Text((" · " if n else "") + f"{name}: "), *value_parts(value)]
    if len(pairs) > most:
        out.append(Text(f" · {len(pairs) - most} more"))
    return out


def with_moments(text: str | None) -> list[Part]:
    """Free text the product wrote (a trace's detail, an exit reason) with its ISO
    timestamps as moments, "until 2026-12-05T15:25:36+00:00" read as a local time, and a
    capital letter first."""
    if not text:
        return []
    out: list[Part] = []
    last = 0
    for found in _AWARE_RE.finditer(text):
        at = parse_moment(found.group(0))
        if at is None:
            continue
        if found.start() > last:
            out.append(Text(text[last:found.start()]))
        out.append(Moment(at))
        last = found.end()
    if last < len(text):
        out.append(Text(text[last:]))
    first = out[0]
    if isinstance(first, Text) and first.text:
        out[0] = Text(first.text[:1].upper() + first.text[1:])
    return out
