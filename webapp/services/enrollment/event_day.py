"""event_day: the periodic sweep that enrolls ticket holders when an event's day comes."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import AutomationWorkflow, CustomerActivity, Event, Tenant
from webapp.services.enrollment.active import active_workflows
from webapp.services.enrollment.enroll import enroll_into, log_enrolled


def _event_starts(tenant_id: int) -> list[tuple[str, str | None, datetime]]:
    """(platform event id, name, start) of every event of the tenant with a start: the events
    table, which each purchase naming an event fills and a reschedule moves (a scan of every
    purchase's properties took seconds at a million customers, and kept a moved show's old
    start)."""
    return [tuple(r) for r in db.session.execute(
        select(Event.external_id, Event.name, Event.starts_at)
        .where(Event.tenant_id == tenant_id, Event.starts_at.isnot(None)))]


def event_fire_time(starts_at: datetime, timezone: str, offset_days: int, hour: int) -> datetime:
    """When an event_day workflow fires for an event: `hour` o'clock in the tenant's
    timezone, on the event's local date plus offset_days."""
    zone = ZoneInfo(timezone or "UTC")
    day = starts_at.astimezone(zone).date() + timedelta(days=offset_days)
    return datetime.combine(day, time(hour), tzinfo=zone)


def enroll_event_day(*, now: datetime | None = None, late_grace: timedelta = timedelta(days=1)) -> int:
    """Periodic: enroll ticket holders of each event whose fire time has come (and is at most
    `late_grace` ago, so a late scheduler still fires). The dedupe key makes it once per
    customer per event however often this runs."""
    now = now or utcnow()
    total = 0
    workflows = db.session.execute(select(AutomationWorkflow.tenant_id, AutomationWorkflow.id).where(
        AutomationWorkflow.active.is_(True), AutomationWorkflow.trigger_type == "event_day")).all()
    tenant_ids = sorted({t for t, _ in workflows})
    for tenant_id in tenant_ids:
        tenant = db.session.get(Tenant, tenant_id)
        events = _event_starts(tenant_id)
        for workflow in active_workflows(tenant_id, "event_day"):
            offset, hour = int(workflow.config.get("offset_days", 0)), int(workflow.config.get("hour", 9))
            for event_id, event_name, starts_at in events:
                try:
                    fire_at = event_fire_time(starts_at, tenant.timezone, offset, hour)
                except OverflowError:  # a start at the calendar's edge, stored before the API refused it
                    continue
                if not fire_at <= now < fire_at + late_grace:
                    continue
                holders = (select(CustomerActivity.customer_id.label("customer_id"))
                           .where(CustomerActivity.tenant_id == tenant_id, CustomerActivity.type == "purchase",
                                  CustomerActivity.event_id == event_id).distinct().subquery())
                payload = {"event": {"id": event_id, "name": event_name, "starts_at": starts_at.isoformat()}}
                created = enroll_into(tenant_id, [workflow], "event_day", payload, now, customers=holders,
                                  dedupe_key=f"event:{event_id}"[:200])
                log_enrolled(tenant_id, created, now)
                total += len(created)
        db.session.commit()
    return total
