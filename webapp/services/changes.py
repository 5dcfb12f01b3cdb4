"""A customer changed: the one path every change of a customer takes.

Tags, attributes, purchases, sign-ups, imports, unsubscribes, bounces and workflow steps
change customers; each then calls customer_changed(), which re-evaluates the customer's
segment membership (segment_entered workflows enroll from there), fires the change's
trigger and checks workflow goals and exit conditions (services/enrollment/goals.py), in
the caller's transaction (the caller commits).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from webapp.services.enrollment import process_trigger
from webapp.services.enrollment.goals import check_customer
from webapp.services.segment_refresh import refresh_customer_segments


def customer_changed(tenant_id: int, customer_id: int, *, trigger: str | None = None,
                     payload: dict[str, Any] | None = None, now: datetime | None = None,
                     segments: bool = True, locked: bool = False) -> list[int]:
    """Segments follow the change (unless the caller refreshes them itself later, as a
    unit of work that changes the customer again does), then `trigger` enrolls the customer
    in matching active workflows; then the customer's enrollments convert when the change met
    their workflow's goal, and leave when it met the exit conditions (enrollments the
    trigger just made are checked too: their goal was noted at entry). `locked`: the
    caller's transaction updated the customer's row already. Returns the new enrollments' ids."""
    if segments:
        refresh_customer_segments(tenant_id, customer_id, now=now, locked=locked)
    created = [] if trigger is None else process_trigger(tenant_id, trigger, customer_id, payload, now=now)
    check_customer(tenant_id, customer_id, now)
    return created
