"""event_reminder: the performance clock. Every holder of every performance is reminded at
an offset before its start (or its doors), on the venue's clock; a periodic sweep enrolls
those who held a ticket when the time came, and a purchase made after it catches up at once
(or never, as the workflow says).

The DST rule: an offset of whole days (`-7d`, or hours that are a multiple of 24: `-24h`,
`-48h`) keeps the venue's wall clock, so "-24h" before a 20:00 show on the day the clocks
change goes at 20:00 local the day before (23 or 25 real hours earlier). Any other offset is
elapsed time: "-2h" is two real hours, whatever the clock on the wall says. A wall-clock time
the day skips (the spring-forward gap) is read with the offset in force before the change,
i.e. an hour later on the wall; one it repeats (autumn) is its first occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, distinct, func, literal, select, union, union_all

from webapp.extensions import db
from webapp.infra.types import iso_or_none, utcnow
from webapp.models import AutomationWorkflow, CustomerActivity, Event, EventTag, PurchaseItem, Tenant
from webapp.services.enrollment import ActiveWorkflow, active_workflows, enroll_into, log_enrolled
from webapp.services.events.catalogue import event_payload, event_tags, event_zone
from webapp.services.events.changes import per_performance
from webapp.services.events.holders import holders_subquery
from webapp.services.performance_clock import Offset, parse_offset, reminder_time

TRIGGER = "event_reminder"
ANCHORS = ("starts_at", "doors_at")
LATE_POLICIES = ("send_now", "skip")
# Events that happen no more: nothing reminds of them.
STOPPED = ("cancelled", "ended")
# A reminder at the moment itself (offset 0) may still go out this long after it; any other
# goes out only while the moment is ahead.
ON_THE_MOMENT = timedelta(hours=1)
# How far a wall-clock offset can land from elapsed time (a change of the clocks is at most
# an hour; two leave room for any zone): the sweep's window on events is this much wider.
CLOCK_CHANGE_SLACK = timedelta(hours=2)


@dataclass(frozen=True)
class ReminderSettings:
    """A workflow's event_reminder config, read."""

    offset: Offset
    anchor: str
    late_buyers: str
    event_id: int | None
    tag: str | None

    @classmethod
    def of(cls, config: dict[str, Any]) -> ReminderSettings | None:
        """The settings, or None for ones this version cannot read (that workflow is passed
        over; the others go on)."""
        try:
            offset = parse_offset(config.get("offset"))
        except ValueError:
            return None
        anchor, late = config.get("anchor", "starts_at"), config.get("late_buyers", "send_now")
        if anchor not in ANCHORS or late not in LATE_POLICIES:
            return None
        event_id = config.get("event_id")
        return cls(offset, anchor, late, event_id if isinstance(event_id, int) else None,
                   str(config["tag"]).strip().lower() if config.get("tag") else None)

    def last_call(self, anchor_at: datetime, fire_at: datetime) -> datetime:
        """Until when a reminder whose time came may still go out: while its moment is ahead
        (a reminder at the moment itself: within ON_THE_MOMENT)."""
        return fire_at + ON_THE_MOMENT if not self.offset.amount else anchor_at


@dataclass(frozen=True)
class Due:
    anchor_at: datetime
    fire_at: datetime
    last_call: datetime


def due_time(event: Event, settings: ReminderSettings, zone: str) -> Due | None:
    """When `event` is reminded of under `settings`; None when it never is (no anchor time,
    cancelled or over)."""
    anchor_at = getattr(event, settings.anchor)
    if anchor_at is None or event.status in STOPPED:
        return None
    fire_at = reminder_time(anchor_at, settings.offset, zone)
    return Due(anchor_at, fire_at, settings.last_call(anchor_at, fire_at))


def reminder_key(event: Event, anchor_at: datetime) -> str:
    """Once per customer per workflow per performance and per moment: a rescheduled event
    reminds again for its new date, the same date never twice."""
    return f"reminder:{event.id}:{anchor_at.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def _flat_tags(event_id: int) -> list[str]:
    return sorted({value for values in event_tags([event_id])[event_id].values() for value in values})


def reminder_payload(event: Event, tenant: Tenant, settings: ReminderSettings, due: Due) -> dict[str, Any]:
    return {"event": {**event_payload(event, tenant), "tags": _flat_tags(event.id)},
            "reminder": {"offset": str(settings.offset), "anchor": settings.anchor, "at": iso_or_none(due.fire_at)}}


def _holders_before(tenant_id: int, event: Event, moment: datetime):
    """The event's holders whose first ticket for it was bought at or before `moment`, as a
    subquery with a customer_id column: who a "skip late buyers" reminder reaches."""
    bought = union_all(
        select(CustomerActivity.customer_id.label("customer_id"), CustomerActivity.occurred_at.label("at")).where(
            CustomerActivity.tenant_id == tenant_id, CustomerActivity.type == "purchase",
            CustomerActivity.event_id == event.external_id),
        select(PurchaseItem.attendee_customer_id.label("customer_id"), PurchaseItem.occurred_at.label("at")).where(
            PurchaseItem.tenant_id == tenant_id, PurchaseItem.event_id == event.id,
            PurchaseItem.attendee_customer_id.isnot(None))).subquery()
    return (select(bought.c.customer_id).group_by(bought.c.customer_id)
            .having(func.min(bought.c.at) <= moment).subquery())


