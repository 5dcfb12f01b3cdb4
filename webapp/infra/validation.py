"""Turning pydantic validation errors into field-named domain errors."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ValidationError

from webapp.infra.errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)


def number_only(value: Any) -> Any:
    """Before-validator for money: a JSON number, never a string or a boolean."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a JSON number")
    return value


def field_path(loc: tuple[Any, ...], prefix: str = "") -> str:
    """('conditions', 1, 'operator') -> 'conditions[1].operator'."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


# Whole numbers in free-form JSON (attributes, properties, payloads, configs) fit a signed
# 64-bit integer: every backend and every comparison (a cast to bigint or float) takes them.
MAX_JSON_INT = 2**63 - 1
# The calendar every stored moment lies in. Python's datetime ends at 9999-12-31, so a
# moment near either end overflows once it is moved to UTC or a day is added; a window
# far inside leaves room for any offset, wait or window arithmetic the product does.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
CALENDAR_MESSAGE = "must be between 1900-01-01 and 2999-12-31"


# A lone surrogate (\ud800 in JSON) is not a character: neither UTF-8 nor PostgreSQL stores it.
_UNSTORABLE_CHARACTER = re.compile("[\x00\ud800-\udfff]")


def text_problem(text: str) -> str | None:
    """Why no database would store `text` as it is (PostgreSQL keeps no NUL), or None."""
    found = _UNSTORABLE_CHARACTER.search(text)  # one C-speed scan: campaign content runs to 500,000 characters
    if found is None:
        return None
    return "must not contain NUL characters" if "\x00" in text else "must not contain unpaired surrogate characters"


def unstorable(value: Any, path: str = "") -> tuple[str, str] | None:
    """(field path, reason) of the first value no backend stores faithfully, else None:
    NUL characters and lone surrogates in strings or keys, NaN and infinities, and whole
    numbers past 64 bits. Iterative, so a deeply nested document cannot exhaust the stack."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            reason = text_problem(item)
            if reason:
                return where, reason
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int | float):
            if isinstance(item, float) and not math.isfinite(item):
                return where, "must be a finite number (NaN and Infinity are not numbers)"
            # Floats too: PostgreSQL's JSON gives 1e20 back as the whole number 100000000000000000000.
            if not -MAX_JSON_INT <= item <= MAX_JSON_INT:
                return where, f"must be between {-MAX_JSON_INT} and {MAX_JSON_INT}"
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                sub = field_path((key,), where)
                reason = text_problem(str(key))
                if reason:
                    return sub, reason
                children.append((child, sub))
            stack.extend(reversed(children))
        elif isinstance(item, list | tuple):
            stack.extend(reversed([(child, f"{where}[{i}]") for i, child in enumerate(item)]))
    return None


def check_storable(value: Any, field: str) -> None:
    """ValidationFailed naming the place inside `value` that cannot be stored."""
    found = unstorable(value, field)
    if found is not None:
        raise ValidationFailed(found[0], found[1])


def in_calendar(moment: datetime) -> datetime | None:
    """`moment` (aware) in UTC, or None when it lies outside the product's calendar."""
    try:
        moment = moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return moment if EARLIEST <= moment < LATEST else None


def utc_moment(moment: datetime, field: str) -> datetime:
    """An aware moment in UTC within the calendar, or ValidationFailed naming the field."""
    if moment.tzinfo is None:
        raise ValidationFailed(field, "needs a timezone offset, e.g. 2026-05-01T19:30:00+02:00")
    found = in_calendar(moment)
    if found is None:
        raise ValidationFailed(field, CALENDAR_MESSAGE)
    return found


def read_moment(text: str) -> datetime | None:
    """A date (YYYY-MM-DD, midnight UTC) or an ISO 8601 datetime as written, naive or out of
    the calendar as it may be; None when it is neither."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def parse_moment(text: Any) -> datetime | None:
    """A stored ISO 8601 moment read warily (trigger payloads, old definitions): the aware
    UTC datetime, or None when it is missing, unreadable, naive or outside the calendar."""
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return in_calendar(moment) if moment.tzinfo is not None else None


def _moment_in_calendar(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("needs a timezone offset, e.g. 2026-05-01T19:30:00+02:00")
    found = in_calendar(moment)
    if found is None:
        raise ValueError(CALENDAR_MESSAGE)
    return found


def _loose_moment_in_calendar(moment: datetime) -> datetime:
    # Kept as given (a naive time stays naive), but inside the calendar either way.
    if in_calendar(moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)) is None:
        raise ValueError(CALENDAR_MESSAGE)
    return moment


# A request's moment: ISO 8601 with an offset, inside the calendar, converted to UTC.
Moment = Annotated[datetime, AfterValidator(_moment_in_calendar)]
# A moment carried in free-form properties (a purchase's event.starts_at): an offset is
# optional, the calendar is not.
LooseMoment = Annotated[datetime, AfterValidator(_loose_moment_in_calendar)]


def error_details(exc: ValidationError, prefix: str = "") -> list[dict]:
    details = []
    for err in exc.errors(include_url=False):
        # Unions report each branch in loc; the tagged branch name only adds noise.
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        details.append({"field": field_path(loc, prefix), "message": msg})
    return details


def failed_from(exc: ValidationError, prefix: str = "") -> ValidationFailed:
    details = error_details(exc, prefix)
    first = details[0] if details else {"field": prefix, "message": "is invalid"}
    return ValidationFailed(first["field"], first["message"], details=details)


def validate(model: type[M], data: Any, prefix: str = "") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise failed_from(exc, prefix) from None
