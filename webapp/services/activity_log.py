"""Activities the product records itself (a tag added, an unsubscribe, a note), added to
the caller's unit of work. Below customers, campaigns and workflows, which all write them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import Customer, CustomerActivity


def log_activity(customer: Customer, activity_type: str, properties: dict[str, Any] | None = None,
                 *, occurred_at: datetime | None = None) -> CustomerActivity:
    """Add a product-recorded activity to the session; the caller commits."""
    activity = CustomerActivity(tenant_id=customer.tenant_id, customer_id=customer.id,
                                type=activity_type, properties=properties or {},
                                occurred_at=occurred_at or utcnow())
    db.session.add(activity)
    return activity
