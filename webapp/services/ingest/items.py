"""One activity of a batch, as the ingest works on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from webapp.services.activities import Purchase


@dataclass
class Item:
    index: int
    type: str
    properties: dict[str, Any]
    occurred_at: datetime
    customer_id: int | None
    ref: dict[str, Any]
    idempotency_key: str | None
    order_id: str | None = None
    amount: Decimal | None = None
    target: int | None = None  # the customer's id once resolved
    new_email: str | None = None  # or the email of a customer this batch creates
    dup_of: int | None = None  # index of an earlier item of this batch with the same key
    id: int | None = None
    purchase: Purchase | None = None
    event_id: str | None = None  # the platform's id of the event a purchase names
    event_name: str | None = None
