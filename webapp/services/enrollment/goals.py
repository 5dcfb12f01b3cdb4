"""Goals and exit conditions at work: conversions in real time, exits before every step.

Semantics (honest analytics):
- An enrollment converts when, within the goal's window from enrollment, a change of the
  customer makes the goal true. A goal already true at entry is not a conversion (the
  workflow did not cause it): the enrollment notes `goal_met_at_entry`, and the note is
  cleared once the goal stops being true, so only a later change that makes it true again
  counts.
- An open enrollment that converts ends as `converted`: its remaining steps do not run and
  a wait is cancelled. Completed enrollments (held-out ones included) still convert within
  the window: they get `converted_at` and keep their status, which keeps treated vs held
  out comparable. Exited and failed enrollments do not convert.
- Exit conditions end an open enrollment (`exited`, "exit condition met: ...") before any
  step, and at once when a change of a customer no runner holds meets them.

Checked on customer_changed (the one path every change takes) and by the runner before
each step. A tenant without goal or exit workflows pays one cached lookup; with them, one
query finds the customer's enrollments concerned with, for each, one EXISTS for its goal
and one for its exit conditions.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, exists, false, or_, select, update

from webapp.extensions import db
from webapp.infra.memo import VersionedCache
from webapp.infra.sql import among
from webapp.infra.types import UTCDateTime, utcnow
from webapp.models import (
    AutomationEnrollment,
    AutomationStep,
    AutomationStepExecution,
    AutomationWorkflow,
    Customer,
    CustomerActivity,
)
from webapp.models.workflow import OPEN_STATUSES
from webapp.segments.compiler import Compiler
from webapp.services.enrollment.active import workflow_keys
from webapp.services.enrollment.goal_criteria import Criteria, expression, met, parse_criteria
from webapp.services.webhooks.emit import emit
from webapp.services.webhooks.payloads import customer_refs

# Statuses that may still convert: open ones, and completed ones within the window.
CONVERTIBLE = (*OPEN_STATUSES, "completed")


@dataclass(frozen=True)
class Journey:
    """A workflow with a goal or exit conditions."""

    id: int
    goal: Criteria | None
    exits: Criteria | None


# tenant_id -> {workflow_id: Journey} under the key (count, sum of versions, latest update)
# of the tenant's workflows: it moves with every change, so the cache is never stale. Every
# workflow counts, switched on or off: a paused workflow's enrollments still convert.
_JOURNEYS = VersionedCache[dict[int, Journey]]()
# tenant_id -> check_customers' statement for the clock's "now", under the same key: building
# the CASE of every workflow's EXISTS (and its cache key) cost more than running it.
_CHECKS = VersionedCache[Any](size=256)


def journeys(tenant_id: int) -> dict[int, Journey]:
    """The tenant's workflows with a goal or exit conditions (one indexed aggregate when cached)."""
    return _JOURNEYS.get(tenant_id, workflow_keys(tenant_id)[1], lambda: _load_journeys(tenant_id))


def _load_journeys(tenant_id: int) -> dict[int, Journey]:
    rows = db.session.execute(select(AutomationWorkflow.id, AutomationWorkflow.goal,
                                     AutomationWorkflow.exit_conditions)
                              .where(AutomationWorkflow.tenant_id == tenant_id))
    found = {}
    for wid, goal, exit_conditions in rows:
        journey = Journey(wid, parse_criteria(goal), parse_criteria(exit_conditions))
        if journey.goal is not None or journey.exits is not None:
            found[wid] = journey
    return found


def note_goals_at_entry(tenant_id: int, created: list[tuple[int, int, int]], now: datetime) -> None:
    """New enrollments (id, workflow id, customer id) whose goal is already true are marked
    goal_met_at_entry: one UPDATE per goal workflow, set-based over its new enrollments."""
    goals = {wid: j.goal for wid, j in journeys(tenant_id).items() if j.goal is not None} if created else {}
    by_workflow: dict[int, list[int]] = {}
    for enrollment_id, workflow_id, _ in created:
        if workflow_id in goals:
            by_workflow.setdefault(workflow_id, []).append(enrollment_id)
    if not by_workflow:
        return
    compiler = Compiler(tenant_id, db.session.get_bind().dialect.name, now)
    for workflow_id, ids in by_workflow.items():
        true_now = exists().where(Customer.id == AutomationEnrollment.customer_id, Customer.tenant_id == tenant_id,
                                  expression(goals[workflow_id], compiler, AutomationEnrollment.enrolled_at))
        for start in range(0, len(ids), 1000):
            db.session.execute(update(AutomationEnrollment).where(
                AutomationEnrollment.id.in_(ids[start:start + 1000]), true_now)
                .values(goal_met_at_entry=True).execution_options(synchronize_session=False))


def check_customer(tenant_id: int, customer_id: int, now: datetime | None = None) -> None:
    """A change of the customer: convert enrollments whose goal it made true, exit open ones
    whose exit conditions it met. In the caller's transaction (the caller commits). `now`:
    a moment of the caller's (None: the clock's)."""
    check_customers(tenant_id, [customer_id], now)


