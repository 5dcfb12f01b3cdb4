"""A workflow's goal and exit conditions on its builder page (the `_goal.html` panel):
edited with the condition step's rows, with the goal's report (conversion, revenue, per
step, treated vs held out) beside them."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from webapp.extensions import db, htmx
from webapp.infra.errors import ValidationFailed
from webapp.models import AutomationWorkflow
from webapp.services import workflows
from webapp.services.enrollment.goal_criteria import DEFAULT_WINDOW_DAYS, SINCE_ENTRY, describe_criteria
from webapp.services.workflows.goal_report import goal_report
from webapp.services.workflows.steps import STEP_TYPES
from webapp.web.access import write_required
from webapp.web.forms import StorableValues, decode_json_field

bp = Blueprint("workflow_goals", __name__, url_prefix="/workflows/<int:workflow_id>")

KINDS = {"goal": "goal", "exit": "exit_conditions"}


def _rows(stored: dict | None) -> list:
    """The condition rows' part of saved criteria (purchased_since_entry is a checkbox)."""
    return [c for c in (stored or {}).get("conditions", [])
            if not (isinstance(c, dict) and c.get("type") == SINCE_ENTRY)]


def goal_context(workflow: AutomationWorkflow, errors: dict[str, str] | None = None,
                 typed: dict[str, Any] | None = None) -> dict[str, Any]:
    """What `_goal.html` shows: both editors (as saved, or as typed when refused) and the report."""
    goal, exits = workflow.goal or {}, workflow.exit_conditions or {}
    steps = workflows.steps_of(workflow.id)
    return {"goal_panel": {
        "goal": goal, "exits": exits, "goal_words": describe_criteria(goal) if goal else "",
        "exit_words": describe_criteria(exits) if exits else "",
        "goal_rows": (typed or {}).get("goal_rows", _rows(goal)),
        "exit_rows": (typed or {}).get("exit_rows", _rows(exits)),
        "since_entry": any(c.get("type") == SINCE_ENTRY for c in goal.get("conditions", []) if isinstance(c, dict)),
        "within_days": goal.get("within_days", DEFAULT_WINDOW_DAYS), "errors": errors or {},
        "report": goal_report(workflow), "step_numbers": {s.id: (n, s) for n, s in enumerate(steps, 1)},
        "step_labels": {name: entry.label for name, entry in STEP_TYPES.items()}}}


def _criteria_from_form(kind: str, form: StorableValues) -> dict[str, Any] | None:
    prefix = "goal" if kind == "goal" else "exit"
    if not form.get(f"{prefix}_on"):
        return None
    rows = decode_json_field(form.get(f"{prefix}_conditions"), f"{KINDS[kind]}.conditions")
    conditions = list(rows) if isinstance(rows, list) else rows
    if kind == "goal" and form.get("goal_since_entry") and isinstance(conditions, list):
        conditions.append({"type": SINCE_ENTRY})
    out: dict[str, Any] = {"conditions": conditions, "match": form.get(f"{prefix}_match") or "all"}
    if kind == "goal":
        try:
            out["within_days"] = int(form.get("within_days") or DEFAULT_WINDOW_DAYS)
        except ValueError:
            raise ValidationFailed("goal.within_days", "must be a whole number of days") from None
    return out


@bp.post("/goal")
@login_required
@write_required
def save_goal(workflow_id: int) -> ResponseReturnValue:
    """Save the goal; off removes it."""
    return _save(workflow_id, "goal")


@bp.post("/exit")
@login_required
@write_required
def save_exit(workflow_id: int) -> ResponseReturnValue:
    """Save the exit conditions; off removes them."""
    return _save(workflow_id, "exit")


def _save(workflow_id: int, kind: str) -> ResponseReturnValue:
    workflow = workflows.get_workflow(current_user.tenant_id, workflow_id)
    form = StorableValues(request.form)
    try:
        workflows.update_workflow(current_user.tenant_id, workflow.id, {KINDS[kind]: _criteria_from_form(kind, form)})
    except ValidationFailed as exc:
        db.session.rollback()
        workflow = workflows.get_workflow(current_user.tenant_id, workflow_id)
        key = "goal_rows" if kind == "goal" else "exit_rows"
        typed = {key: _typed_rows(form, f"{'goal' if kind == 'goal' else 'exit'}_conditions")}
        where = _where(exc.field, kind)
        context = goal_context(workflow, {kind: {"field": where, "message": exc.reason, "said": _said(exc)}}, typed)
        if htmx:
            return render_template("workflows/_goal.html", workflow=workflow, **context), 422
        flash(_said(exc), "error")
        return redirect(url_for("workflows.builder", workflow_id=workflow.id))
    said = "Goal saved." if kind == "goal" else "Exit conditions saved."
    if htmx:
        return render_template("workflows/_goal.html", workflow=workflow, saved_message=said,
                               **goal_context(workflow))
    flash(said, "success")
    return redirect(url_for("workflows.builder", workflow_id=workflow.id))


def _where(field: str, kind: str) -> str:
    """The spot in the panel's form an error belongs beside: match, conditions[...] or
    within_days, whether the service named it (goal.match) or the form did (goal_match)."""
    prefix = "goal" if kind == "goal" else "exit"
    named_by_form = {f"{prefix}_match": "match", f"{prefix}_conditions": "conditions", "within_days": "within_days"}
    if field in named_by_form:
        return named_by_form[field]
    return field.split(".", 1)[1] if "." in field else ""


def _said(exc: ValidationFailed) -> str:
    """The refusal in words: "Condition 2: ..." rather than a field path."""
    where = exc.field.split(".", 1)[1] if "." in exc.field else ""
    found = re.match(r"conditions\[(\d+)\]", where)
    if found:
        return f"Condition {int(found.group(1)) + 1}: {exc.reason}"
    return f"{where.replace('_', ' ').capitalize()}: {exc.reason}" if where else exc.reason


def _typed_rows(form: StorableValues, name: str) -> list:
    """The rows as typed, to show again beside the refusal (none when they are unreadable)."""
    try:
        rows = decode_json_field(form.get(name), "conditions")
    except ValidationFailed:
        return []
    return rows if isinstance(rows, list) else []
