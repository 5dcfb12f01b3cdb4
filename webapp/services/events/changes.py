"""event_changed: when an event's announced fields change, its holders (and only they) are
told, waits timed from its start re-time themselves, and a cancelled event's reminders stop.

Called by catalogue._save after the flush, in the caller's transaction: the change, the
enrollments it starts and the re-timed waits commit together or not at all.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, cast, exists, insert, literal, or_, select, update

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import (
    AutomationEnrollment,
    AutomationStep,
    AutomationStepExecution,
    CustomerActivity,
    Event,
)
from webapp.models.workflow import OPEN_STATUSES
from webapp.services.enrollment import (
    ActiveWorkflow,
    active_workflows,
    closed_reentry_key,
    enroll_into,
    log_enrolled,
    matches,
)
from webapp.services.events.holders import holders_subquery
from webapp.services.events.payloads import payload_event

TRIGGER = "event_changed"
CANCELLED_REASON = "the event was cancelled"


def per_performance(workflow: ActiveWorkflow) -> ActiveWorkflow:
    """Event triggers are once per performance (and moment, or change) by their dedupe key:
    "one at a time" must not keep a customer's second performance out while the first one's
    run is open. "Only once" stays the marketer's word (one run ever)."""
    return dataclasses.replace(workflow, reentry="always") if workflow.reentry == "one_at_a_time" else workflow


