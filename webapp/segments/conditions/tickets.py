"""Tickets: what customers bought (purchase line items: type, tier, section, group size,
price, for an event, a tag or a venue, within a period), whether they hold a ticket for an
upcoming event, and how many days remain until their next one.

Shapes (settings optional unless said):
  {"type": "ticket", "operator": "bought" | "not_bought", "ticket_type", "tier", "section",
   "quantity_at_least": 4, "price_at_least": 50, "event" | "event_tag" | "venue", "from", "to"}
  {"type": "upcoming_event", "operator": "holds" | "holds_not", "event_tag", "venue"}
  {"type": "days_until_next_event", "operator": "<" | "<=" | "=" | ">=" | ">", "value": 7}
  {"type": "days_until_next_event", "operator": "between", "value": [1, 7]}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, exists, false, func, not_, or_, select
from sqlalchemy.sql.elements import ColumnElement

from webapp.infra.errors import ValidationFailed
from webapp.models import Customer, CustomerActivity, Event, PurchaseItem
from webapp.segments.conditions import inputs
from webapp.segments.conditions.base import Condition, ConditionType, SqlContext
from webapp.segments.conditions.event_scope import (
    PERIOD_SETTINGS,
    SCOPE_SETTINGS,
    EventScope,
    in_period,
    in_scope,
    period_words,
    read_money,
    read_optional_text,
    read_period,
    read_scope,
    read_whole,
    same_text,
    same_text_py,
    scope_criteria,
    scope_words,
)
from webapp.segments.conditions.operators import COMPARISON
from webapp.segments.conditions.values import MAX_COUNT
from webapp.segments.conditions.words import quoted
from webapp.segments.facts import CustomerFacts, EventFacts

MAX_DAYS = 36_500


@dataclass(frozen=True)
class TicketFilter:
    """Which line items count: each set field must hold."""

    ticket_type: str | None = None
    tier: str | None = None
    section: str | None = None
    quantity_at_least: int | None = None
    price_at_least: Decimal | None = None
    events: EventScope = field(default_factory=EventScope)


class Ticket(ConditionType):
    name = "ticket"
    label = "Bought tickets"
    operators = {"bought": "bought", "not_bought": "did not buy"}
    default_operator = "bought"
    builder_operator = "bought"
    settings = {"ticket_type": "Ticket type", "tier": "Tier", "section": "Section",
                "quantity_at_least": "Tickets in one order", "price_at_least": "Price of one ticket",
                **SCOPE_SETTINGS, **PERIOD_SETTINGS}

    def parse(self, raw: dict, operator: str, path: str) -> dict[str, Any]:
        quantity = raw.get("quantity_at_least")
        price = raw.get("price_at_least")
        scope = TicketFilter(
            ticket_type=read_optional_text(raw, "ticket_type", path, 100),
            tier=read_optional_text(raw, "tier", path, 100),
            section=read_optional_text(raw, "section", path, 100),
            quantity_at_least=(None if quantity is None
                               else read_whole(quantity, f"{path}.quantity_at_least", 1, MAX_COUNT)),
            price_at_least=None if price is None else read_money(price, f"{path}.price_at_least"),
            events=read_scope(raw, path))
        return {"value": None, "scope": scope, **read_period(raw, path)}

    def compile(self, sql: SqlContext, cond: Condition) -> ColumnElement[bool]:
        wanted: TicketFilter = cond.scope
        criteria = [PurchaseItem.customer_id == Customer.id]
        for column, value in ((PurchaseItem.ticket_type, wanted.ticket_type), (PurchaseItem.tier, wanted.tier),
                              (PurchaseItem.section, wanted.section)):
            if value is not None:
                criteria.append(same_text(column, value))
        if wanted.price_at_least is not None:
            criteria.append(PurchaseItem.price >= wanted.price_at_least)
        if cond.since is not None:
            criteria.append(PurchaseItem.occurred_at >= sql.at(cond.since))
        if cond.until is not None:
            criteria.append(PurchaseItem.occurred_at <= sql.at(cond.until))
        criteria.extend(scope_criteria(wanted.events, PurchaseItem.event_id))
        if wanted.quantity_at_least is not None and wanted.quantity_at_least > 1:
            # A group: the matching lines of one purchase (one activity) add up.
            found = (select(PurchaseItem.activity_id).where(*criteria).group_by(PurchaseItem.activity_id)
                     .having(func.sum(PurchaseItem.quantity) >= wanted.quantity_at_least).exists())
        else:
            found = exists().where(*criteria)
        return found if cond.operator == "bought" else not_(found)

    def evaluate(self, cond: Condition, customer: CustomerFacts, now: datetime) -> bool:
        wanted: TicketFilter = cond.scope
        per_order: dict[int, int] = {}
        for line in customer.tickets:
            if any(value is not None and not same_text_py(stored, value) for stored, value in (
                    (line.ticket_type, wanted.ticket_type), (line.tier, wanted.tier),
                    (line.section, wanted.section))):
                continue
            if wanted.price_at_least is not None and (line.price is None or line.price < wanted.price_at_least):
                continue
            if not in_period(line.occurred_at, cond.since, cond.until) or not in_scope(wanted.events, line.event):
                continue
            per_order[line.order] = per_order.get(line.order, 0) + line.quantity
        found = any(total >= (wanted.quantity_at_least or 1) for total in per_order.values())
        return found if cond.operator == "bought" else not found

    def describe(self, raw: dict[str, Any], op: str, op_label: str) -> str:
        text = ("Bought" if op != "not_bought" else "Did not buy") + " tickets"
        if raw.get("ticket_type"):
            text += f" of type {quoted(raw['ticket_type'])}"
        details = [f"{word} {quoted(raw[key])}" for key, word in (("tier", "tier"), ("section", "section"))
                   if raw.get(key)]
        if raw.get("quantity_at_least") is not None:
            details.append(f"at least {raw['quantity_at_least']} in one order")
        if raw.get("price_at_least") is not None:
            details.append(f"at least {raw['price_at_least']} each")
        if details:
            text += " (" + ", ".join(details) + ")"
        return text + scope_words(raw) + period_words(raw)

    def widget(self, operator: str | None) -> dict[str, Any]:
        return inputs.fields(
            inputs.field_words("type"),
            inputs.field_text("ticket_type", "Ticket type", "any", "known-ticket-types"),
            inputs.field_words("tier"),
            inputs.field_text("tier", "Tier", "any", "known-ticket-tiers"),
            inputs.field_words("section"),
            inputs.field_text("section", "Section", "any", "known-ticket-sections"),
            inputs.field_words("· at least"),
            inputs.field_number("quantity_at_least", "Tickets in one order", "1", minimum="1"),
            inputs.field_words("in one order · price from"),
            inputs.field_number("price_at_least", "Price of one ticket", "any", step="0.01"),
            inputs.field_words("each ·"),
            inputs.field_scope("event", "event_tag", "venue"),
            inputs.field_words("· bought from"),
            inputs.field_date("from", "Bought from (optional)"),
            inputs.field_words("to"),
            inputs.field_date("to", "Bought until (optional)"))


# --- holding tickets ------------------------------------------------------------------------

def held_event_exists(scope: EventScope, *on_event: ColumnElement[bool]) -> ColumnElement[bool]:
    """The customer holds a ticket for an event meeting `on_event` (criteria over `events`)
    and the scope: as buyer of a purchase naming it, or as a guest on one of its tickets
    who became a customer. The same rule as services/events/holders.py, which the layers
    keep from being imported here."""
    criteria = [*on_event, *scope_criteria(scope, Event.id)]
    bought = (select(Event.id).select_from(CustomerActivity)
              .join(Event, and_(Event.tenant_id == CustomerActivity.tenant_id,
                                Event.external_id == CustomerActivity.event_id))
              .where(CustomerActivity.customer_id == Customer.id, CustomerActivity.type == "purchase", *criteria)
              .exists())
    guest = (select(Event.id).select_from(PurchaseItem).join(Event, Event.id == PurchaseItem.event_id)
             .where(PurchaseItem.attendee_customer_id == Customer.id, *criteria).exists())
    return or_(bought, guest)


def held_events(customer: CustomerFacts) -> list[EventFacts]:
    events = [a.event for a in customer.activities if a.type == "purchase" and a.event is not None]
    return events + [line.event for line in customer.guest_tickets if line.event is not None]


def upcoming_starts(customer: CustomerFacts, scope: EventScope, now: datetime) -> list[datetime]:
    """When the customer's held, not cancelled events still ahead start."""
    return [e.starts_at for e in held_events(customer)
            if e.starts_at is not None and e.starts_at > now and e.status != "cancelled" and in_scope(scope, e)]


