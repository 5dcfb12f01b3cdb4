"""Inventory reports: the platform says how many tickets are left; the event's status
follows, the low_inventory / sold_out / back_in_stock workflows fire once per crossing for
their audience, and tickets that came back are offered to the waitlist.

Once per crossing: each (event, workflow) has a row in inventory_crossings whose `armed`
flag a conditional UPDATE clears when the trigger fires and sets again when inventory
crosses back (past a margin for low_inventory, so hovering at the threshold fires once).
The report holds the event's row lock (waitlist.lock_event) throughout, so two concurrent
reports are seen one after the other.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, select, update

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.infra.sql import insert_ignoring_duplicates
from webapp.infra.types import utcnow
from webapp.infra.validation import check_storable, validate
from webapp.models import CustomerSegmentMember, Event, InventoryCrossing
from webapp.services.enrollment import ActiveWorkflow, active_workflows, enroll_into, log_enrolled, matches
from webapp.services.events.catalogue import event_payload
from webapp.services.events.holders import holders_subquery
from webapp.services.events.waitlist import lock_event, make_offers
from webapp.services.triggers.inventory import DEFAULT_COOLDOWN_MINUTES, rearm_percent

MAX_TICKETS = 10_000_000
INVENTORY_TRIGGERS = ("low_inventory", "sold_out", "back_in_stock")
# The platform's word on these stands whatever the inventory says: a cancelled or ended
# event does not go "on sale" because tickets were released, and a rescheduled one keeps
# telling holders so (the sell-out still fires its triggers).
KEPT_STATUSES = ("cancelled", "ended", "rescheduled")

Tickets = Annotated[int, Field(ge=0, le=MAX_TICKETS)]


class InventoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    available: Tickets
    capacity: Tickets | None = None


def status_for(status: str, available: int) -> str:
    """The event's status once `available` tickets are left."""
    if status in KEPT_STATUSES:
        return status
    return "sold_out" if available == 0 else "on_sale"


def _verdict(kind: str, config: dict[str, Any], available: int, capacity: int | None) -> str | None:
    """"fire" (the condition holds), "rearm" (it is clear of it) or None (in between)."""
    if kind == "sold_out":
        return "fire" if available == 0 else "rearm"
    if kind == "back_in_stock":
        return "fire" if available > 0 else "rearm"
    if not capacity:
        return None  # no capacity, no percentage
    # Integer arithmetic: 9 of 100 is below 10% on every backend and every float.
    if 0 < available and available * 100 < int(config.get("below_percent", 10)) * capacity:
        return "fire"
    if available * 100 >= rearm_percent(config) * capacity:
        return "rearm"
    # Sold out is not "running low" (sold_out says it), nor clear of it.
    return None


def _key(event_id: int, workflow_id: int):
    return InventoryCrossing.event_id == event_id, InventoryCrossing.workflow_id == workflow_id


def _cross(event: Event, workflow: ActiveWorkflow, verdict: str, *, armed_at_start: bool,
           now: datetime) -> int | None:
    """Apply the verdict to the (event, workflow) state: the crossing's number when this
    call fired it, else None."""
    db.session.execute(insert_ignoring_duplicates(InventoryCrossing.__table__).values(
        event_id=event.id, workflow_id=workflow.id, tenant_id=event.tenant_id, armed=armed_at_start, crossings=0))
    key = _key(event.id, workflow.id)
    if verdict == "rearm":
        db.session.execute(update(InventoryCrossing).where(*key, InventoryCrossing.armed.is_(False))
                           .values(armed=True).execution_options(synchronize_session=False))
        return None
    claim = update(InventoryCrossing).where(*key, InventoryCrossing.armed.is_(True))
    cooldown = None
    if workflow.trigger_type == "back_in_stock":
        cooldown = timedelta(minutes=int(workflow.config.get("cooldown_minutes", DEFAULT_COOLDOWN_MINUTES)))
        claim = claim.where(or_(InventoryCrossing.fired_at.is_(None), InventoryCrossing.fired_at <= now - cooldown))
    fired = db.session.execute(claim.values(armed=False, crossings=InventoryCrossing.crossings + 1, fired_at=now)
                               .execution_options(synchronize_session=False)).rowcount
    if fired != 1:
        if cooldown:
            # Back within the cool-down: this crossing is spent without a message (the
            # audience heard "back on sale" minutes ago); it re-arms at the next sell-out.
            db.session.execute(update(InventoryCrossing).where(*key).values(armed=False)
                               .execution_options(synchronize_session=False))
        return None
    return db.session.scalar(select(InventoryCrossing.crossings).where(*key))


def audience(tenant_id: int, event: Event, config: dict[str, Any]):
    """The workflow's segment's members, less the event's ticket holders unless the
    workflow includes them: a subquery with a customer_id column (what enrollment takes)."""
    members = select(CustomerSegmentMember.customer_id.label("customer_id")).where(
        CustomerSegmentMember.tenant_id == tenant_id, CustomerSegmentMember.segment_id == config.get("segment_id"))
    if config.get("exclude_holders", True):
        holders = holders_subquery(tenant_id, event)
        members = members.where(CustomerSegmentMember.customer_id.not_in(select(holders.c.customer_id)))
    return members.subquery()


def _fire_crossings(tenant_id: int, event: Event, previous: int | None, now: datetime) -> int:
    available, capacity = event.available or 0, event.capacity
    payload = {"event": event_payload(event), "available": available, "capacity": capacity,
               "percent_left": round(available * 100 / capacity, 1) if capacity else None}
    enrolled = 0
    for kind in INVENTORY_TRIGGERS:
        for workflow in active_workflows(tenant_id, kind):
            if not matches(workflow, payload):
                continue
            verdict = _verdict(kind, workflow.config, available, capacity)
            if verdict is None:
                continue
            # back_in_stock is armed by a sell-out it saw (or one before its first report).
            armed = previous == 0 if kind == "back_in_stock" else True
            crossing = _cross(event, workflow, verdict, armed_at_start=armed, now=now)
            if crossing is None:
                continue
            created = enroll_into(tenant_id, [workflow], kind, payload, now,
                                  customers=audience(tenant_id, event, workflow.config),
                                  dedupe_key=f"{kind}:{event.id}:{crossing}")
            log_enrolled(tenant_id, created, now)
            enrolled += len(created)
    return enrolled


def report_inventory(tenant_id: int, event_id: int, data: dict[str, Any], *, now: datetime | None = None) -> Event:
    """Store what the platform says is left (and the capacity, when given) of one of the
    tenant's events (404 across tenants), move its status, fire the inventory triggers of the
    crossings this makes, offer tickets that came back to the waitlist; commits."""
    check_storable(data, "")
    body = validate(InventoryIn, data)
    now = now or utcnow()
    event = lock_event(tenant_id, event_id)
    capacity = body.capacity if "capacity" in body.model_fields_set else event.capacity
    if capacity is not None and body.available > capacity:
        field = "capacity" if "capacity" in body.model_fields_set else "available"
        db.session.rollback()  # let go of the event's lock
        raise ValidationFailed(field, f"available ({body.available}) must not be more than capacity ({capacity})")
    previous = event.available
    if previous is None and event.status == "sold_out":
        previous = 0
    event.available, event.capacity = body.available, capacity
    event.status = status_for(event.status, body.available)
    event.updated_at = now
    db.session.flush()
    _fire_crossings(tenant_id, event, previous, now)
    if previous is not None and body.available > previous:
        make_offers(tenant_id, event, body.available - previous, now)
    db.session.commit()
    return event
