"""Topics: the customer gets (or does not get) a topic's campaigns, by their own choice or
else the topic's default (models/audience.py `subscribed_to_topic`, which campaign
audiences read too). The email status is a separate condition."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, not_
from sqlalchemy.sql.elements import ColumnElement

from webapp.infra.errors import ValidationFailed
from webapp.infra.types import MAX_ID
from webapp.models import Customer, Topic, subscribed_to_topic
from webapp.segments.conditions.base import Condition, ConditionType, SqlContext
from webapp.segments.facts import CustomerFacts


class TopicCondition(ConditionType):
    name = "topic"
    label = "Topic"
    operators = {"subscribed": "is subscribed to", "not_subscribed": "is not subscribed to"}
    default_operator = "subscribed"
    builder_operator = "subscribed"

    def parse(self, raw: dict, operator: str, path: str) -> dict[str, Any]:
        value = raw.get("value")
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
            raise ValidationFailed(f"{path}.value", "must be a topic id (GET /api/crm/topics lists them)")
        return {"value": value}

    def compile(self, sql: SqlContext, cond: Condition) -> ColumnElement[bool]:
        # Only the customer's own organisation's topic counts: another's id matches nobody.
        own = exists().where(Topic.id == cond.value, Topic.tenant_id == Customer.tenant_id)
        gets = and_(own, subscribed_to_topic(cond.value, Customer.id))
        return gets if cond.operator == "subscribed" else not_(gets)

    def evaluate(self, cond: Condition, customer: CustomerFacts, now: datetime) -> bool:
        return (cond.value in customer.topics) == (cond.operator == "subscribed")

    def describe(self, raw: dict[str, Any], op: str, op_label: str) -> str:
        name = raw.get("topic_name")
        what = f"“{name}”" if name else f"topic #{raw.get('value')}"
        return f"{'Subscribed' if op == 'subscribed' else 'Not subscribed'} to {what}"

    def widget(self, operator: str | None) -> dict[str, Any]:
        return {"kind": "topic", "label": "Topic"}


TYPES = (TopicCondition(),)