def upcoming_sql(sql: SqlContext) -> list[ColumnElement[bool]]:
    return [Event.starts_at > sql.days_ago(0), Event.status != "cancelled"]


class UpcomingEvent(ConditionType):
    name = "upcoming_event"
    label = "Holds a ticket for an upcoming event"
    operators = {"holds": "holds a ticket", "holds_not": "holds no ticket"}
    default_operator = "holds"
    builder_operator = "holds"
    settings = {"event_tag": SCOPE_SETTINGS["event_tag"], "venue": SCOPE_SETTINGS["venue"]}

    def parse(self, raw: dict, operator: str, path: str) -> dict[str, Any]:
        return {"value": None, "scope": read_scope(raw, path, ("event_tag", "venue"))}

    def compile(self, sql: SqlContext, cond: Condition) -> ColumnElement[bool]:
        found = held_event_exists(cond.scope, *upcoming_sql(sql))
        return found if cond.operator == "holds" else not_(found)

    def evaluate(self, cond: Condition, customer: CustomerFacts, now: datetime) -> bool:
        return bool(upcoming_starts(customer, cond.scope, now)) == (cond.operator == "holds")

    def describe(self, raw: dict[str, Any], op: str, op_label: str) -> str:
        verb = "Holds no ticket" if op == "holds_not" else "Holds a ticket"
        return f"{verb} for an upcoming event" + scope_words(raw, lead=None)

    def widget(self, operator: str | None) -> dict[str, Any]:
        return inputs.fields(inputs.field_scope("event_tag", "venue"))

    def time_relative(self, cond: Condition) -> bool:
        return True


