"""What the reference evaluator knows of a customer: the row, its tags and its activities,
as plain Python values (the hypothesis test builds them beside the database rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass
class ActivityFacts:
    type: str
    occurred_at: datetime
    properties: dict[str, Any] = field(default_factory=dict)
    event_id: str | None = None
    event_name: str | None = None


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
