"""Segments: conditions, calculation and preview."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from webapp.api.schemas.common import StrictModel
from webapp.api.schemas.customers import CustomerOut

Match = Literal["all", "any"]
# The ticket, event and attendance condition types (webapp/segments/conditions/tickets.py and
# attendance.py), as integrators send them.
TICKET_CONDITIONS = (
    'Tickets and events: '
    '{"type": "ticket", "operator": "bought"|"not_bought", "ticket_type"?, "tier"?, "section"?, '
    '"quantity_at_least"? (matching tickets in one order), "price_at_least"? (one ticket), '
    '"event"? | "event_tag"? | "venue"?, "from"?, "to"? (purchase time, both included)}; '
    '{"type": "upcoming_event", "operator": "holds"|"holds_not", "event_tag"?, "venue"?} (a ticket, bought or '
    'as a guest, for an event starting after now and not cancelled); '
    '{"type": "days_until_next_event", "operator": "<"|"<="|"="|">="|">", "value": days} or '
    '{"operator": "between", "value": [from, to]} (whole 24-hour days to the next held event; none: no match); '
    '{"type": "attendance", "operator": "attended"|"no_show", "event"?, "from"?, "to"? (event start)}; '
    '{"type": "attendance_rate", "operator": "="|"!="|">"|">="|"<"|"<=", "value": 0-100, '
    '"within_last_months"?} (attended / settled events, in percent; no settled event: no match); '
    '{"type": "attended_events", "operator": "at_least"|"at_most"|"exactly", "value": n, "event_tag"?, "venue"?, '
    '"within_last_months"? (default 12)}. Scopes: "event" (an id from GET /api/crm/events; an optional '
    '"event_name" is kept for display), "event_tag" ({"kind": "genre"|"artist"|"series"|"tag", "value": "jazz"}), '
    '"venue" (its name); text compares ignoring case.'
)
ConditionList = Annotated[list[dict[str, Any]], Field(
    min_length=1, max_length=100,
    description='Items {"type", "operator", "value"} or groups {"match", "conditions"}; '
                'e.g. [{"type": "total_spent", "operator": ">=", "value": 100}, {"type": "tag", "value": "vip"}]. '
                + TICKET_CONDITIONS)]


class SegmentIn(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    conditions: ConditionList
    match: Match = "all"
    description: Annotated[str, Field(max_length=2000)] | None = None


class SegmentPatch(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    conditions: ConditionList | None = None
    match: Match | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None


class SegmentOut(BaseModel):
    id: int
    name: str
    description: str | None
    conditions: list[dict[str, Any]]
    match: str
    member_count: int
    time_relative: bool
    calculated_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SegmentPage(BaseModel):
    data: list[SegmentOut]
    next_cursor: str | None


class CalculationOut(BaseModel):
    id: int
    member_count: int
    added: int
    removed: int
    calculated_at: datetime


class PreviewIn(StrictModel):
    conditions: ConditionList
    match: Match = "all"


class PreviewOut(BaseModel):
    count: int
    sample: list[CustomerOut]
