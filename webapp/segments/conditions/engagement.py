"""Email engagement: the customer opened or clicked (or did not) any email, or one campaign's,
ever or within the last N days. Its segments count as time-relative whatever the window
(they are recalculated periodically)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, not_
from sqlalchemy.sql.elements import ColumnElement

from webapp.infra.errors import ValidationFailed
from webapp.infra.types import MAX_ID
from webapp.models import Customer, CustomerActivity
from webapp.segments.conditions import inputs
from webapp.segments.conditions.base import Condition, ConditionType, SqlContext
from webapp.segments.conditions.comparisons import json_match
from webapp.segments.conditions.values import read_window
from webapp.segments.conditions.words import describe_common
from webapp.segments.facts import CustomerFacts


class EmailEngagement(ConditionType):
    name = "email_engagement"
    label = "Email engagement"
    operators = {"opened": "opened an email", "clicked": "clicked an email",
                 "not_opened": "did not open an email", "not_clicked": "did not click an email"}
    builder_operator = "opened"
    settings = {"within_last_days": "Days", "campaign_id": "Campaign"}

    def parse(self, raw: dict, operator: str, path: str) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        read_window(raw, path, extra)
        if raw.get("campaign_id") is not None:
            campaign_id = raw["campaign_id"]
            if isinstance(campaign_id, bool) or not isinstance(campaign_id, int) or not 1 <= campaign_id <= MAX_ID:
                raise ValidationFailed(f"{path}.campaign_id", "must be a campaign id")
            extra["campaign_id"] = campaign_id
        return {"value": None, **extra}

    def compile(self, sql: SqlContext, cond: Condition) -> ColumnElement[bool]:
        activity_type = "email_opened" if cond.operator in ("opened", "not_opened") else "email_clicked"
        criteria = [CustomerActivity.customer_id == Customer.id, CustomerActivity.type == activity_type]
        if cond.within_last_days is not None:
            criteria.append(CustomerActivity.occurred_at >= sql.days_ago(cond.within_last_days))
        if cond.campaign_id is not None:
            criteria.append(sql.json_match(CustomerActivity.properties, "campaign_id", "=", cond.campaign_id))
        found = exists().where(*criteria)
        return found if cond.operator in ("opened", "clicked") else not_(found)

    def evaluate(self, cond: Condition, customer: CustomerFacts, now: datetime) -> bool:
        wanted = "email_opened" if cond.operator in ("opened", "not_opened") else "email_clicked"
        found = any(a.type == wanted
                    and (cond.within_last_days is None or a.occurred_at >= now - timedelta(days=cond.within_last_days))
                    and (cond.campaign_id is None or json_match(a.properties, "campaign_id", "=", cond.campaign_id))
                    for a in customer.activities)
        return found if cond.operator in ("opened", "clicked") else not found

    def describe(self, raw: dict[str, Any], op: str, op_label: str) -> str:
        common = describe_common(self.label, raw, op, op_label)
        if common is not None:
            return common
        text = op_label[0].upper() + op_label[1:]
        if raw.get("campaign_id") is not None:
            text += f" of campaign #{raw['campaign_id']}"
        if raw.get("within_last_days"):
            text += f" in the last {raw['within_last_days']} days"
        return text

    def widget(self, operator: str | None) -> dict[str, Any]:
        return inputs.WINDOW

    def time_relative(self, cond: Condition) -> bool:
        return True


TYPES = (EmailEngagement(),)
