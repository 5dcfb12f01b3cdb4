"""Custom attributes: one key of the customer's free-form JSON attributes, compared as JSON
(booleans only equal booleans, 5 equals 5.0, absent and null are "not set")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.sql.elements import ColumnElement

from webapp.infra.errors import ValidationFailed
from webapp.models import Customer
from webapp.segments.conditions import inputs
from webapp.segments.conditions.base import Condition, ConditionType, SqlContext
from webapp.segments.conditions.comparisons import json_match
from webapp.segments.conditions.operators import COMPARISON, NO_VALUE_OPERATORS, PRESENCE
from webapp.segments.conditions.values import ATTRIBUTE_KEY_RE, read_number, read_scalar, read_text
from webapp.segments.conditions.words import describe_common, quoted
from webapp.segments.facts import CustomerFacts


class Attribute(ConditionType):
    name = "attribute"
    label = "Custom attribute"
    operators = {**COMPARISON, "contains": "contains", **PRESENCE}
    builder_operator = "="
    settings = {"key": "Attribute name"}
    leading = (inputs.leading("key", "Attribute name", "attribute, e.g. city"),)

    def parse(self, raw: dict, operator: str, path: str) -> dict[str, Any]:
        key = raw.get("key")
        if not isinstance(key, str) or not ATTRIBUTE_KEY_RE.match(key):
            raise ValidationFailed(f"{path}.key", "must be an attribute name: letters, digits, _ or -")
        value = raw.get("value")
        if operator in NO_VALUE_OPERATORS:
            value = None
        elif operator in (">", ">=", "<", "<="):
            # Compared as a float with the stored value (attributes are free-form JSON).
            value = float(read_number(value, path, minimum=None))
        elif operator == "contains":
            value = read_text(value, path, 200)
        else:
            value = read_scalar(value, path)
        return {"value": value, "key": key}

    def compile(self, sql: SqlContext, cond: Condition) -> ColumnElement[bool]:
        return sql.json_match(Customer.attributes, cond.key, cond.operator, cond.value)

    def evaluate(self, cond: Condition, customer: CustomerFacts, now: datetime) -> bool:
        return json_match(customer.attributes, cond.key, cond.operator, cond.value)

    def describe(self, raw: dict[str, Any], op: str, op_label: str) -> str:
        subject = f"Attribute {quoted(raw.get('key'))}"
        common = describe_common(self.label, raw, op, op_label, subject=subject)
        return common if common is not None else f"{subject} {op_label} {quoted(raw.get('value'))}"

    def widget(self, operator: str | None) -> dict[str, Any]:
        if operator in NO_VALUE_OPERATORS:
            return inputs.NONE
        if operator in (">", ">=", "<", "<="):
            return inputs.number("Number", "number", step="any", minimum=None)
        if operator == "contains":
            return inputs.text("Value", "text")
        return inputs.SCALAR


TYPES = (Attribute(),)
