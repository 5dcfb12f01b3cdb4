"""The meaning of a segment definition, in plain Python.

Slow and obvious on purpose: the SQL compiler must agree with it on every input (a
hypothesis test generates customers, activities and definitions and compares them).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from webapp.segments.definition import Condition, Group
from webapp.segments.facts import ActivityFacts, CustomerFacts

__all__ = ["ActivityFacts", "CustomerFacts", "condition", "matches"]


def matches(group: Group, customer: CustomerFacts, now: datetime) -> bool:
    results = (matches(item, customer, now) if isinstance(item, Group) else condition(item, customer, now)
               for item in group.conditions)
    return all(results) if group.match == "all" else any(results)


def condition(cond: Condition, c: CustomerFacts, now: datetime) -> bool:
    t, op, v = cond.type, cond.operator, cond.value
    if t == "total_spent":
        return _compare(Decimal(str(c.total_spent)), op, Decimal(str(v)))
    if t == "orders_count":
        return _compare(c.orders_count, op, v)
    if t in ("last_order_at", "created_at"):
        return _date(getattr(c, t), op, v, now)
    if t == "tag":
        return (v in c.tags) == (op == "has")
    if t == "email":
        return _text(c.email, op, v)
    if t in ("first_name", "last_name"):
        return _text(getattr(c, t), op, v)
    if t == "email_status":
        return {"=": c.email_status == v, "!=": c.email_status != v,
                "in": c.email_status in (v or ()), "not_in": c.email_status not in (v or ())}[op]
    if t == "attribute":
        return _json(c.attributes, cond.key, op, v)
    if t == "activity":
        count = sum(1 for a in c.activities if a.type == cond.activity_type
                    and (cond.within_last_days is None or a.occurred_at >= now - timedelta(days=cond.within_last_days))
                    and (cond.property_key is None or _json(a.properties, cond.property_key, "=", cond.property_value)))
        return {"at_least": count >= v, "at_most": count <= v, "exactly": count == v}[op]
    if t == "purchased_event":
        for a in c.activities:
            if a.type != "purchase":
                continue
            if op == "id" and a.event_id != v:
                continue
            if op == "name" and (a.event_name is None or a.event_name.lower() != v.lower()):
                continue
            if op == "name_contains" and (a.event_name is None or v.lower() not in a.event_name.lower()):
                continue
            if cond.since is not None and a.occurred_at < cond.since:
                continue
            if cond.until is not None and a.occurred_at > cond.until:
                continue
            return True
        return False
    if t == "email_engagement":
        wanted = "email_opened" if op in ("opened", "not_opened") else "email_clicked"
        found = any(a.type == wanted
                    and (cond.within_last_days is None or a.occurred_at >= now - timedelta(days=cond.within_last_days))
                    and (cond.campaign_id is None or _json(a.properties, "campaign_id", "=", cond.campaign_id))
                    for a in c.activities)
        return found if op in ("opened", "clicked") else not found
    raise ValueError(f"unknown condition type {t}")


def _compare(left: Any, op: str, right: Any) -> bool:
    return {"=": left == right, "!=": left != right, ">": left > right, ">=": left >= right,
            "<": left < right, "<=": left <= right}[op]


def _date(value: datetime | None, op: str, v: Any, now: datetime) -> bool:
    if op == "is_set":
        return value is not None
    if op == "is_not_set":
        return value is None
    if value is None:
        return False
    if op == "within_last_days":
        return value >= now - timedelta(days=v)
    if op == "more_than_days_ago":
        return value < now - timedelta(days=v)
    if op == "before":
        return value < v
    if op == "after":
        return value > v
    if op == "on":
        return v <= value < v + timedelta(days=1)
    return v[0] <= value <= v[1]


def _text(value: str | None, op: str, v: str | None) -> bool:
    if op == "is_set":
        return bool(value)
    if op == "is_not_set":
        return not value
    if op == "not_equals":
        return value is None or value.lower() != v.lower()
    if value is None:
        return False
    low, needle = value.lower(), v.lower()
    return {"equals": low == needle, "contains": needle in low,
            "starts_with": low.startswith(needle), "ends_with": low.endswith(needle)}[op]


def _json_equal(a: Any, b: Any) -> bool:
    # JSON semantics: booleans only equal booleans; 5 equals 5.0.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return type(a) is type(b) and a == b


def _json(doc: dict[str, Any], key: str, op: str, v: Any) -> bool:
    present = key in doc and doc[key] is not None
    value = doc.get(key)
    if op == "is_set":
        return present
    if op == "is_not_set":
        return not present
    if op == "=":
        return present and _json_equal(value, v)
    if op == "!=":
        return not (present and _json_equal(value, v))
    if op == "contains":
        return isinstance(value, str) and str(v).lower() in value.lower()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return _compare(float(value), op, float(v))
