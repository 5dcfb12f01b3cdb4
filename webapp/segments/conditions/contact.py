"""The customer's contact fields: email address, first and last name, email status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_
from sqlalchemy.sql.elements import ColumnElement

from webapp.infra.errors import ValidationFailed
from webapp.infra.sql import like_pattern
from webapp.models import EMAIL_STATUSES, Customer
from webapp.segments.conditions import inputs
from webapp.segments.conditions.base import Condition, ConditionType, SqlContext
from webapp.segments.conditions.operators import NO_VALUE_OPERATORS, PRESENCE
from webapp.segments.conditions.values import quote, read_text
from webapp.segments.conditions.words import describe_plain
from webapp.segments.facts import CustomerFacts

TEXT_MATCHES = {"equals": "is", "not_equals": "is not", "contains": "contains", "starts_with": "starts with",
                "ends_with": "ends with"}


class Email(ConditionType):
    name = "email"
    label = "Email address"
    operators = {op: TEXT_MATCHES[op] for op in ("equals", "not_equals", "contains", "ends_with")}
    builder_operator = "ends_with"

    def parse(self, raw: dict, operator: str, path: str) -> dict[str, Any]:
        return {"value": read_text(raw.get("value"), path).lower()}

    def compile(self, sql: SqlContext, cond: Condition) -> ColumnElement[bool]:
        return _text_match(Customer.email, cond.operator, cond.value)

    def evaluate(self, cond: Condition, customer: CustomerFacts, now: datetime) -> bool:
        return _text(customer.email, cond.operator, cond.value)

    def describe(self, raw: dict[str, Any], op: str, op_label: str) -> str:
        return describe_plain(self.label, raw, op, op_label, quote=True)

    def widget(self, operator: str | None) -> dict[str, Any]:
        return inputs.text("Value", "e.g. @example.com")


class PersonName(ConditionType):
    """A name column of the customer row, which may be empty; the reference reads the fact
    of the same name."""

    operators = {**TEXT_MATCHES, **PRESENCE}
    builder_operator = "equals"

    def __init__(self, name: str, label: str, column):
        self.name = name
        self.label = label
        self.column = column

    def parse(self, raw: dict, operator: str, path: str) -> dict[str, Any]:
        return {"value": None if operator in NO_VALUE_OPERATORS else read_text(raw.get("value"), path, 200)}

    def compile(self, sql: SqlContext, cond: Condition) -> ColumnElement[bool]:
        return _text_match(self.column, cond.operator, cond.value, nullable=True)

    def evaluate(self, cond: Condition, customer: CustomerFacts, now: datetime) -> bool:
        return _text(getattr(customer, self.name), cond.operator, cond.value)

    def describe(self, raw: dict[str, Any], op: str, op_label: str) -> str:
        return describe_plain(self.label, raw, op, op_label, quote=True)

    def widget(self, operator: str | None) -> dict[str, Any]:
        return inputs.NONE if operator in NO_VALUE_OPERATORS else inputs.text("Value", "text")


class EmailStatus(ConditionType):
    name = "email_status"
    label = "Email status"
    operators = {"=": "is", "!=": "is not", "in": "is one of", "not_in": "is none of"}
    default_operator = "="
    builder_operator = "="

    def parse(self, raw: dict, operator: str, path: str) -> dict[str, Any]:
        value = raw.get("value")
        values = value if operator in ("in", "not_in") else [value]
        if not isinstance(values, list) or not values:
            raise ValidationFailed(f"{path}.value", "must be a list of statuses")
        for v in values:
            if v not in EMAIL_STATUSES:
                raise ValidationFailed(f"{path}.value", f"{v!r} is not one of {quote(EMAIL_STATUSES)}")
        return {"value": tuple(values) if operator in ("in", "not_in") else values[0]}

    def compile(self, sql: SqlContext, cond: Condition) -> ColumnElement[bool]:
        if cond.operator == "=":
            return Customer.email_status == cond.value
        if cond.operator == "!=":
            return Customer.email_status != cond.value
        if cond.operator == "in":
            return Customer.email_status.in_(cond.value)
        return Customer.email_status.notin_(cond.value)

    def evaluate(self, cond: Condition, customer: CustomerFacts, now: datetime) -> bool:
        status, v = customer.email_status, cond.value
        return {"=": status == v, "!=": status != v,
                "in": status in (v or ()), "not_in": status not in (v or ())}[cond.operator]

    def widget(self, operator: str | None) -> dict[str, Any]:
        return inputs.STATUSES if operator in ("in", "not_in") else inputs.STATUS


TYPES = (Email(), PersonName("first_name", "First name", Customer.first_name),
         PersonName("last_name", "Last name", Customer.last_name), EmailStatus())


def _text_match(column, op: str, value: str | None, *, nullable: bool = False) -> ColumnElement[bool]:
    lowered = func.lower(column)
    if op == "is_set":
        return and_(column.isnot(None), column != "")
    if op == "is_not_set":
        return or_(column.is_(None), column == "")
    if op == "equals":
        expr = lowered == value.lower()
    elif op == "not_equals":
        expr = lowered != value.lower()
        return or_(column.is_(None), expr) if nullable else expr
    elif op == "contains":
        expr = lowered.like(like_pattern(value.lower()), escape="\\")
    elif op == "starts_with":
        expr = lowered.like(like_pattern(value.lower())[1:], escape="\\")
    else:  # ends_with
        expr = lowered.like(like_pattern(value.lower())[:-1], escape="\\")
    return and_(column.isnot(None), expr) if nullable else expr


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
