"""The customer's dates: last order and customer since, compared with dates or with "N days
ago" (the latter make a segment time-relative)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_
from sqlalchemy.sql.elements import ColumnElement

from webapp.infra.errors import ValidationFailed
from webapp.models import Customer
from webapp.segments.conditions import inputs
from webapp.segments.conditions.base import Condition, ConditionType, SqlContext
from webapp.segments.conditions.operators import NO_VALUE_OPERATORS, PRESENCE, RELATIVE_OPERATORS
from webapp.segments.conditions.values import read_date, read_days
from webapp.segments.facts import CustomerFacts

DATE_OPERATORS = {"before": "before", "after": "after", "on": "on", "between": "between",
                  "within_last_days": "in the last", "more_than_days_ago": "more than", **PRESENCE}


class CustomerDate(ConditionType):
    """A date column of the customer row; the reference reads the fact of the same name."""

    operators = DATE_OPERATORS
    builder_operator = "within_last_days"

    def __init__(self, name: str, label: str, column):
        self.name = name
        self.label = label
        self.column = column

    def parse(self, raw: dict, operator: str, path: str) -> dict[str, Any]:
        value = raw.get("value")
        if operator in NO_VALUE_OPERATORS:
            value = None
        elif operator in RELATIVE_OPERATORS:
            value = read_days(value, path)
        elif operator == "between":
            if not isinstance(value, list) or len(value) != 2:
                raise ValidationFailed(f"{path}.value", "must be [from, to]")
            start = read_date(value[0], f"{path}.value[0]")
            end = read_date(value[1], f"{path}.value[1]")
            if end < start:
                raise ValidationFailed(f"{path}.value", "to must not be before from")
            value = (start, end)
        else:
            value = read_date(value, f"{path}.value")
        return {"value": value}

    def compile(self, sql: SqlContext, cond: Condition) -> ColumnElement[bool]:
        column = self.column
        op, value = cond.operator, cond.value
        if op == "is_set":
            return column.isnot(None)
        if op == "is_not_set":
            return column.is_(None)
        if op == "within_last_days":
            expr = column >= sql.days_ago(value)
        elif op == "more_than_days_ago":
            expr = column < sql.days_ago(value)
        elif op == "before":
            expr = column < sql.at(value)
        elif op == "after":
            expr = column > sql.at(value)
        elif op == "on":
            expr = and_(column >= sql.at(value), column < sql.at(value + timedelta(days=1)))
        else:  # between, both ends included
            expr = and_(column >= sql.at(value[0]), column <= sql.at(value[1]))
        return and_(column.isnot(None), expr)

    def evaluate(self, cond: Condition, customer: CustomerFacts, now: datetime) -> bool:
        value: datetime | None = getattr(customer, self.name)
        op, v = cond.operator, cond.value
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

    def widget(self, operator: str | None) -> dict[str, Any]:
        if operator in NO_VALUE_OPERATORS:
            return inputs.NONE
        if operator in RELATIVE_OPERATORS:
            return inputs.number("Number of days", "30",
                                 unit="days ago" if operator == "more_than_days_ago" else "days")
        if operator == "between":
            return inputs.RANGE
        return inputs.DATE


TYPES = (CustomerDate("last_order_at", "Last order date", Customer.last_order_at),
         CustomerDate("created_at", "Customer since", Customer.created_at))
