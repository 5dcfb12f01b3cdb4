"""Compile a segment definition into one SQL statement selecting customer ids.

Every condition compiles to a two-valued boolean (never NULL), so groups combine with
plain AND / OR and `!=`-style operators include customers who lack the value, exactly as
the reference evaluator (`reference.py`) defines them. The same SQL runs on SQLite and
PostgreSQL; JSON access differs and is built per dialect. Each condition compiles through its
type's entry (webapp.segments.conditions), which asks this compiler for the evaluation
instant and JSON access.
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
from webapp.models import Customer
from webapp.segments.conditions import CONDITION_TYPES, Condition
from webapp.segments.conditions.comparisons import compare_sql
from webapp.segments.conditions.values import months_before
from webapp.segments.definition import Group


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
        return CONDITION_TYPES[cond.type].compile(self, cond)

    # --- what condition types ask of the compiler (conditions.base.SqlContext) ------------
    @staticmethod
    def at(moment: datetime):
        return literal(moment, UTCDateTime)

    def days_ago(self, days: int):
        if self.now is not None:
            return self.at(self.now - timedelta(days=days))
        return bindparam(None, callable_=lambda: utcnow() - timedelta(days=days), type_=UTCDateTime, unique=True)

    def months_ago(self, months: int):
        """The same instant `months` calendar months back (a shorter month ends the day)."""
        if self.now is not None:
            return self.at(months_before(self.now, months))
        return bindparam(None, callable_=lambda: months_before(utcnow(), months), type_=UTCDateTime, unique=True)

    def json_match(self, column, key: str, op: str, value: Any) -> ColumnElement[bool]:
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
        return func.coalesce(and_(number.isnot(None), compare_sql(number, op, value)), false())

