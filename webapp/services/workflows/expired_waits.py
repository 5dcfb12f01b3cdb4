"""The bulk path: waits that ran out, passed together for a claimed batch."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, case, insert, select, update

from webapp.extensions import db
from webapp.models import (
    AutomationEnrollment,
    AutomationStep,
    AutomationStepExecution,
    AutomationWorkflow,
    CustomerActivity,
)
from webapp.services.workflows.paths import next_step
from webapp.services.workflows.steps.base import BAD_DATA


def advance_expired_waits(token: str, ids: list[int], now: datetime) -> list[int]:
    """Set-based first pass over a claimed batch: enrollments whose wait step has run out
    pass it together (their executions closed, then on to the next step or completed) in a
    few statements and one commit. Returns the ids that still need the step-by-step runner.

    A big "due at once" (a wait shared by thousands) is mostly this; other steps need the
    customer and external effects, and go one by one."""
    passed = _passed_waits(token, ids, now)
    if not passed:
        return ids
    _close_wait_executions(passed, now)
    finished = _move_on(token, passed, now)
    db.session.commit()
    finished_ids = {r.id for r in finished}
    return [i for i in ids if i not in finished_ids]


def _passed_waits(token: str, ids: list[int], now: datetime) -> dict[int | None, list]:
    """The claimed enrollments whose wait has run out, by the step they go on to (None: the end)."""
    rows = db.session.execute(select(
        AutomationEnrollment.id, AutomationEnrollment.workflow_id, AutomationEnrollment.current_step_id,
        AutomationEnrollment.step_entered_at, AutomationEnrollment.tenant_id, AutomationEnrollment.customer_id)
        .where(AutomationEnrollment.id.in_(ids), AutomationEnrollment.claim_token == token,
               AutomationEnrollment.status.in_(("active", "waiting")))).all()
    workflow_ids = {r.workflow_id for r in rows}
    if not workflow_ids:
        return {}
    active = set(db.session.scalars(select(AutomationWorkflow.id).where(
        AutomationWorkflow.id.in_(workflow_ids), AutomationWorkflow.active.is_(True))))
    steps: dict[int, list[AutomationStep]] = {}
    for step in db.session.scalars(select(AutomationStep).where(AutomationStep.workflow_id.in_(workflow_ids))
                                   .order_by(AutomationStep.position, AutomationStep.id)):
        steps.setdefault(step.workflow_id, []).append(step)
    passed: dict[int | None, list] = {}  # next step id (None: the end) -> rows
    following: dict[int, AutomationStep | None] = {}  # a wait's next step, found once per step
    for row in rows:
        ordered = steps.get(row.workflow_id, [])
        index = next((i for i, s in enumerate(ordered) if s.id == row.current_step_id), None)
        if row.workflow_id not in active or index is None or ordered[index].type != "wait":
            continue
        config = ordered[index].config or {}
        try:
            delta = timedelta(minutes=config.get("minutes", 0), hours=config.get("hours", 0),
                              days=config.get("days", 0))
        except BAD_DATA:
            continue  # a wait it cannot read: the runner fails that enrollment, with the reason
        if row.step_entered_at is None or row.step_entered_at + delta > now:
            continue
        if ordered[index].id not in following:
            following[ordered[index].id] = next_step(ordered, ordered[index])
        after = following[ordered[index].id]
        passed.setdefault(after.id if after is not None else None, []).append(row)
    return passed


def _close_wait_executions(passed: dict[int | None, list], now: datetime) -> None:
    """The waits' trace rows say done (opened "waiting" when the wait began, or added now)."""
    done_ids = [r.id for group in passed.values() for r in group]
    current = {r.id: r.current_step_id for group in passed.values() for r in group}
    waiting = set(db.session.scalars(select(AutomationStepExecution.enrollment_id).where(
        AutomationStepExecution.enrollment_id.in_(done_ids), AutomationStepExecution.outcome == "waiting")))
    db.session.execute(update(AutomationStepExecution).where(
        AutomationStepExecution.enrollment_id.in_(done_ids), AutomationStepExecution.outcome == "waiting")
        .values(outcome="done", finished_at=now, detail="the wait is over").execution_options(
            synchronize_session=False))
    missing = [i for i in done_ids if i not in waiting]
    if missing:
        tenant_of = {r.id: r.tenant_id for group in passed.values() for r in group}
        db.session.execute(insert(AutomationStepExecution.__table__), [
            {"tenant_id": tenant_of[i], "enrollment_id": i, "step_id": current[i], "step_type": "wait",
             "started_at": now, "finished_at": now, "outcome": "done", "detail": "the wait is over"}
            for i in missing])


def _move_on(token: str, passed: dict[int | None, list], now: datetime) -> list:
    """Enrollments go on to their next step, or complete; returns the completed rows."""
    mine = and_(AutomationEnrollment.claim_token == token)
    finished = passed.pop(None, [])
    if finished:
        db.session.execute(update(AutomationEnrollment).where(
            mine, AutomationEnrollment.id.in_([r.id for r in finished])).values(
            status="completed", current_step_id=None, finished_at=now, next_run_at=None, claim_token=None,
            claimed_at=None, attempts=0, last_error=None,
            reentry_key=case((AutomationEnrollment.reentry_key == "open", None),
                             else_=AutomationEnrollment.reentry_key)).execution_options(synchronize_session=False))
        db.session.execute(insert(CustomerActivity.__table__), [
            {"tenant_id": r.tenant_id, "customer_id": r.customer_id, "type": "workflow_completed",
             "properties": {"workflow_id": r.workflow_id, "enrollment_id": r.id, "status": "completed"},
             "occurred_at": now, "created_at": now} for r in finished])
    for following, group in passed.items():
        db.session.execute(update(AutomationEnrollment).where(
            mine, AutomationEnrollment.id.in_([r.id for r in group])).values(
            current_step_id=following, step_entered_at=now, status="active", attempts=0, last_error=None)
            .execution_options(synchronize_session=False))
    return finished