def _candidates(tenant_id: int, settings: ReminderSettings, now: datetime) -> list[Event]:
    """The tenant's events whose reminder may be due at `now`: the anchor between an hour ago
    and the offset ahead (plus the clocks' slack), bounded on starts_at by its index."""
    low, high = now - ON_THE_MOMENT, now + settings.offset.delta + CLOCK_CHANGE_SLACK
    anchor = getattr(Event, settings.anchor)
    stmt = select(Event).where(Event.tenant_id == tenant_id, Event.starts_at > low, anchor > low, anchor <= high,
                               Event.status.notin_(STOPPED))
    if settings.anchor == "starts_at":
        stmt = stmt.where(Event.starts_at <= high)
    if settings.event_id is not None:
        stmt = stmt.where(Event.id == settings.event_id)
    if settings.tag is not None:
        stmt = stmt.where(select(EventTag.event_id).where(EventTag.event_id == Event.id,
                                                          func.lower(EventTag.value) == settings.tag).exists())
    return list(db.session.scalars(stmt.order_by(Event.starts_at, Event.id)))


def _enroll(tenant: Tenant, workflow: ActiveWorkflow, settings: ReminderSettings, event: Event, due: Due,
            customers, now: datetime) -> int:
    created = enroll_into(tenant.id, [per_performance(workflow)], TRIGGER,
                          reminder_payload(event, tenant, settings, due), now, customers=customers,
                          dedupe_key=reminder_key(event, due.anchor_at))
    log_enrolled(tenant.id, created, now)
    return len(created)


def send_due_reminders(*, now: datetime | None = None, grace: timedelta = timedelta(days=1)) -> int:
    """Periodic: enroll the holders of every performance whose reminder time has come (at most
    `grace` ago, so a late scheduler still reminds, and only while the moment is ahead) into
    each active event_reminder workflow: one INSERT ... SELECT per (workflow, event) due.
    Idempotent: the dedupe key makes it once per customer per performance and moment."""
    now = now or utcnow()
    total = 0
    tenant_ids = db.session.scalars(select(distinct(AutomationWorkflow.tenant_id)).where(
        AutomationWorkflow.active.is_(True), AutomationWorkflow.trigger_type == TRIGGER))
    for tenant_id in sorted(tenant_ids):
        tenant = db.session.get(Tenant, tenant_id)
        for workflow in active_workflows(tenant_id, TRIGGER):
            settings = ReminderSettings.of(workflow.config)
            if settings is None:
                continue
            for event in _candidates(tenant_id, settings, now):
                due = due_time(event, settings, event_zone(event, tenant))
                if due is None or not due.fire_at <= now < min(due.last_call, due.fire_at + grace):
                    continue
                customers = _holders_before(tenant_id, event, due.fire_at) if settings.late_buyers == "skip" \
                    else holders_subquery(tenant_id, event)
                total += _enroll(tenant, workflow, settings, event, due, customers, now)
        db.session.commit()
    return total


def remind_late_buyer(activity: CustomerActivity, event: Event, *, now: datetime | None = None) -> int:
    """A purchase for `event` made after a reminder's time had passed (the event still ahead)
    gets that reminder now when its workflow says send_now, exactly once (the sweep's dedupe
    key), and nothing when it says skip; a purchase made before the time but delivered after
    the sweep gets it too. The buyer and the purchase's guests who are customers are reached.
    One cached lookup of the tenant's reminder workflows when there are none."""
    workflows = active_workflows(activity.tenant_id, TRIGGER)
    if not workflows or event.status in STOPPED:
        return 0
    now = now or utcnow()
    tenant = db.session.get(Tenant, activity.tenant_id)
    zone = event_zone(event, tenant)
    total = 0
    tags: list[str] | None = None
    for workflow in workflows:
        settings = ReminderSettings.of(workflow.config)
        if settings is None or settings.event_id not in (None, event.id):
            continue
        due = due_time(event, settings, zone)
        # Not yet due: the sweep reminds them with everyone else.
        if due is None or not due.fire_at <= now < due.last_call:
            continue
        if settings.late_buyers == "skip" and activity.occurred_at > due.fire_at:
            continue
        if settings.tag is not None:
            tags = _flat_tags(event.id) if tags is None else tags
            if settings.tag not in {t.lower() for t in tags}:
                continue
        customers = union(
            select(literal(activity.customer_id, Integer).label("customer_id")),
            select(PurchaseItem.attendee_customer_id.label("customer_id")).where(
                PurchaseItem.activity_id == activity.id, PurchaseItem.attendee_customer_id.isnot(None))).subquery()
        total += _enroll(tenant, workflow, settings, event, due, customers, now)
    return total