def check_customers(tenant_id: int, customer_ids: Collection[int], now: datetime | None = None) -> None:
    """check_customer for every customer of a batch at once: one statement reads their
    concerned enrollments and whether each meets its goal and exit conditions now."""
    found = journeys(tenant_id)
    if not found or not customer_ids:
        return
    moment = now or utcnow()
    longest = max((j.goal.within_days or 0 for j in found.values() if j.goal is not None), default=0)
    if now is None:  # "N days ago" read from the clock when it runs: one statement while no workflow changes
        statement = _CHECKS.get((tenant_id, db.session.get_bind().dialect.name), workflow_keys(tenant_id)[1],
                                lambda: _check_statement(tenant_id, found, None))
    else:
        statement = _check_statement(tenant_id, found, now)
    rows = db.session.execute(statement, {"customer_ids": sorted(customer_ids),
                                          "goal_window": moment - timedelta(days=longest)}).all()
    for enrollment, exit_met, goal_met in rows:
        journey = found[enrollment.workflow_id]
        if exit_met and journey.exits is not None and enrollment.status in OPEN_STATUSES \
                and enrollment.claim_token is None:
            end_by_exit(enrollment, journey.exits, moment)
        elif _may_convert(enrollment, journey.goal, moment):
            _follow_goal(enrollment, journey.goal, moment, true_now=bool(goal_met))


def _check_statement(tenant_id: int, found: dict[int, Journey], now: datetime | None):
    """The enrollments of :customer_ids that a goal or exit concerns, and whether each meets
    its workflow's exit conditions and goal now (an EXISTS per workflow, chosen by a CASE
    on the workflow); goals only for enrollments since :goal_window (the longest window)."""
    goal_ids = [wid for wid, j in found.items() if j.goal is not None]
    exit_ids = [wid for wid, j in found.items() if j.exits is not None]
    concerned = []
    if goal_ids:
        concerned.append(and_(AutomationEnrollment.workflow_id.in_(goal_ids),
                              AutomationEnrollment.status.in_(CONVERTIBLE),
                              AutomationEnrollment.converted_at.is_(None),
                              AutomationEnrollment.enrolled_at >= bindparam("goal_window", type_=UTCDateTime())))
    if exit_ids:
        concerned.append(and_(AutomationEnrollment.workflow_id.in_(exit_ids),
                              AutomationEnrollment.status.in_(OPEN_STATUSES)))
    compiler = Compiler(tenant_id, db.session.get_bind().dialect.name, now)
    return select(AutomationEnrollment, _met_now(found, "exits", tenant_id, compiler),
                  _met_now(found, "goal", tenant_id, compiler)).where(
        among(AutomationEnrollment.customer_id, "customer_ids", compiler.dialect),
        AutomationEnrollment.tenant_id == tenant_id, or_(*concerned)).order_by(AutomationEnrollment.id)


def _met_now(found: dict[int, Journey], which: str, tenant_id: int, compiler: Compiler):
    """True when the enrollment row's customer meets its workflow's `which` ("goal" or "exits")."""
    whens = [(AutomationEnrollment.workflow_id == wid,
              exists().where(Customer.id == AutomationEnrollment.customer_id, Customer.tenant_id == tenant_id,
                             expression(criteria, compiler, AutomationEnrollment.enrolled_at)))
             for wid, journey in found.items() if (criteria := getattr(journey, which)) is not None]
    return case(*whens, else_=false()) if whens else false()


def _may_convert(enrollment: AutomationEnrollment, goal: Criteria | None, now: datetime) -> bool:
    """Not yet converted, in a status that converts, and within the goal's window."""
    return goal is not None and enrollment.converted_at is None and enrollment.status in CONVERTIBLE \
        and enrollment.enrolled_at >= now - timedelta(days=goal.within_days or 0)


def _follow_goal(enrollment: AutomationEnrollment, goal: Criteria | None, now: datetime, *,
                 true_now: bool | None = None) -> None:
    if goal is None or not _may_convert(enrollment, goal, now):
        return
    if true_now is None:
        true_now = met(goal, enrollment.tenant_id, enrollment.customer_id, enrollment.enrolled_at, now)
    if true_now and not enrollment.goal_met_at_entry:
        convert(enrollment, goal, now)
    elif not true_now and enrollment.goal_met_at_entry:
        enrollment.goal_met_at_entry = False  # from now on, the goal becoming true is a conversion


