"""Tags: the customer has, or has not, a tag (tags are stored lower-case)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import exists, not_
from sqlalchemy.sql.elements import ColumnElement

from webapp.models import Customer, CustomerTag
from webapp.segments.conditions import inputs
from webapp.segments.conditions.base import Condition, ConditionType, SqlContext
from webapp.segments.conditions.values import read_text
from webapp.segments.conditions.words import quoted
from webapp.segments.facts import CustomerFacts


class Tag(ConditionType):
    name = "tag"
    label = "Tag"
    operators = {"has": "has tag", "has_not": "does not have tag"}
    default_operator = "has"
    builder_operator = "has"

    def parse(self, raw: dict, operator: str, path: str) -> dict[str, Any]:
        return {"value": read_text(raw.get("value"), path, 100).lower()}

    def compile(self, sql: SqlContext, cond: Condition) -> ColumnElement[bool]:
        has = exists().where(CustomerTag.customer_id == Customer.id, CustomerTag.tag == cond.value)
        return has if cond.operator == "has" else not_(has)

    def evaluate(self, cond: Condition, customer: CustomerFacts, now: datetime) -> bool:
        return (cond.value in customer.tags) == (cond.operator == "has")

    def describe(self, raw: dict[str, Any], op: str, op_label: str) -> str:
        return f"{'Has' if op == 'has' else 'Does not have'} tag {quoted(raw.get('value'))}"

    def widget(self, operator: str | None) -> dict[str, Any]:
        return inputs.text("Tag", "tag, e.g. vip", "known-tags")


TYPES = (Tag(),)
