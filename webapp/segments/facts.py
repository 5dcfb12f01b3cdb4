"""What the reference evaluator knows of a customer: the row, its tags, its activities, the
tickets they bought or were named on, and their attendance, as plain Python values (the
hypothesis tests build them beside the database rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass
class EventFacts:
    """An event (performance) as the ticket conditions read it."""

    id: int
    external_id: str
    name: str = ""
    starts_at: datetime | None = None
    status: str = "on_sale"
    venue_name: str | None = None
    settled: bool = False
    # (kind, value) pairs as stored: ("genre", "Jazz"), ("artist", "Nina Simone").
    tags: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class ActivityFacts:
    type: str
    occurred_at: datetime
    properties: dict[str, Any] = field(default_factory=dict)
    event_id: str | None = None
    event_name: str | None = None
    # The event a purchase names (linked by the platform's id), when it is known.
    event: EventFacts | None = None


@dataclass
class TicketFacts:
    """One line of a purchase: `order` tells the purchase it belongs to."""

    order: int
    occurred_at: datetime
    event: EventFacts | None = None
    ticket_type: str | None = None
    tier: str | None = None
    section: str | None = None
    quantity: int = 1
    price: Decimal | None = None


@dataclass
class AttendanceFacts:
    event: EventFacts
    status: str  # attended | no_show
    event_starts_at: datetime | None = None


@dataclass
class CustomerFacts:
    id: int
    email: str
    first_name: str | None = None
    last_name: str | None = None
    email_status: str = "subscribed"
    total_spent: Decimal = Decimal("0")
    orders_count: int = 0
    last_order_at: datetime | None = None
    created_at: datetime | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    tags: set[str] = field(default_factory=set)
    activities: list[ActivityFacts] = field(default_factory=list)
    topics: set[int] = field(default_factory=set)  # the topics they get (choice, else default)
    # Lines of their own purchases, and lines of others' purchases naming them as the guest.
    tickets: list[TicketFacts] = field(default_factory=list)
    guest_tickets: list[TicketFacts] = field(default_factory=list)
    attendance: list[AttendanceFacts] = field(default_factory=list)
