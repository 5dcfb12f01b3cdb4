"""What customers did: any activity type counted (optionally within a window and with one
property), and purchases of tickets for an event."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select, true
from sqlalchemy.sql.elements import ColumnElement

from webapp.infra.errors import ValidationFailed
from webapp.infra.sql import like_pattern
from webapp.models import Customer, CustomerActivity
from webapp.segments.conditions import inputs
from webapp.segments.conditions.base import Condition, ConditionType, SqlContext
from webapp.segments.conditions.comparisons import json_match
from webapp.segments.conditions.values import (
    ATTRIBUTE_KEY_RE,
    MAX_COUNT,
    read_date,
    read_number,
    read_scalar,
    read_text,
    read_window,
)
from webapp.segments.conditions.words import describe_common, quoted
from webapp.segments.facts import CustomerFacts

ACTIVITY_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class Activity(ConditionType):
    name = "activity"
    label = "Activity"
    operators = {"at_least": "at least", "at_most": "at most", "exactly": "exactly"}
    default_operator = "at_least"
    builder_operator = "at_least"
    settings = {"activity_type": "Activity", "within_last_days": "Days", "property": "Property"}
    leading = (inputs.leading("activity_type", "Activity type", "e.g. purchase", "known-activity-types"),)

    def parse(self, raw: dict, operator: str, path: str) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        activity_type = raw.get("activity_type")
        if not isinstance(activity_type, str) or not ACTIVITY_TYPE_RE.match(activity_type):
            raise ValidationFailed(f"{path}.activity_type", "must be an activity type such as 'purchase'")
        extra["activity_type"] = activity_type
        value = raw.get("value")
        value = read_number(1 if value is None else value, path, integer=True, maximum=MAX_COUNT)
        read_window(raw, path, extra)
        prop = raw.get("property")
        if prop is not None:
            if not isinstance(prop, dict) or not ATTRIBUTE_KEY_RE.match(str(prop.get("key", ""))):
                raise ValidationFailed(f"{path}.property", "must be {\"key\": name, \"value\": value}")
            extra["property_key"] = prop["key"]
            extra["property_value"] = read_scalar(prop.get("value"), f"{path}.property")
        return {"value": value, **extra}

    def compile(self, sql: SqlContext, cond: Condition) -> ColumnElement[bool]:
        criteria = [CustomerActivity.customer_id == Customer.id, CustomerActivity.type == cond.activity_type]
        if cond.within_last_days is not None:
            criteria.append(CustomerActivity.occurred_at >= sql.days_ago(cond.within_last_days))
        if cond.property_key is not None:
            criteria.append(sql.json_match(CustomerActivity.properties, cond.property_key, "=",
                                           cond.property_value))
        if cond.operator == "at_least" and cond.value <= 1:
            return exists().where(*criteria) if cond.value == 1 else true()
        count = select(func.count()).where(*criteria).scalar_subquery()
        if cond.operator == "at_least":
            return count >= cond.value
        if cond.operator == "at_most":
            return count <= cond.value
        return count == cond.value

    def evaluate(self, cond: Condition, customer: CustomerFacts, now: datetime) -> bool:
        count = sum(1 for a in customer.activities if a.type == cond.activity_type
                    and (cond.within_last_days is None or a.occurred_at >= now - timedelta(days=cond.within_last_days))
                    and (cond.property_key is None or json_match(a.properties, cond.property_key, "=",
                                                                 cond.property_value)))
        v = cond.value
        return {"at_least": count >= v, "at_most": count <= v, "exactly": count == v}[cond.operator]

    def describe(self, raw: dict[str, Any], op: str, op_label: str) -> str:
        common = describe_common(self.label, raw, op, op_label)
        if common is not None:
            return common
        value = raw.get("value")
        count = 1 if value is None else value
        text = f"Did {quoted(raw.get('activity_type'))} {op_label} {count} time{'s' if count != 1 else ''}"
        if raw.get("within_last_days"):
            text += f" in the last {raw['within_last_days']} days"
        prop = raw.get("property")
        if isinstance(prop, dict):
            text += f" with {prop.get('key')} = {quoted(prop.get('value'))}"
        return text

    def widget(self, operator: str | None) -> dict[str, Any]:
        return inputs.ACTIVITY


class PurchasedEvent(ConditionType):
    name = "purchased_event"
    label = "Bought tickets for"
    operators = {"id": "event id", "name": "event named", "name_contains": "event name contains"}
    default_operator = "id"
    builder_operator = "name"
    settings = {"from": "From", "to": "To"}

    def parse(self, raw: dict, operator: str, path: str) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        value = raw.get("value")
        if operator == "id":
            if isinstance(value, bool) or not isinstance(value, (int, str)) or str(value).strip() == "":
                raise ValidationFailed(f"{path}.value", "must be the event's id")
            value = str(value).strip()
        else:
            value = read_text(value, path, 300)
        if raw.get("from") is not None:
            extra["since"] = read_date(raw["from"], f"{path}.from")
        if raw.get("to") is not None:
            extra["until"] = read_date(raw["to"], f"{path}.to")
        return {"value": value, **extra}

    def compile(self, sql: SqlContext, cond: Condition) -> ColumnElement[bool]:
        criteria = [CustomerActivity.customer_id == Customer.id, CustomerActivity.type == "purchase"]
        if cond.operator == "id":
            criteria.append(CustomerActivity.event_id == cond.value)
        elif cond.operator == "name":
            criteria.append(func.lower(CustomerActivity.event_name) == cond.value.lower())
        else:
            criteria.append(func.lower(CustomerActivity.event_name).like(like_pattern(cond.value.lower()),
                                                                         escape="\\"))
        if cond.since is not None:
            criteria.append(CustomerActivity.occurred_at >= sql.at(cond.since))
        if cond.until is not None:
            criteria.append(CustomerActivity.occurred_at <= sql.at(cond.until))
        return exists().where(*criteria)

    def evaluate(self, cond: Condition, customer: CustomerFacts, now: datetime) -> bool:
        op, v = cond.operator, cond.value
        for a in customer.activities:
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

    def describe(self, raw: dict[str, Any], op: str, op_label: str) -> str:
        common = describe_common(self.label, raw, op, op_label)
        if common is not None:
            return common
        which = {"id": "the event with id", "name": "the event", "name_contains": "an event whose name contains"}
        text = f"Bought tickets for {which.get(op, op_label)} {quoted(raw.get('value'))}"
        if raw.get("from"):
            text += f" from {raw['from']}"
        if raw.get("to"):
            text += f" until {raw['to']}"
        return text

    def widget(self, operator: str | None) -> dict[str, Any]:
        if operator == "id":
            return inputs.event("event-id", "Event id", "event id", "known-event-ids")
        return inputs.event("event-name", "Event name", "event name",
                            "known-event-names" if operator == "name" else None)


TYPES = (Activity(), PurchasedEvent())