def news(changes: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What of a change holders are told: a status that follows sales (on sale, sold out) or
    the end of the evening is not news; a cancellation, a reschedule or an un-cancelling is."""
    status = changes.get("status")
    if status is not None and status.get("new") not in ("cancelled", "rescheduled") \
            and status.get("old") != "cancelled":
        return {name: change for name, change in changes.items() if name != "status"}
    return changes


def change_kinds(changes: dict[str, dict[str, Any]]) -> list[str]:
    """What a change is, most telling first: cancelled (the status became cancelled),
    rescheduled (a new start, or the status says so), moved (another venue), else changed."""
    status = changes.get("status", {}).get("new")
    kinds = []
    if status == "cancelled":
        kinds.append("cancelled")
    if "starts_at" in changes or status == "rescheduled":
        kinds.append("rescheduled")
    if "venue_name" in changes or "venue_city" in changes:
        kinds.append("moved")
    return kinds or ["changed"]


def _names_event(event: Event):
    """SQL: an enrollment's trigger payload names `event`, by our id (event triggers) or by the
    platform's (purchases say `event.id` or `event.external_id`). Compared as text: a payload
    sent to POST /triggers may hold anything there."""
    payload = AutomationEnrollment.trigger_payload

    def text(*path: str):
        return cast(payload[path].as_string(), String)

    return or_(text("event", "event_id") == str(event.id), text("event", "id") == event.external_id,
               text("event", "external_id") == event.external_id)


def retime_waits(tenant_id: int, event: Event, now: datetime) -> int:
    """Enrollments waiting on a "N hours before the event" step for `event` wait for its new
    start: next_run_at moves (one UPDATE per such step) and the open trace row says so. The
    step itself reads the event's current start when it runs (steps/wait_until.py)."""
    if event.starts_at is None:
        return 0
    moved = 0
    steps = db.session.execute(select(AutomationStep.id, AutomationStep.workflow_id, AutomationStep.config).where(
        AutomationStep.tenant_id == tenant_id, AutomationStep.type == "wait_until")).all()
    for step_id, workflow_id, config in steps:
        hours = (config or {}).get("before_event_hours")
        if not isinstance(hours, int) or isinstance(hours, bool):
            continue
        due = event.starts_at - timedelta(hours=hours)
        waiting = and_(AutomationEnrollment.workflow_id == workflow_id, AutomationEnrollment.status == "waiting",
                       AutomationEnrollment.current_step_id == step_id, _names_event(event))
        db.session.execute(update(AutomationStepExecution).where(
            AutomationStepExecution.step_id == step_id, AutomationStepExecution.outcome == "waiting",
            AutomationStepExecution.enrollment_id.in_(select(AutomationEnrollment.id).where(waiting)))
            .values(detail=f"waiting until {due.isoformat()} (the event was rescheduled)")
            .execution_options(synchronize_session=False))
        moved += db.session.execute(update(AutomationEnrollment).where(waiting).values(next_run_at=due)
                                    .execution_options(synchronize_session=False)).rowcount
    return moved


def stop_reminders(tenant_id: int, event: Event, now: datetime) -> int:
    """A cancelled event's open event_reminder enrollments exit with the reason, as the runner
    ends one: the open trace row (or a new one for the step they were on) says "exited", the
    enrollment is exited with its reason, and the timeline says workflow_exited."""
    reminded = and_(AutomationEnrollment.tenant_id == tenant_id, AutomationEnrollment.trigger_type == "event_reminder",
                    AutomationEnrollment.status.in_(OPEN_STATUSES), _names_event(event))
    open_row = exists().where(AutomationStepExecution.enrollment_id == AutomationEnrollment.id,
                              AutomationStepExecution.outcome == "waiting")
    db.session.execute(insert(AutomationStepExecution.__table__).from_select(
        ["tenant_id", "enrollment_id", "step_id", "step_type", "started_at", "finished_at", "outcome", "detail"],
        select(AutomationEnrollment.tenant_id, AutomationEnrollment.id, AutomationStep.id, AutomationStep.type,
               literal(now, AutomationStepExecution.started_at.type),
               literal(now, AutomationStepExecution.finished_at.type), literal("exited"), literal(CANCELLED_REASON))
        .join(AutomationStep, AutomationStep.id == AutomationEnrollment.current_step_id)
        .where(reminded, ~open_row)))
    db.session.execute(update(AutomationStepExecution).where(
        AutomationStepExecution.outcome == "waiting",
        AutomationStepExecution.enrollment_id.in_(select(AutomationEnrollment.id).where(reminded)))
        .values(outcome="exited", finished_at=now, detail=CANCELLED_REASON)
        .execution_options(synchronize_session=False))
    ended = db.session.execute(update(AutomationEnrollment).where(reminded).values(
        status="exited", finished_at=now, next_run_at=None, claim_token=None, claimed_at=None,
        exit_reason=CANCELLED_REASON,
        reentry_key=closed_reentry_key())
        .returning(AutomationEnrollment.id, AutomationEnrollment.workflow_id, AutomationEnrollment.customer_id)
        .execution_options(synchronize_session=False)).all()
    if ended:
        db.session.execute(insert(CustomerActivity.__table__), [
            {"tenant_id": tenant_id, "customer_id": customer_id, "type": "workflow_exited",
             "properties": {"workflow_id": workflow_id, "enrollment_id": enrollment_id, "status": "exited",
                            "reason": CANCELLED_REASON}, "occurred_at": now, "created_at": now}
            for enrollment_id, workflow_id, customer_id in ended])
    return len(ended)


def announce_change(tenant_id: int, event: Event, changes: dict[str, dict[str, Any]], event_info: dict[str, Any],
                    *, now: datetime | None = None) -> int:
    """What a change to an event's announced fields sets off, in the caller's transaction:
    waits timed from its start re-time, a cancellation stops its reminders, and event_changed
    enrolls its holders into the workflows that listen (once per event per `sequence`, so a
    retried change fires nothing and two reschedules fire twice). `event_info` is the
    payload's `event` (catalogue.event_payload). Returns the enrollments started."""
    changes = news(changes)
    if not changes:
        return 0
    now = now or utcnow()
    kinds = change_kinds(changes)
    if "starts_at" in changes:
        retime_waits(tenant_id, event, now)
    if "cancelled" in kinds:
        stop_reminders(tenant_id, event, now)
    payload = {"event": event_info, "changes": changes, "change": kinds[0], "kinds": kinds}
    chosen = [per_performance(w) for w in active_workflows(tenant_id, TRIGGER) if matches(w, payload)]
    if not chosen:
        return 0
    created = enroll_into(tenant_id, chosen, TRIGGER, payload, now, customers=holders_subquery(tenant_id, event),
                          dedupe_key=f"changed:{event.id}:{event.sequence}")
    log_enrolled(tenant_id, created, now)
    return len(created)


def with_current_start(tenant_id: int, payload: dict[str, Any] | None) -> dict[str, Any] | None:
    """The trigger payload with its event's start as the events table says now (a reschedule
    after the enrollment began), when it names one of the tenant's events; else as it was.
    What "N hours before the event" waits count from."""
    event = payload_event(tenant_id, payload)
    if event is None or event.starts_at is None:
        return payload
    return {**payload, "event": {**payload["event"], "starts_at": event.starts_at.isoformat()}}
