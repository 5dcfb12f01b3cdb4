"""Parse and validate segment definitions.

A definition is the specification's list of `{"type", "operator", "value"}` items combined
by `match` ("all" by default, or "any"); an item may itself be a group
`{"match": ..., "conditions": [...]}`, nested at most MAX_DEPTH deep. Errors name the
offending item, e.g. `conditions[1].operator: '>>' is not one of '=', '!=', ...`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from webapp.infra.errors import ValidationFailed
from webapp.infra.types import MAX_ID
from webapp.infra.validation import check_storable, read_moment, utc_moment
from webapp.models import EMAIL_STATUSES

MAX_DEPTH = 4
MAX_CONDITIONS = 100
# The columns' bounds: total_spent is Numeric(14, 2), counts are 32-bit integers. Numbers
# compared with free-form attributes stay far inside a double.
MAX_MONEY = 10**12
MAX_COUNT = 2**31 - 1
MAX_NUMBER = 1e15

COMPARISON = ("=", "!=", ">", ">=", "<", "<=")
DATE_OPERATORS = ("before", "after", "on", "between", "within_last_days", "more_than_days_ago",
                  "is_set", "is_not_set")
TEXT_OPERATORS = ("equals", "not_equals", "contains", "starts_with", "ends_with", "is_set", "is_not_set")
EMAIL_OPERATORS = ("equals", "not_equals", "contains", "ends_with")
TAG_OPERATORS = ("has", "has_not")
STATUS_OPERATORS = ("=", "!=", "in", "not_in")
ATTRIBUTE_OPERATORS = (*COMPARISON, "contains", "is_set", "is_not_set")
ACTIVITY_OPERATORS = ("at_least", "at_most", "exactly")
EVENT_OPERATORS = ("id", "name", "name_contains")
ENGAGEMENT_OPERATORS = ("opened", "clicked", "not_opened", "not_clicked")

OPERATORS: dict[str, tuple[str, ...]] = {
    "total_spent": COMPARISON,
    "orders_count": COMPARISON,
    "last_order_at": DATE_OPERATORS,
    "created_at": DATE_OPERATORS,
    "tag": TAG_OPERATORS,
    "email": EMAIL_OPERATORS,
    "first_name": TEXT_OPERATORS,
    "last_name": TEXT_OPERATORS,
    "email_status": STATUS_OPERATORS,
    "attribute": ATTRIBUTE_OPERATORS,
    "activity": ACTIVITY_OPERATORS,
    "purchased_event": EVENT_OPERATORS,
    "email_engagement": ENGAGEMENT_OPERATORS,
}
DEFAULT_OPERATOR = {"tag": "has", "email_status": "=", "activity": "at_least", "purchased_event": "id"}
NO_VALUE_OPERATORS = frozenset({"is_set", "is_not_set"})
# Conditions whose truth changes with the clock alone: their segments are recalculated
# periodically.
RELATIVE_OPERATORS = frozenset({"within_last_days", "more_than_days_ago"})

ATTRIBUTE_KEY_RE = re.compile(r"^[A-Za-z0-9_\-]{1,100}$")
ACTIVITY_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Condition:
    type: str
    operator: str
    value: Any = None
    # Extra arguments some types take: attribute key, activity type, windows, ranges.
    key: str | None = None
    activity_type: str | None = None
    within_last_days: int | None = None
    property_key: str | None = None
    property_value: Any = None
    since: datetime | None = None
    until: datetime | None = None
    campaign_id: int | None = None


@dataclass(frozen=True)
class Group:
    match: str
    conditions: tuple[Condition | Group, ...] = field(default_factory=tuple)

    def walk(self):
        for item in self.conditions:
            if isinstance(item, Group):
                yield from item.walk()
            else:
                yield item

    @property
    def is_time_relative(self) -> bool:
        """True when the clock alone can change membership."""
        for cond in self.walk():
            if cond.operator in RELATIVE_OPERATORS or cond.within_last_days is not None:
                return True
            if cond.type == "email_engagement":
                return True
        return False


def _quote(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _number(value: Any, path: str, *, integer: bool = False, minimum: float | None = 0,
            maximum: float = MAX_NUMBER) -> float | int:
    """A JSON number within [minimum, maximum]: the bounds of the column it is compared with,
    so a condition can never ask the database for a value its type cannot hold."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationFailed(f"{path}.value", "must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationFailed(f"{path}.value", "must be a finite number")
    if integer and not float(value).is_integer():
        raise ValidationFailed(f"{path}.value", "must be a whole number")
    if minimum is not None and value < minimum:
        raise ValidationFailed(f"{path}.value", f"must be >= {minimum:g}")
    if minimum is None and value < -maximum:
        raise ValidationFailed(f"{path}.value", f"must be >= {-maximum:,g}")
    if value > maximum:
        raise ValidationFailed(f"{path}.value", f"must be <= {maximum:,}" if integer else f"must be below {maximum:,g}")
    return int(value) if integer else value