DAY = timedelta(days=1)


def day_bounds(op: str, value: Any) -> tuple[int, int | None] | None:
    """The whole days [low, high] (high None: no end) the next event's distance must fall in;
    None when no distance can (fewer than 0 days)."""
    if op == "between":
        return value[0], value[1]
    if op == "<":
        return (0, value - 1) if value > 0 else None
    return {"<=": (0, value), "=": (value, value), ">=": (value, None), ">": (value + 1, None)}[op]


class DaysUntilNextEvent(ConditionType):
    """Whole days from now to the start of the customer's next held, not cancelled event:
    0 within the next 24 hours, 1 from 24 to 48 hours ahead, and so on. Counted in hours
    rather than calendar dates, so one number means the same for venues in every zone and
    across a change of the clocks."""

    name = "days_until_next_event"
    label = "Days until their next event"
    operators = {**{op: COMPARISON[op] for op in ("<", "<=", "=", ">=", ">")}, "between": "between"}
    builder_operator = "<="

    def parse(self, raw: dict, operator: str, path: str) -> dict[str, Any]:
        value = raw.get("value")
        if operator != "between":
            return {"value": read_whole(value, f"{path}.value", 0, MAX_DAYS)}
        if not isinstance(value, list) or len(value) != 2:
            raise ValidationFailed(f"{path}.value", "must be [from, to] in days")
        low = read_whole(value[0], f"{path}.value[0]", 0, MAX_DAYS)
        high = read_whole(value[1], f"{path}.value[1]", 0, MAX_DAYS)
        if high < low:
            raise ValidationFailed(f"{path}.value", "to must not be below from")
        return {"value": (low, high)}

    def compile(self, sql: SqlContext, cond: Condition) -> ColumnElement[bool]:
        bounds = day_bounds(cond.operator, cond.value)
        if bounds is None:
            return false()
        low, high = bounds
        # Day counts floor the hours ahead, so "at least n days" is "starts n x 24 h from
        # now or later" and "at most n days" is "starts before (n + 1) x 24 h from now".
        window = [Event.starts_at >= sql.days_ago(-low)] if low > 0 else []
        if high is not None:
            window.append(Event.starts_at < sql.days_ago(-(high + 1)))
        in_window = held_event_exists(EventScope(), *upcoming_sql(sql), *window)
        if low == 0:
            return in_window
        sooner = held_event_exists(EventScope(), *upcoming_sql(sql), Event.starts_at < sql.days_ago(-low))
        return and_(in_window, not_(sooner))

    def evaluate(self, cond: Condition, customer: CustomerFacts, now: datetime) -> bool:
        bounds = day_bounds(cond.operator, cond.value)
        starts = upcoming_starts(customer, EventScope(), now)
        if bounds is None or not starts:
            return False
        days = (min(starts) - now) // DAY
        return bounds[0] <= days and (bounds[1] is None or days <= bounds[1])

    def describe(self, raw: dict[str, Any], op: str, op_label: str) -> str:
        value = raw.get("value")
        if op == "between" and isinstance(value, list) and len(value) == 2:
            return f"Next event in {value[0]} to {value[1]} days"
        words = {"<": "less than", "<=": "at most", "=": "exactly", ">=": "at least", ">": "more than"}
        return f"Next event in {words.get(op, op_label)} {value} day{'' if value == 1 else 's'}"

    def widget(self, operator: str | None) -> dict[str, Any]:
        if operator == "between":
            return inputs.fields(inputs.field_number("value", "From days", "1", optional=False, index=0),
                                 inputs.field_words("to"),
                                 inputs.field_number("value", "To days", "7", optional=False, index=1),
                                 inputs.field_words("days"))
        return inputs.number("Days", "7", unit="days")

    def time_relative(self, cond: Condition) -> bool:
        return True


TYPES = (Ticket(), UpcomingEvent(), DaysUntilNextEvent())