def ended_before_step(enrollment: AutomationEnrollment, step: AutomationStep, now: datetime) -> bool:
    """The runner's check before a step: the control group of a holdout ends (completed),
    exit conditions (one EXISTS), the goal (one more), and a conversion recorded while the
    step before it ran. True (committed) when the
    enrollment ended here; the step does not run."""
    if enrollment.held_out:  # a holdout step put it in the control group: nothing more runs
        _complete_held_out(enrollment, now)
        db.session.commit()
        return True
    journey = journeys(enrollment.tenant_id).get(enrollment.workflow_id)
    if enrollment.converted_at is None and journey is not None:
        if journey.exits is not None and met(journey.exits, enrollment.tenant_id, enrollment.customer_id,
                                             enrollment.enrolled_at, now):
            end_by_exit(enrollment, journey.exits, now, step=step)
            db.session.commit()
            return True
        _follow_goal(enrollment, journey.goal, now)
    if enrollment.converted_at is not None:
        if enrollment.status != "converted":  # converted meanwhile: the step after it does not run
            _end(enrollment, "converted", _goal_reason(journey.goal if journey else None), now, step=step)
            enrollment.status = "converted"
        db.session.commit()
        return True
    return False


def _complete_held_out(enrollment: AutomationEnrollment, now: datetime) -> None:
    _close(enrollment, "completed", now)
    enrollment.current_step_id = None
    _log(enrollment, "workflow_completed", now, status="completed", held_out=True)


def _close(enrollment: AutomationEnrollment, status: str, now: datetime) -> None:
    """The enrollment is over: no more runs, no claim, and the re-entry key frees as when it completes."""
    enrollment.status = status
    enrollment.finished_at = now
    enrollment.next_run_at = None
    enrollment.claim_token = None
    enrollment.claimed_at = None
    if enrollment.reentry_key == "open":
        enrollment.reentry_key = None


def _log(enrollment: AutomationEnrollment, activity_type: str, now: datetime, **properties) -> None:
    db.session.add(CustomerActivity(
        tenant_id=enrollment.tenant_id, customer_id=enrollment.customer_id, type=activity_type,
        properties={"workflow_id": enrollment.workflow_id, "enrollment_id": enrollment.id, **properties},
        occurred_at=now, created_at=now))


def convert(enrollment: AutomationEnrollment, goal: Criteria, now: datetime) -> None:
    """The goal is met: converted_at, and an open enrollment ends as converted."""
    enrollment.converted_at = now
    # A runner holding the enrollment (this change may be its own step's) ends it before
    # its next step (ended_before_step); others end here.
    if enrollment.status in OPEN_STATUSES and enrollment.claim_token is None:
        _end(enrollment, "converted", _goal_reason(goal), now)
    converted(enrollment, now, goal)


def _goal_reason(goal: Criteria | None) -> str:
    return f"goal met: {goal.words}"[:2000] if goal is not None else "goal met"


def converted(enrollment: AutomationEnrollment, now: datetime, goal: Criteria | None = None) -> None:
    """Once per conversion, in the converting transaction: workflow_converted on the
    customer's timeline and the outbound webhook `workflow.converted`."""
    _log(enrollment, "workflow_converted", now, status=enrollment.status, held_out=bool(enrollment.held_out))

    def payload() -> dict:
        workflow = db.session.get(AutomationWorkflow, enrollment.workflow_id)
        customer = customer_refs(enrollment.tenant_id, [enrollment.customer_id]).get(enrollment.customer_id)
        return {"workflow": {"id": enrollment.workflow_id, "name": workflow.name if workflow else None},
                "enrollment_id": enrollment.id, "customer": customer, "status": enrollment.status,
                "held_out": bool(enrollment.held_out), "goal": goal.words if goal is not None else None,
                "enrolled_at": enrollment.enrolled_at.isoformat() if enrollment.enrolled_at else None,
                "converted_at": now.isoformat()}

    emit(enrollment.tenant_id, "workflow.converted", payload)


def end_by_exit(enrollment: AutomationEnrollment, exits: Criteria, now: datetime, *,
                step: AutomationStep | None = None) -> None:
    reason = f"exit condition met: {exits.words}"[:2000]
    _end(enrollment, "exited", reason, now, step=step)
    _log(enrollment, "workflow_exited", now, status="exited", reason=reason[:500])


def _end(enrollment: AutomationEnrollment, status: str, reason: str, now: datetime, *,
         step: AutomationStep | None = None) -> None:
    """An open enrollment ends here: its open wait (or the step it was about to run) says why in the trace."""
    outcome = "cancelled" if status == "converted" else "exited"
    detail = f"{reason}; the rest of the workflow did not run" if status == "converted" else reason
    closed = db.session.execute(update(AutomationStepExecution).where(
        AutomationStepExecution.enrollment_id == enrollment.id, AutomationStepExecution.outcome == "waiting")
        .values(outcome=outcome, finished_at=now, detail=detail[:2000])
        .execution_options(synchronize_session=False)).rowcount
    step = step or (db.session.get(AutomationStep, enrollment.current_step_id) if enrollment.current_step_id else None)
    if not closed and step is not None:
        db.session.add(AutomationStepExecution(
            tenant_id=enrollment.tenant_id, enrollment_id=enrollment.id, step_id=step.id, step_type=step.type,
            started_at=now, finished_at=now, outcome=outcome, detail=detail[:2000]))
    _close(enrollment, status, now)
    enrollment.exit_reason = reason
