"""Workflows, their steps and enrollments to API dictionaries.

Apart from serializers.py because these read the workflow domain (a step's summary, the
figures of its emails), which the other resources' dictionaries have no need of.
"""

from __future__ import annotations

from webapp.infra.types import iso_or_none
from webapp.services.workflows.paths import path_name
from webapp.services.workflows.reading import step_figures
from webapp.services.workflows.steps import describe_step


def step_dict(step, counts: dict, figures: dict | None = None, steps=()) -> dict:
    """`steps`: the workflow's steps, to name the path a step is on."""
    mine = counts.get(step.id, {})
    return {"id": step.id, "type": step.type, "parent_step_id": step.parent_step_id, "branch": step.branch,
            "path": path_name(step, steps), "position": step.position, "config": step.config or {},
            "summary": describe_step(step.type, step.config or {}), "on_step_now": mine.get("now", 0),
            "passed": mine.get("passed", 0), "email": (figures or {}).get(step.campaign_id)}


def workflow_dict(workflow, counts: dict, *, steps=None, step_counts=None) -> dict:
    out = {"id": workflow.id, "name": workflow.name, "trigger_type": workflow.trigger_type,
           "trigger_config": workflow.trigger_config or {}, "active": workflow.active, "reentry": workflow.reentry,
           "goal": workflow.goal or None, "exit_conditions": workflow.exit_conditions or None, "counts": counts,
           "created_at": iso_or_none(workflow.created_at),
           "updated_at": iso_or_none(workflow.updated_at)}
    if steps is not None:
        figures = step_figures([s.campaign_id for s in steps if s.campaign_id])
        out["steps"] = [step_dict(s, step_counts or {}, figures, steps) for s in steps]
    return out


def enrollment_dict(enrollment, trace=None) -> dict:
    out = {"id": enrollment.id, "workflow_id": enrollment.workflow_id, "customer_id": enrollment.customer_id,
           "status": enrollment.status, "current_step_id": enrollment.current_step_id,
           "next_run_at": iso_or_none(enrollment.next_run_at), "trigger_type": enrollment.trigger_type,
           "trigger_payload": enrollment.trigger_payload or {}, "attempts": enrollment.attempts or 0,
           "last_error": enrollment.last_error, "exit_reason": enrollment.exit_reason, "path": enrollment.path,
           "enrolled_at": iso_or_none(enrollment.enrolled_at), "finished_at": iso_or_none(enrollment.finished_at),
           "converted_at": iso_or_none(enrollment.converted_at),
           "goal_met_at_entry": bool(enrollment.goal_met_at_entry), "held_out": bool(enrollment.held_out)}
    if trace is not None:
        out["trace"] = [{"step_id": x.step_id, "step_type": x.step_type, "started_at": iso_or_none(x.started_at),
                         "finished_at": iso_or_none(x.finished_at), "outcome": x.outcome, "detail": x.detail}
                        for x in trace]
    return out
