"""The meaning of a segment definition, in plain Python.

Slow and obvious on purpose: the SQL compiler must agree with it on every input (a
hypothesis test generates customers, activities and definitions and compares them). Each
condition's meaning is its type's `evaluate` (webapp.segments.conditions), written beside
its SQL.
"""

from __future__ import annotations

from datetime import datetime

from webapp.segments.conditions import CONDITION_TYPES, Condition
from webapp.segments.definition import Group
from webapp.segments.facts import ActivityFacts, CustomerFacts

__all__ = ["ActivityFacts", "CustomerFacts", "condition", "matches"]


def matches(group: Group, customer: CustomerFacts, now: datetime) -> bool:
    results = (matches(item, customer, now) if isinstance(item, Group) else condition(item, customer, now)
               for item in group.conditions)
    return all(results) if group.match == "all" else any(results)


def condition(cond: Condition, c: CustomerFacts, now: datetime) -> bool:
    kind = CONDITION_TYPES.get(cond.type)
    if kind is None:
        raise ValueError(f"unknown condition type {cond.type}")
    return kind.evaluate(cond, c, now)
