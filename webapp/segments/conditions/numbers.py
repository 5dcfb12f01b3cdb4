"""The customer's totals: money spent and number of orders, compared with a number."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.sql.elements import ColumnElement

from webapp.models import Customer
from webapp.segments.conditions import inputs
from webapp.segments.conditions.base import Condition, ConditionType, SqlContext
from webapp.segments.conditions.comparisons import compare, compare_sql
from webapp.segments.conditions.operators import COMPARISON
from webapp.segments.conditions.values import MAX_COUNT, MAX_MONEY, read_number
from webapp.segments.facts import CustomerFacts


class TotalSpent(ConditionType):
    name = "total_spent"
    label = "Total spent"
    operators = COMPARISON
    builder_operator = ">="

    def parse(self, raw: dict, operator: str, path: str) -> dict[str, Any]:
        return {"value": read_number(raw.get("value"), path, maximum=MAX_MONEY)}

    def compile(self, sql: SqlContext, cond: Condition) -> ColumnElement[bool]:
        return compare_sql(Customer.total_spent, cond.operator, cond.value)

    def evaluate(self, cond: Condition, customer: CustomerFacts, now: datetime) -> bool:
        return compare(Decimal(str(customer.total_spent)), cond.operator, Decimal(str(cond.value)))

    def widget(self, operator: str | None) -> dict[str, Any]:
        return inputs.number("Amount", "amount", step="0.01")


class OrdersCount(ConditionType):
    name = "orders_count"
    label = "Number of orders"
    operators = COMPARISON
    builder_operator = ">="

    def parse(self, raw: dict, operator: str, path: str) -> dict[str, Any]:
        return {"value": read_number(raw.get("value"), path, integer=True, maximum=MAX_COUNT)}

    def compile(self, sql: SqlContext, cond: Condition) -> ColumnElement[bool]:
        return compare_sql(Customer.orders_count, cond.operator, cond.value)

    def evaluate(self, cond: Condition, customer: CustomerFacts, now: datetime) -> bool:
        return compare(customer.orders_count, cond.operator, cond.value)

    def widget(self, operator: str | None) -> dict[str, Any]:
        return inputs.number("Number of orders", "orders")


TYPES = (TotalSpent(), OrdersCount())
