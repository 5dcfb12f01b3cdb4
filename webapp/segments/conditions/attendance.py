"""Attendance: who came (a scan at the gate) and who did not (settled as a no-show), for an
event or for events starting within a period; the attendance rate over settled events; and
affinity, "attended at least n events of a tag in the last N months".

Shapes (settings optional unless said):
  {"type": "attendance", "operator": "attended" | "no_show", "event", "from", "to"}
  {"type": "attendance_rate", "operator": ">=", "value": 80, "within_last_months": 12}
  {"type": "attended_events", "operator": "at_least", "value": 3,
   "event_tag": {"kind": "artist", "value": "Nina Simone"}, "venue", "within_last_months": 12}
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, select, true
from sqlalchemy.sql.elements import ColumnElement

from webapp.models import Customer, Event, EventAttendance
from webapp.segments.conditions import inputs
from webapp.segments.conditions.base import Condition, ConditionType, SqlContext
from webapp.segments.conditions.comparisons import compare, compare_sql
from webapp.segments.conditions.event_scope import (
    PERIOD_SETTINGS,
    SCOPE_SETTINGS,
    event_words,
    in_period,
    in_scope,
    months_words,
    read_count,
    read_months,
    read_period,
    read_scope,
    read_whole,
    scope_criteria,
    scope_words,
)
from webapp.segments.conditions.operators import COMPARISON
from webapp.segments.conditions.values import months_before
from webapp.segments.facts import AttendanceFacts, CustomerFacts

MONTHS_SETTING = {"within_last_months": "Months"}
# "Attended at least n events of X": over the last year unless the item says otherwise.
AFFINITY_MONTHS = 12


class Attendance(ConditionType):
    name = "attendance"
    label = "Attendance"
    operators = {"attended": "attended", "no_show": "did not show up for"}
    default_operator = "attended"
    builder_operator = "attended"
    settings = {"event": SCOPE_SETTINGS["event"], "event_name": SCOPE_SETTINGS["event_name"], **PERIOD_SETTINGS}

    def parse(self, raw: dict, operator: str, path: str) -> dict[str, Any]:
        return {"value": None, "scope": read_scope(raw, path, ("event",)), **read_period(raw, path)}

    def compile(self, sql: SqlContext, cond: Condition) -> ColumnElement[bool]:
        criteria = [EventAttendance.customer_id == Customer.id, EventAttendance.status == cond.operator,
                    *scope_criteria(cond.scope, EventAttendance.event_id)]
        # The period is on the event's start, copied onto the row.
        if cond.since is not None:
            criteria.append(EventAttendance.event_starts_at >= sql.at(cond.since))
        if cond.until is not None:
            criteria.append(EventAttendance.event_starts_at <= sql.at(cond.until))
        return exists().where(*criteria)

    def evaluate(self, cond: Condition, customer: CustomerFacts, now: datetime) -> bool:
        return any(row.status == cond.operator and in_scope(cond.scope, row.event)
                   and in_period(row.event_starts_at, cond.since, cond.until) for row in customer.attendance)

    def describe(self, raw: dict[str, Any], op: str, op_label: str) -> str:
        text = "Did not show up for" if op == "no_show" else "Attended"
        text += f" {event_words(raw)}" if raw.get("event") is not None else " an event"
        if raw.get("from") or raw.get("to"):
            text += " starting"
        if raw.get("from"):
            text += f" from {raw['from']}"
        if raw.get("to"):
            text += f" until {raw['to']}"
        return text

    def widget(self, operator: str | None) -> dict[str, Any]:
        return inputs.fields(inputs.field_scope("event"),
                             inputs.field_words("starting from"),
                             inputs.field_date("from", "Event starts from (optional)"),
                             inputs.field_words("to"),
                             inputs.field_date("to", "Event starts until (optional)"))


def _settled(customer: CustomerFacts, months: int | None, now: datetime) -> list[AttendanceFacts]:
    since = months_before(now, months) if months is not None else None
    return [row for row in customer.attendance if row.event.settled
            and (since is None or (row.event_starts_at is not None and row.event_starts_at >= since))]


class AttendanceRate(ConditionType):
    """Attended / (attended + no-show) over the customer's settled events, in whole percent.
    Someone with no settled event has no rate: no comparison matches them."""

    name = "attendance_rate"
    label = "Attendance rate (%)"
    operators = COMPARISON
    builder_operator = ">="
    settings = MONTHS_SETTING

    def parse(self, raw: dict, operator: str, path: str) -> dict[str, Any]:
        return {"value": read_whole(raw.get("value"), f"{path}.value", 0, 100), "scope": read_months(raw, path)}

    def compile(self, sql: SqlContext, cond: Condition) -> ColumnElement[bool]:
        rows = [EventAttendance.customer_id == Customer.id, Event.settled_at.isnot(None)]
        if cond.scope is not None:
            rows.append(EventAttendance.event_starts_at >= sql.months_ago(cond.scope))
        settled = select(func.count()).select_from(EventAttendance).join(Event, Event.id == EventAttendance.event_id)
        total = settled.where(*rows).scalar_subquery()
        attended = settled.where(*rows, EventAttendance.status == "attended").scalar_subquery()
        # Whole numbers on both sides: 100 x attended against value x total, no division.
        return and_(total > 0, compare_sql(attended * 100, cond.operator, total * cond.value))

    def evaluate(self, cond: Condition, customer: CustomerFacts, now: datetime) -> bool:
        rows = _settled(customer, cond.scope, now)
        attended = sum(1 for row in rows if row.status == "attended")
        return bool(rows) and compare(attended * 100, cond.operator, len(rows) * cond.value)

    def describe(self, raw: dict[str, Any], op: str, op_label: str) -> str:
        text = f"Attendance rate {op_label} {raw.get('value')}%"
        months = months_words(raw)
        return text + (f" (events{months})" if months else "")

    def widget(self, operator: str | None) -> dict[str, Any]:
        return inputs.fields(inputs.field_number("value", "Attendance rate", "80", optional=False),
                             inputs.field_words("% of their events"),
                             inputs.field_words("in the last"),
                             inputs.field_number("within_last_months", "Months (optional)", "all", minimum="1"),
                             inputs.field_words("months"))

    def time_relative(self, cond: Condition) -> bool:
        return cond.scope is not None


class AttendedEvents(ConditionType):
    name = "attended_events"
    label = "Attended events"
    operators = {"at_least": "at least", "at_most": "at most", "exactly": "exactly"}
    default_operator = "at_least"
    builder_operator = "at_least"
    settings = {"event_tag": SCOPE_SETTINGS["event_tag"], "venue": SCOPE_SETTINGS["venue"], **MONTHS_SETTING}

    def parse(self, raw: dict, operator: str, path: str) -> dict[str, Any]:
        return {"value": read_count(raw, path),
                "scope": (read_scope(raw, path, ("event_tag", "venue")), read_months(raw, path, AFFINITY_MONTHS))}

    def compile(self, sql: SqlContext, cond: Condition) -> ColumnElement[bool]:
        scope, months = cond.scope
        criteria = [EventAttendance.customer_id == Customer.id, EventAttendance.status == "attended",
                    EventAttendance.event_starts_at >= sql.months_ago(months),
                    *scope_criteria(scope, EventAttendance.event_id)]
        if cond.operator == "at_least" and cond.value <= 1:
            return exists().where(*criteria) if cond.value == 1 else true()
        count = select(func.count()).select_from(EventAttendance).where(*criteria).scalar_subquery()
        return {"at_least": count >= cond.value, "at_most": count <= cond.value,
                "exactly": count == cond.value}[cond.operator]

    def evaluate(self, cond: Condition, customer: CustomerFacts, now: datetime) -> bool:
        scope, months = cond.scope
        since = months_before(now, months)
        count = sum(1 for row in customer.attendance if row.status == "attended" and in_scope(scope, row.event)
                    and row.event_starts_at is not None and row.event_starts_at >= since)
        return {"at_least": count >= cond.value, "at_most": count <= cond.value,
                "exactly": count == cond.value}[cond.operator]

    def describe(self, raw: dict[str, Any], op: str, op_label: str) -> str:
        count = raw.get("value", 1)
        return (f"Attended {op_label} {count} event{'' if count == 1 else 's'}" + scope_words(raw, lead=None)
                + months_words(raw, AFFINITY_MONTHS))

    def widget(self, operator: str | None) -> dict[str, Any]:
        return inputs.fields(inputs.field_number("value", "Number of events", "1"),
                             inputs.field_words("events"),
                             inputs.field_scope("event_tag", "venue"),
                             inputs.field_words("in the last"),
                             inputs.field_number("within_last_months", "Months", "12", minimum="1"),
                             inputs.field_words("months"))

    def time_relative(self, cond: Condition) -> bool:
        return True


TYPES = (Attendance(), AttendanceRate(), AttendedEvents())
