"""Enrolling by hand (the UI, the API, the custom trigger) and the API's trigger call.
Enrollment by triggers is services/enrollment/, which this uses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.errors import Conflict, ValidationFailed
from webapp.infra.types import utcnow
from webapp.models import Customer
from webapp.services.customers import get_customer
from webapp.services.enrollment import active_workflows, enroll_into, log_enrolled, process_trigger
from webapp.services.triggers import TRIGGER_TYPES
from webapp.services.workflows.reading import get_workflow

ENROLL_MANY_MAX = 1000


def enroll_customers(tenant_id: int, workflow_id: int, customer_ids: list[int],
                     payload: dict[str, Any] | None = None, *, now: datetime | None = None) -> dict[str, list[int]]:
    """Manual enrollment (the UI, the API, the custom trigger) into one active workflow:
    {"enrolled": [customer ids], "skipped": [customer ids the re-entry policy kept out]}."""
    workflow = get_workflow(tenant_id, workflow_id)
    if not workflow.active:
        raise Conflict("switch the workflow on before enrolling customers")
    if not customer_ids:
        raise ValidationFailed("customer_ids", "give at least one customer id")
    if len(customer_ids) > ENROLL_MANY_MAX:
        raise ValidationFailed("customer_ids", f"at most {ENROLL_MANY_MAX} at once")
    wanted = list(dict.fromkeys(customer_ids))
    found = set(db.session.scalars(select(Customer.id).where(Customer.tenant_id == tenant_id, Customer.id.in_(wanted))))
    missing = [c for c in wanted if c not in found]
    if missing:
        raise ValidationFailed("customer_ids", f"no such customer: {missing[0]}")
    active = [w for w in active_workflows(tenant_id, workflow.trigger_type) if w.id == workflow.id]
    if not active:
        raise Conflict("the workflow has no steps to run")
    now = now or utcnow()
    chosen = (select(Customer.id.label("customer_id"))
              .where(Customer.tenant_id == tenant_id, Customer.id.in_(wanted)).subquery())
    created = enroll_into(tenant_id, active, "custom", dict(payload or {}), now, customers=chosen)
    log_enrolled(tenant_id, created, now)
    db.session.commit()
    enrolled = {r[2] for r in created}
    return {"enrolled": [c for c in wanted if c in enrolled], "skipped": [c for c in wanted if c not in enrolled]}


def fire_trigger(tenant_id: int, trigger_type: str, customer_id: int, payload: dict[str, Any] | None = None,
                 *, now: datetime | None = None) -> list[int]:
    """The API's POST /triggers: process_trigger for one of the tenant's customers, committed."""
    fired_by_api = [name for name, kind in TRIGGER_TYPES.items() if kind.api_fired]
    if trigger_type not in fired_by_api:
        raise ValidationFailed("type", f"must be one of {', '.join(fired_by_api)} (the others fire from what "
                                       "happens: purchases, the scheduler, preferences)")
    customer = get_customer(tenant_id, customer_id)
    ids = process_trigger(tenant_id, trigger_type, customer, payload, now=now)
    db.session.commit()
    return ids

