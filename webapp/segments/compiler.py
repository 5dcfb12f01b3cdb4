"""Compile a segment definition into one SQL statement selecting customer ids.

Every condition compiles to a two-valued boolean (never NULL), so groups combine with
plain AND / OR and `!=`-style operators include customers who lack the value, exactly as
the reference evaluator (`reference.py`) defines them. The same SQL runs on SQLite and
PostgreSQL; JSON access differs and is built per dialect.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Float,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from webapp.infra.sql import like_pattern
from webapp.infra.types import UTCDateTime, utcnow
from webapp.models import Customer, CustomerActivity, CustomerTag
from webapp.segments.definition import Condition, Group


class Compiler:
    """Builds SQL for one tenant, one backend and one evaluation instant."""

    def __init__(self, tenant_id: int, dialect: str, now: datetime | None):
        """`now=None` compiles "N days ago" as a parameter read from the clock at each
        execution, so the statement can be cached and reused."""
        self.tenant_id = tenant_id
        self.dialect = dialect
        self.now = now

    # --- entry points --------------------------------------------------------------------
    def members(self, group: Group, customer_ids: list[int] | None = None):
        """SELECT customers.id of the tenant's customers matching `group`."""
        stmt = select(Customer.id).where(Customer.tenant_id == self.tenant_id, self.group(group))
        if customer_ids is not None:
            stmt = stmt.where(Customer.id.in_(customer_ids))
        return stmt

    def group(self, group: Group) -> ColumnElement[bool]:
        parts = [self.group(item) if isinstance(item, Group) else self.condition(item)
                 for item in group.conditions]
        return and_(true(), *parts) if group.match == "all" else or_(false(), *parts)

    # --- conditions ----------------------------------------------------------------------
    def condition(self, cond: Condition) -> ColumnElement[bool]:
        return getattr(self, f"_{cond.type}")(cond)

    def _total_spent(self, cond: Condition) -> ColumnElement[bool]:
        return _compare(Customer.total_spent, cond.operator, cond.value)

    def _orders_count(self, cond: Condition) -> ColumnElement[bool]:
        return _compare(Customer.orders_count, cond.operator, cond.value)

    def _last_order_at(self, cond: Condition) -> ColumnElement[bool]:
        return self._date(Customer.last_order_at, cond)

    def _created_at(self, cond: Condition) -> ColumnElement[bool]:
        return self._date(Customer.created_at, cond)

    def _date(self, column, cond: Condition) -> ColumnElement[bool]:
        op, value = cond.operator, cond.value
        if op == "is_set":
            return column.isnot(None)
        if op == "is_not_set":
            return column.is_(None)
        if op == "within_last_days":
            expr = column >= self._days_ago(value)
        elif op == "more_than_days_ago":
            expr = column < self._days_ago(value)
        elif op == "before":
            expr = column < self._at(value)
        elif op == "after":
            expr = column > self._at(value)
        elif op == "on":
            expr = and_(column >= self._at(value), column < self._at(value + timedelta(days=1)))
        else:  # between, both ends included
            expr = and_(column >= self._at(value[0]), column <= self._at(value[1]))
        return and_(column.isnot(None), expr)

    def _tag(self, cond: Condition) -> ColumnElement[bool]:
        has = exists().where(CustomerTag.customer_id == Customer.id, CustomerTag.tag == cond.value)
        return has if cond.operator == "has" else not_(has)

    def _email(self, cond: Condition) -> ColumnElement[bool]:
        return _text_match(Customer.email, cond.operator, cond.value)

    def _first_name(self, cond: Condition) -> ColumnElement[bool]:
        return _text_match(Customer.first_name, cond.operator, cond.value, nullable=True)

    def _last_name(self, cond: Condition) -> ColumnElement[bool]:
        return _text_match(Customer.last_name, cond.operator, cond.value, nullable=True)

    def _email_status(self, cond: Condition) -> ColumnElement[bool]:
        if cond.operator == "=":
            return Customer.email_status == cond.value
        if cond.operator == "!=":
            return Customer.email_status != cond.value
        if cond.operator == "in":
            return Customer.email_status.in_(cond.value)
        return Customer.email_status.notin_(cond.value)

    def _attribute(self, cond: Condition) -> ColumnElement[bool]:
        return self._json_match(Customer.attributes, cond.key, cond.operator, cond.value)

    def _activity(self, cond: Condition) -> ColumnElement[bool]:
        criteria = [CustomerActivity.customer_id == Customer.id, CustomerActivity.type == cond.activity_type]
        if cond.within_last_days is not None:
            criteria.append(CustomerActivity.occurred_at >= self._days_ago(cond.within_last_days))
        if cond.property_key is not None:
            criteria.append(self._json_match(CustomerActivity.properties, cond.property_key, "=",
                                             cond.property_value))
        if cond.operator == "at_least" and cond.value <= 1:
            return exists().where(*criteria) if cond.value == 1 else true()
        count = select(func.count()).where(*criteria).scalar_subquery()
        if cond.operator == "at_least":
            return count >= cond.value
        if cond.operator == "at_most":
            return count <= cond.value
        return count == cond.value

    def _purchased_event(self, cond: Condition) -> ColumnElement[bool]:
        criteria = [CustomerActivity.customer_id == Customer.id, CustomerActivity.type == "purchase"]
        if cond.operator == "id":
            criteria.append(CustomerActivity.event_id == cond.value)
        elif cond.operator == "name":
            criteria.append(func.lower(CustomerActivity.event_name) == cond.value.lower())
        else:
            criteria.append(func.lower(CustomerActivity.event_name).like(like_pattern(cond.value.lower()),
                                                                         escape="\\"))
        if cond.since is not None:
            criteria.append(CustomerActivity.occurred_at >= self._at(cond.since))
        if cond.until is not None:
            criteria.append(CustomerActivity.occurred_at <= self._at(cond.until))
        return exists().where(*criteria)

    def _email_engagement(self, cond: Condition) -> ColumnElement[bool]:
        activity_type = "email_opened" if cond.operator in ("opened", "not_opened") else "email_clicked"
        criteria = [CustomerActivity.customer_id == Customer.id, CustomerActivity.type == activity_type]
        if cond.within_last_days is not None:
            criteria.append(CustomerActivity.occurred_at >= self._days_ago(cond.within_last_days))
        if cond.campaign_id is not None:
            criteria.append(self._json_match(CustomerActivity.properties, "campaign_id", "=", cond.campaign_id))
        found = exists().where(*criteria)
        return found if cond.operator in ("opened", "clicked") else not_(found)

    # --- helpers -------------------------------------------------------------------------
    @staticmethod
    def _at(moment: datetime):
        return literal(moment, UTCDateTime)

    def _days_ago(self, days: int):
        if self.now is not None:
            return self._at(self.now - timedelta(days=days))
        return bindparam(None, callable_=lambda: utcnow() - timedelta(days=days), type_=UTCDateTime, unique=True)

    def _json_match(self, column, key: str, op: str, value: Any) -> ColumnElement[bool]:
        """Compare one top-level key of a JSON column; never NULL."""
        if self.dialect == "postgresql":
            doc = type_coerce(column, JSONB)
            item = doc[key]
            kind = func.jsonb_typeof(item)
            text_value = doc.op("->>")(key)
            number = case((kind == "number", cast(text_value, Float)))
            equals = and_(item.isnot(None), item == cast(literal(json.dumps(value)), JSONB))
            is_set = and_(item.isnot(None), kind != "null")
            is_text = kind == "string"
        else:
            path = f'$."{key}"'
            kind = func.json_type(column, path)
            extracted = func.json_extract(column, path)
            number = case((kind.in_(("integer", "real")), extracted))
            text_value = extracted
            is_set = and_(kind.isnot(None), kind != "null")
            is_text = kind == "text"
            if isinstance(value, bool):
                equals = func.coalesce(kind == ("true" if value else "false"), false())
            elif isinstance(value, (int, float)):
                equals = and_(kind.in_(("integer", "real")), extracted == value)
            else:
                equals = and_(is_text, extracted == value)
            equals = func.coalesce(equals, false())
        if op == "is_set":
            return func.coalesce(is_set, false())
        if op == "is_not_set":
            return not_(func.coalesce(is_set, false()))
        if op == "=":
            return func.coalesce(equals, false())
        if op == "!=":
            return not_(func.coalesce(equals, false()))
        if op == "contains":
            pattern = like_pattern(str(value).lower())
            return func.coalesce(and_(is_text, func.lower(cast(text_value, String)).like(pattern, escape="\\")),
                                 false())
        return func.coalesce(and_(number.isnot(None), _compare(number, op, value)), false())


def _compare(column, op: str, value: Any) -> ColumnElement[bool]:
    return {
        "=": lambda: column == value,
        "!=": lambda: column != value,
        ">": lambda: column > value,
        ">=": lambda: column >= value,
        "<": lambda: column < value,
        "<=": lambda: column <= value,
    }[op]()


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
