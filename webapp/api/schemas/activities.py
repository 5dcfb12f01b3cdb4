"""Activities and a customer's timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from webapp.api.schemas.common import Id, PageQuery, ShortText, StrictModel
from webapp.infra.validation import Moment


class CustomerRef(StrictModel):
    email: str | None = Field(default=None, max_length=320)
    external_id: ShortText | None = None
    first_name: ShortText | None = None
    last_name: ShortText | None = None


class ActivityIn(StrictModel):
    customer_id: Id | None = None
    customer: CustomerRef | None = None
    type: Annotated[str, Field(min_length=1, max_length=64)]
    properties: dict[str, Any] = Field(
        default_factory=dict,
        description="For purchase: order_total (number >= 0, required), order_id, currency, "
                    "tickets, event {id, name, starts_at, venue}. For ticket_scanned: event {external_id | id} "
                    "(an event the API knows, required), ticket (its code: a ticket scanned again counts once), "
                    "gate, scanned_at (ISO 8601 with offset; the scan time when occurred_at is not given).")
    occurred_at: Moment | None = Field(default=None, description="ISO 8601 with offset, between 1900 and 2999; "
                                                                 "default now.")
    idempotency_key: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class ActivityOut(BaseModel):
    id: int
    customer_id: int
    type: str
    properties: dict[str, Any]
    occurred_at: datetime
    created_at: datetime
    idempotency_key: str | None


class ActivityPage(BaseModel):
    data: list[ActivityOut]
    next_cursor: str | None


class TimelineQuery(PageQuery):
    type: list[Annotated[str, Field(max_length=64)]] | None = Field(
        default=None, description="One or more types (repeat the parameter or separate with commas).")
    since: Moment | None = Field(default=None, description="ISO 8601 with offset, between 1900 and 2999.")
    until: Moment | None = Field(default=None, description="ISO 8601 with offset, between 1900 and 2999.")
