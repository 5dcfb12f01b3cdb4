"""A customer changed: the one path every change of a customer takes.

Tags, attributes, purchases, sign-ups, imports, unsubscribes, bounces and workflow steps
change customers; each then calls customer_changed(), which re-evaluates the customer's
segment membership (segment_entered workflows enroll from there) and fires the change's
trigger, in the caller's transaction (the caller commits).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from webapp.services.enrollment import process_trigger
from webapp.services.segments import refresh_customer_segments


def customer_changed(tenant_id: int, customer_id: int, *, trigger: str | None = None,
                     payload: dict[str, Any] | None = None, now: datetime | None = None,
                     segments: bool = True) -> list[int]:
    """Segments follow the change (unless the caller refreshes them itself later, as a
    unit of work that changes the customer again does), then `trigger` enrolls the customer
    in matching active workflows. Returns the new enrollments' ids."""
    if segments:
        refresh_customer_segments(tenant_id, customer_id, now=now)
    if trigger is None:
        return []
    return process_trigger(tenant_id, trigger, customer_id, payload, now=now)