def _days(value: Any, path: str) -> int:
    days = _number(value, path, integer=True, minimum=0)
    if days > 36500:
        raise ValidationFailed(f"{path}.value", "must be at most 36500 days")
    return int(days)


def _moment(value: Any, path: str, *, end_of_day: bool = False) -> datetime:
    """A date (YYYY-MM-DD, taken in UTC) or an ISO 8601 datetime with offset, inside the
    product's calendar (the compiler adds a day to "on" dates; the engine adds windows)."""
    if not isinstance(value, str):
        raise ValidationFailed(path, "must be a date (YYYY-MM-DD) or an ISO 8601 datetime")
    moment = read_moment(value)
    if moment is None:
        raise ValidationFailed(path, f"'{value[:40]}' is not a date (YYYY-MM-DD) or an ISO 8601 datetime")
    return utc_moment(moment, path)


def _text(value: Any, path: str, max_length: int = 320) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"{path}.value", "must be a non-empty string")
    if len(value) > max_length:
        raise ValidationFailed(f"{path}.value", f"at most {max_length} characters")
    return value.strip()


def _scalar(value: Any, path: str) -> Any:
    if isinstance(value, (dict, list)) or value is None:
        raise ValidationFailed(f"{path}.value", "must be a string, number or boolean")
    return value


def _parse_condition(raw: dict, path: str) -> Condition:
    ctype = raw.get("type")
    if not isinstance(ctype, str) or ctype not in OPERATORS:
        raise ValidationFailed(f"{path}.type", f"{ctype!r} is not one of {_quote(tuple(OPERATORS))}")
    allowed = OPERATORS[ctype]
    operator = raw.get("operator", DEFAULT_OPERATOR.get(ctype))
    if operator is None:
        raise ValidationFailed(f"{path}.operator", f"is required for {ctype}: one of {_quote(allowed)}")
    if operator not in allowed:
        shown = operator if isinstance(operator, str) else repr(operator)
        raise ValidationFailed(f"{path}.operator", f"'{shown}' is not one of {_quote(allowed)}")
    value = raw.get("value")
    known = {"type", "operator", "value"} | _EXTRA_KEYS.get(ctype, set())
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValidationFailed(f"{path}.{unknown[0]}", f"is not a setting of a {ctype} condition")
    extra: dict[str, Any] = {}

    if ctype == "total_spent":
        value = _number(value, path, maximum=MAX_MONEY)
    elif ctype == "orders_count":
        value = _number(value, path, integer=True, maximum=MAX_COUNT)
    elif ctype in ("last_order_at", "created_at"):
        if operator in NO_VALUE_OPERATORS:
            value = None
        elif operator in RELATIVE_OPERATORS:
            value = _days(value, path)
        elif operator == "between":
            if not isinstance(value, list) or len(value) != 2:
                raise ValidationFailed(f"{path}.value", "must be [from, to]")
            start = _moment(value[0], f"{path}.value[0]")
            end = _moment(value[1], f"{path}.value[1]")
            if end < start:
                raise ValidationFailed(f"{path}.value", "to must not be before from")
            value = (start, end)
        else:
            value = _moment(value, f"{path}.value")
    elif ctype == "tag":
        value = _text(value, path, 100).lower()
    elif ctype == "email":
        value = _text(value, path).lower()
    elif ctype in ("first_name", "last_name"):
        value = None if operator in NO_VALUE_OPERATORS else _text(value, path, 200)
    elif ctype == "email_status":
        values = value if operator in ("in", "not_in") else [value]
        if not isinstance(values, list) or not values:
            raise ValidationFailed(f"{path}.value", "must be a list of statuses")
        for v in values:
            if v not in EMAIL_STATUSES:
                raise ValidationFailed(f"{path}.value", f"{v!r} is not one of {_quote(EMAIL_STATUSES)}")
        value = tuple(values) if operator in ("in", "not_in") else values[0]
    elif ctype == "attribute":
        key = raw.get("key")
        if not isinstance(key, str) or not ATTRIBUTE_KEY_RE.match(key):
            raise ValidationFailed(f"{path}.key", "must be an attribute name: letters, digits, _ or -")
        extra["key"] = key
        if operator in NO_VALUE_OPERATORS:
            value = None
        elif operator in (">", ">=", "<", "<="):
            # Compared as a float with the stored value (attributes are free-form JSON).
            value = float(_number(value, path, minimum=None))
        elif operator == "contains":
            value = _text(value, path, 200)
        else:
            value = _scalar(value, path)
    elif ctype == "activity":
        activity_type = raw.get("activity_type")
        if not isinstance(activity_type, str) or not ACTIVITY_TYPE_RE.match(activity_type):
            raise ValidationFailed(f"{path}.activity_type", "must be an activity type such as 'purchase'")
        extra["activity_type"] = activity_type
        value = _number(1 if value is None else value, path, integer=True, maximum=MAX_COUNT)
        _window(raw, path, extra)
        prop = raw.get("property")
        if prop is not None:
            if not isinstance(prop, dict) or not ATTRIBUTE_KEY_RE.match(str(prop.get("key", ""))):
                raise ValidationFailed(f"{path}.property", "must be {\"key\": name, \"value\": value}")
            extra["property_key"] = prop["key"]
            extra["property_value"] = _scalar(prop.get("value"), f"{path}.property")
    elif ctype == "purchased_event":
        if operator == "id":
            if isinstance(value, bool) or not isinstance(value, (int, str)) or str(value).strip() == "":
                raise ValidationFailed(f"{path}.value", "must be the event's id")
            value = str(value).strip()
        else:
            value = _text(value, path, 300)
        if raw.get("from") is not None:
            extra["since"] = _moment(raw["from"], f"{path}.from")
        if raw.get("to") is not None:
            extra["until"] = _moment(raw["to"], f"{path}.to")
    elif ctype == "email_engagement":
        _window(raw, path, extra)
        if raw.get("campaign_id") is not None:
            campaign_id = raw["campaign_id"]
            if isinstance(campaign_id, bool) or not isinstance(campaign_id, int) or not 1 <= campaign_id <= MAX_ID:
                raise ValidationFailed(f"{path}.campaign_id", "must be a campaign id")
            extra["campaign_id"] = campaign_id
        value = None
    return Condition(type=ctype, operator=operator, value=value, **extra)


