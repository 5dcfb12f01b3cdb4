"""One activity of a batch, as the ingest works on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from webapp.models import CustomerActivity
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
    target: int | None = None  # the customer's id once resolved
    new_email: str | None = None  # or the email of a customer this batch creates
    dup_of: int | None = None  # index of an earlier item of this batch with the same key
    id: int | None = None
    purchase: Purchase | None = None  # a purchase's checked properties

    # What a purchase stores beside its properties; None for other activities.
    @property
    def amount(self) -> Decimal | None:
        return self.purchase.amount if self.purchase is not None else None

    @property
    def order_id(self) -> str | None:
        return self.purchase.order_id if self.purchase is not None else None

    @property
    def event_id(self) -> str | None:
        """The platform's id of the event a purchase names."""
        return self.purchase.event_id if self.purchase is not None else None

    @property
    def event_name(self) -> str | None:
        return self.purchase.event_name if self.purchase is not None else None

    def as_activity(self, tenant_id: int) -> CustomerActivity:
        """The stored activity as the code after the INSERT reads it (crediting, tickets,
        reminders), without reading the row back: not added to the session, it is in."""
        return CustomerActivity(id=self.id, tenant_id=tenant_id, customer_id=self.target, type=self.type,
                                properties=self.properties, occurred_at=self.occurred_at, order_id=self.order_id,
                                amount=self.amount, event_id=self.event_id, event_name=self.event_name)
