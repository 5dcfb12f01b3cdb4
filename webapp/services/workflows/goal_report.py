"""What a workflow's goal says about it: conversion rate and attributed revenue, per step,
and treated vs held out with the same honesty as A/B tests (services/significance.py).

Attributed revenue: the order totals of the purchases a converted customer made after
entering the workflow, up to and including the moment of conversion (the purchase that
converted them counts; later ones do not). Per step: of the customers who reached the
step, how many converted after reaching it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, distinct, func, or_, select

from webapp.extensions import db
from webapp.models import (
    AutomationEnrollment,
    AutomationStep,
    AutomationStepExecution,
    AutomationWorkflow,
    CustomerActivity,
)
from webapp.services.enrollment.goal_criteria import describe_criteria
from webapp.services.significance import MIN_TRIALS, Proportion, compare_rates, say_verdict


@dataclass(frozen=True)
class Comparison:
    treated: int
    treated_converted: int
    held_out: int
    held_out_converted: int
    probability_helps: float
    clear: bool
    sentence: str
    detail: str

    @property
    def treated_rate(self) -> float:
        return self.treated_converted / self.treated if self.treated else 0.0

    @property
    def held_out_rate(self) -> float:
        return self.held_out_converted / self.held_out if self.held_out else 0.0


def goal_report(workflow: AutomationWorkflow) -> dict[str, Any] | None:
    """The goal's figures for the workflow page; None when the workflow has no goal."""
    if not workflow.goal:
        return None
    enrolled, converted = db.session.execute(select(
        func.count(), func.count(AutomationEnrollment.converted_at))
        .where(AutomationEnrollment.workflow_id == workflow.id)).one()
    revenue = db.session.scalar(select(func.coalesce(func.sum(CustomerActivity.amount), 0))
                                .select_from(AutomationEnrollment)
                                .join(CustomerActivity, and_(
                                    CustomerActivity.customer_id == AutomationEnrollment.customer_id,
                                    CustomerActivity.type == "purchase",
                                    CustomerActivity.occurred_at > AutomationEnrollment.enrolled_at,
                                    CustomerActivity.occurred_at <= AutomationEnrollment.converted_at))
                                .where(AutomationEnrollment.workflow_id == workflow.id,
                                       AutomationEnrollment.converted_at.is_not(None)))
    return {"goal": describe_criteria(workflow.goal), "within_days": workflow.goal.get("within_days"),
            "enrolled": enrolled, "converted": converted, "rate": converted / enrolled if enrolled else 0.0,
            "revenue": float(revenue or 0), "steps": _per_step(workflow.id), "holdout": holdout_comparison(workflow.id)}


def _per_step(workflow_id: int) -> dict[int, dict[str, int]]:
    """{step_id: {reached, converted}}: customers who reached the step, and of them who converted after.

    Reached: the distinct enrollments of each of the workflow's steps, from the step index
    alone (step, outcome, enrollment). Converted: only the converted enrollments' traces are
    read, for when each step was first reached."""
    execution = AutomationStepExecution
    steps = select(AutomationStep.id).where(AutomationStep.workflow_id == workflow_id)
    reached = db.session.execute(select(execution.step_id, func.count(distinct(execution.enrollment_id)))
                                 .where(execution.step_id.in_(steps)).group_by(execution.step_id)).all()
    first = (select(execution.step_id)
             .join(AutomationEnrollment, AutomationEnrollment.id == execution.enrollment_id)
             .where(AutomationEnrollment.workflow_id == workflow_id, AutomationEnrollment.converted_at.is_not(None),
                    execution.step_id.is_not(None))
             .group_by(execution.step_id, execution.enrollment_id, AutomationEnrollment.converted_at)
             .having(AutomationEnrollment.converted_at >= func.min(execution.started_at)).subquery())
    converted = dict(db.session.execute(select(first.c.step_id, func.count()).group_by(first.c.step_id)).all())
    return {step_id: {"reached": n, "converted": converted.get(step_id, 0)} for step_id, n in reached}


def holdout_comparison(workflow_id: int) -> Comparison | None:
    """Treated vs held out among the enrollments that reached a holdout step (the two groups
    the draw made); None without one."""
    # The draws of the workflow's holdout steps, from the step index, and of holdout steps
    # deleted since (their executions keep no step; few): every holdout draw of every tenant
    # was read before, hashed for each workflow's page.
    execution = AutomationStepExecution
    holdouts = select(AutomationStep.id).where(AutomationStep.workflow_id == workflow_id,
                                               AutomationStep.type == "holdout")
    drawn = or_(
        AutomationEnrollment.id.in_(select(execution.enrollment_id).where(execution.step_id.in_(holdouts),
                                                                          execution.outcome == "done")),
        AutomationEnrollment.id.in_(select(execution.enrollment_id).where(
            execution.step_id.is_(None), execution.outcome == "done", execution.step_type == "holdout")))
    rows = dict(((held, (n, c)) for held, n, c in db.session.execute(
        select(AutomationEnrollment.held_out, func.count(), func.count(AutomationEnrollment.converted_at))
        .where(AutomationEnrollment.workflow_id == workflow_id, drawn)
        .group_by(AutomationEnrollment.held_out))))
    if not rows:
        return None
    held_n, held_c = rows.get(True, (0, 0))
    treated_n, treated_c = rows.get(False, (0, 0))
    # The control (held out) first, as significance.py expects.
    verdict = compare_rates([Proportion(held_c, held_n), Proportion(treated_c, treated_n)])
    helps = verdict.probability(1)
    said = (f"Customers who got the workflow converted at {_percent(treated_c, treated_n)} vs "
            f"{_percent(held_c, held_n)} held out")
    if verdict.clear:
        said += f"; {helps:.0%} probability the workflow helps." if verdict.leader == 1 else \
            f"; {1 - helps:.0%} probability the workflow does worse than doing nothing."
    elif min(held_n, treated_n) < MIN_TRIALS:
        said += f"; no clear difference yet: too few people (at least {MIN_TRIALS} in each group)."
    else:
        said += f"; no clear difference yet ({helps:.0%} probability the workflow helps, 95% needed)."
    return Comparison(treated_n, treated_c, held_n, held_c, helps, verdict.clear, said,
                      say_verdict(verdict, ["Holding out", "Sending the workflow"], metric="conversion"))


def _percent(successes: int, trials: int) -> str:
    return f"{successes / trials:.1%}" if trials else "—"