def _window(raw: dict, path: str, extra: dict) -> None:
    if raw.get("within_last_days") is not None:
        days = raw["within_last_days"]
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 36500:
            raise ValidationFailed(f"{path}.within_last_days", "must be a whole number of days from 1 to 36500")
        extra["within_last_days"] = days


_EXTRA_KEYS = {
    "attribute": {"key"},
    "activity": {"activity_type", "within_last_days", "property"},
    "purchased_event": {"from", "to"},
    "email_engagement": {"within_last_days", "campaign_id"},
}


def parse_definition(conditions: Any, match: Any = "all", *, path: str = "conditions") -> Group:
    """Validate a definition and return its tree; raises ValidationFailed naming the item."""
    check_storable(conditions, path)
    counter = [0]
    return _parse_group(conditions, match, path, depth=1, counter=counter)


def _parse_group(conditions: Any, match: Any, path: str, *, depth: int, counter: list[int]) -> Group:
    if match not in ("all", "any"):
        where = path.rsplit(".", 1)[0] + ".match" if "." in path else "match"
        raise ValidationFailed(where, f"{match!r} is not one of 'all', 'any'")
    if not isinstance(conditions, list):
        raise ValidationFailed(path, "must be a list of conditions")
    if not conditions:
        raise ValidationFailed(path, "needs at least one condition")
    items: list[Condition | Group] = []
    for i, raw in enumerate(conditions):
        item_path = f"{path}[{i}]"
        if not isinstance(raw, dict):
            raise ValidationFailed(item_path, "must be an object")
        counter[0] += 1
        if counter[0] > MAX_CONDITIONS:
            raise ValidationFailed(item_path, f"a segment has at most {MAX_CONDITIONS} conditions")
        if "conditions" in raw:
            if depth >= MAX_DEPTH:
                raise ValidationFailed(item_path, f"groups nest at most {MAX_DEPTH} levels deep")
            extra = sorted(set(raw) - {"match", "conditions"})
            if extra:
                raise ValidationFailed(f"{item_path}.{extra[0]}", "is not a setting of a group")
            items.append(_parse_group(raw["conditions"], raw.get("match", "all"),
                                      f"{item_path}.conditions", depth=depth + 1, counter=counter))
        else:
            items.append(_parse_condition(raw, item_path))
    return Group(match=match, conditions=tuple(items))
