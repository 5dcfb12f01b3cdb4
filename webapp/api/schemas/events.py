"""Events (GET/POST /events, GET/PATCH /events/{id}, GET /events/{id}/holders)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from webapp.api.schemas.common import PageQuery
from webapp.models import EVENT_STATUSES
from webapp.services.events.catalogue import EventFields, EventIn

__all__ = ["EventFields", "EventIn", "EventList", "EventListQuery", "EventOut"]


class VenueOut(BaseModel):
    name: str | None
    city: str | None


class AttendanceOut(BaseModel):
    attended: int = Field(description="Holders scanned in at the gate.")
    no_show: int = Field(description="Holders not scanned in by the time attendance was settled.")
    rate: float | None = Field(description="Attended as a share (0 to 1): of attended + no_show once settled, of "
                                           "everyone holding a ticket while scans arrive; null before either.")
    settled_at: datetime | None = Field(description="When attendance was settled (a couple of hours after the "
                                                    "event's end); null until then.")


class EventOut(BaseModel):
    id: int
    external_id: str = Field(description="The platform's id: what purchases name in event.external_id (or event.id).")
    name: str
    starts_at: datetime | None
    doors_at: datetime | None
    ends_at: datetime | None
    venue: VenueOut
    timezone: str = Field(description="The venue's IANA zone (the organisation's when none was given).")
    capacity: int | None
    available: int | None
    status: Literal[EVENT_STATUSES]  # type: ignore[valid-type]
    url: str | None
    image_url: str | None
    tags: dict[str, list[str]] = Field(description="{genre|artist|series|tag: [values]}")
    sequence: int = Field(description="Bumped on every change holders are told of (iCalendar SEQUENCE).")
    tickets_sold: int
    buyers: int
    orders: int
    revenue: float
    attendance: AttendanceOut
    created_at: datetime
    updated_at: datetime


class EventList(BaseModel):
    data: list[EventOut]
    next_cursor: str | None


class EventListQuery(PageQuery):
    when: Literal["upcoming", "past"] | None = Field(default=None, description=(
        "upcoming: starting now or later (soonest first); past: started before now (latest first). "
        "Without it: newest created first."))
    status: Literal[EVENT_STATUSES] | None = None  # type: ignore[valid-type]
