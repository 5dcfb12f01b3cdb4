"""Workflows: the list with HTMX on/off switches, the builder (trigger settings, steps
reordered by dragging and edited inline, per-step figures), enrollments and traces."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from wtforms import EmailField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from webapp.extensions import db, htmx
from webapp.infra.errors import Conflict, ValidationFailed
from webapp.models import AutomationStep, AutomationWorkflow
from webapp.models.workflow import ENROLLMENT_STATUSES
from webapp.services import activity_text, customers, workflows
from webapp.services.audit import Target
from webapp.services.triggers import TRIGGER_TYPES, TriggerNames, config_from_form, describe_trigger
from webapp.services.triggers import field_options as trigger_field_options
from webapp.services.workflows.paths import MAIN_PATH, on_path, path_columns, step_places
from webapp.services.workflows.reading import IN_PROGRESS, step_figures
from webapp.services.workflows.steps import STEP_TYPES, describe_step
from webapp.web.access import write_required
from webapp.web.audit import note
from webapp.web.condition_builder import condition_builder_context
from webapp.web.forms import Form, StorableValues, decode_json_field
from webapp.web.pages import partial_or_page
from webapp.web.workflow_goals import goal_context

bp = Blueprint("workflows", __name__, url_prefix="/workflows")

PAGE_SIZE = 50
TRIGGER_LABELS = {name: kind.label for name, kind in TRIGGER_TYPES.items()}
STEP_LABELS = {name: entry.label for name, entry in STEP_TYPES.items()}
REENTRY_LABELS = {"one_at_a_time": "Again after finishing", "once": "Only once ever",
                  "always": "Every time, even while in it"}


class NewWorkflowForm(Form):
    name = StringField("Name", validators=[DataRequired(message="Give the workflow a name."), Length(max=200)])
    trigger_type = SelectField("Starts with", choices=[SelectChoice(k, v) for k, v in TRIGGER_LABELS.items()],
                               default="purchase")


class EnrollForm(Form):
    email = EmailField("Customer email", id="wf-enroll", validators=[Optional(), Length(max=320)])


def trigger_summary(workflow: AutomationWorkflow, names: TriggerNames | None = None) -> str:
    return describe_trigger(workflow.trigger_type, workflow.trigger_config,
                            names or TriggerNames(workflow.tenant_id))


# --- list -------------------------------------------------------------------------------------

@bp.get("/")
@login_required
def index():
    cursor = request.args.get("cursor") or None
    try:
        page = workflows.workflows_page(current_user.tenant_id, limit=PAGE_SIZE, cursor=cursor)
    except ValidationFailed:
        page = workflows.workflows_page(current_user.tenant_id, limit=PAGE_SIZE)
    return render_template("workflows/index.html", page=page, form=NewWorkflowForm(formdata=None),
                           counts=workflows.enrollment_counts([w.id for w in page.items]),
                           emails=workflows.email_figures(current_user.tenant_id, [w.id for w in page.items]),
                           trigger_summary=trigger_summary, trigger_names=TriggerNames(current_user.tenant_id))


@bp.post("/new")
@login_required
@write_required
def new():
    form = NewWorkflowForm()
    if form.validate_on_submit():
        try:
            workflow = workflows.create_workflow(current_user.tenant_id, {
                "name": form.name.data, "trigger_type": form.trigger_type.data,
                "trigger_config": TRIGGER_TYPES[form.trigger_type.data].starter(current_user.tenant_id)})
        except ValidationFailed as exc:
            form.name.errors = list(form.name.errors) + [exc.reason]
        else:
            flash("Workflow created. Add its steps, then switch it on.", "success")
            return redirect(url_for("workflows.builder", workflow_id=workflow.id))
    page = workflows.workflows_page(current_user.tenant_id, limit=PAGE_SIZE)
    return render_template("workflows/index.html", page=page, form=form,
                           counts=workflows.enrollment_counts([w.id for w in page.items]),
                           emails=workflows.email_figures(current_user.tenant_id, [w.id for w in page.items]),
                           trigger_summary=trigger_summary,
                           trigger_names=TriggerNames(current_user.tenant_id)), 422


# --- builder ------------------------------------------------------------------------------------

def _steps_context(workflow: AutomationWorkflow, errors: dict[int, dict[str, str]] | None = None,
                   open_step: int | None = None, typed: dict[int, dict[str, str]] | None = None,
                   error_paths: dict[int, str] | None = None) -> dict[str, Any]:
    """`error_paths`: the full field path of a refused step's error (`conditions[1].value`),
    for the condition rows to mark the row it names."""
    steps = workflows.steps_of(workflow.id)
    return {"workflow": workflow, "steps": steps, "step_counts": workflows.step_counts(workflow.id),
            "steps_on": lambda parent, branch: on_path(steps, (parent, branch) if parent else MAIN_PATH),
            "path_columns": path_columns,
            "figures": step_figures([s.campaign_id for s in steps if s.campaign_id]), "step_errors": errors or {},
            "open_step": open_step, "step_typed": typed or {}, "step_types": STEP_TYPES, "step_labels": STEP_LABELS,
            "describe": describe_step, "step_error_paths": error_paths or {}}


def _builder(workflow: AutomationWorkflow, *, status: int = 200, settings_errors: dict[str, str] | None = None,
             toggle_error: str | None = None, enroll_form: EnrollForm | None = None) -> ResponseReturnValue:
    return render_template("workflows/builder.html", **_steps_context(workflow), counts=workflows.enrollment_counts(
        [workflow.id])[workflow.id], trigger_labels=TRIGGER_LABELS, reentry_labels=REENTRY_LABELS,
        trigger_field_options=trigger_field_options(current_user.tenant_id), trigger_types=TRIGGER_TYPES,
        settings_errors=settings_errors or {}, toggle_error=toggle_error, trigger_summary=trigger_summary(workflow),
        enroll_form=enroll_form or EnrollForm(formdata=None), **condition_builder_context(current_user.tenant_id),
        **goal_context(workflow)), status


@bp.get("/<int:workflow_id>")
@login_required
def builder(workflow_id: int):
    return _builder(workflows.get_workflow(current_user.tenant_id, workflow_id))


@bp.post("/<int:workflow_id>/settings")
@login_required
@write_required
def update_settings(workflow_id: int):
    workflow = workflows.get_workflow(current_user.tenant_id, workflow_id)
    form = StorableValues(request.form)
    try:
        trigger_type = form.get("trigger_type") or workflow.trigger_type
        if trigger_type == workflow.trigger_type:
            config = config_from_form(trigger_type, form)
        elif trigger_type in TRIGGER_TYPES:  # the new type's own fields appear once it is saved
            config = TRIGGER_TYPES[trigger_type].starter(current_user.tenant_id)
        else:
            config = {}
        workflows.update_workflow(current_user.tenant_id, workflow.id, {
            "name": form.get("name", ""), "trigger_type": trigger_type, "reentry": form.get("reentry") or None,
            "trigger_config": config})
    except ValidationFailed as exc:
        db.session.rollback()
        field = exc.field.split(".")[-1]
        return _builder(workflows.get_workflow(current_user.tenant_id, workflow_id), status=422,
                        settings_errors={field: exc.reason})
    flash("Trigger settings saved.", "success")
    return redirect(url_for("workflows.builder", workflow_id=workflow.id))


@bp.post("/<int:workflow_id>/toggle")
@login_required
@write_required
def toggle(workflow_id: int):
    workflow = workflows.get_workflow(current_user.tenant_id, workflow_id)
    error = None
    try:
        workflow = workflows.set_active(current_user.tenant_id, workflow.id)
    except ValidationFailed as exc:
        error = exc.reason
    else:
        note("workflow.switched_on" if workflow.active else "workflow.switched_off",
             Target("workflow", workflow.id, workflow.name))
    if htmx:
        return render_template("workflows/_toggle.html", workflow=workflow, toggle_error=error), 422 if error else 200
    if error:
        flash(error, "error")
    else:
        flash("Workflow switched on." if workflow.active else "Workflow switched off: customers in it are held "
                                                              "where they are.", "success")
    return redirect(request.referrer if _same_site(request.referrer) else url_for("workflows.builder",
                                                                                  workflow_id=workflow.id))


def _same_site(url: str | None) -> bool:
    """Only our own pages are places to go back to (no open redirect)."""
    if not url:
        return False
    parts = urlsplit(url)
    return parts.netloc == request.host and parts.scheme in ("http", "https") and \
        parts.path.startswith("/workflows")


def _steps_response(workflow: AutomationWorkflow, status: int = 200, **context: Any) -> ResponseReturnValue:
    if htmx:
        return render_template("workflows/_steps.html", **_steps_context(workflow, **context)), status
    return redirect(url_for("workflows.builder", workflow_id=workflow.id))


def _path_fields(form) -> tuple[int | None, int | None]:
    """The path a form adds to or reorders (hidden fields; empty: the main path)."""
    try:
        parent = int(form["parent_step_id"]) if form.get("parent_step_id") else None
        branch = int(form["branch"]) if form.get("branch") else None
    except ValueError:
        raise ValidationFailed("parent_step_id", "the page was out of date: reload it") from None
    return parent, branch


@bp.post("/<int:workflow_id>/steps")
@login_required
@write_required
def add_step(workflow_id: int):
    workflow = workflows.get_workflow(current_user.tenant_id, workflow_id)
    step_type = request.form.get("type", "")
    try:
        parent, branch = _path_fields(request.form)
        step = workflows.add_step(current_user.tenant_id, workflow.id, step_type, parent_step_id=parent,
                                  branch=branch)
    except ValidationFailed as exc:
        if htmx:
            return render_template("errors/_flash.html", message=exc.reason), 422, {
                "HX-Retarget": "#flashes", "HX-Reswap": "innerHTML"}
        flash(exc.reason, "error")
        return redirect(url_for("workflows.builder", workflow_id=workflow.id))
    return _steps_response(workflow, open_step=step.id)


@bp.post("/<int:workflow_id>/steps/order")
@login_required
@write_required
def reorder(workflow_id: int):
    workflow = workflows.get_workflow(current_user.tenant_id, workflow_id)
    try:
        ids = [int(v) for v in request.form.getlist("step_ids")]
        parent, branch = _path_fields(request.form)
        workflows.reorder_steps(current_user.tenant_id, workflow.id, ids, parent_step_id=parent, branch=branch)
    except (ValueError, ValidationFailed):
        # The page was out of date (a step added or removed elsewhere): show the saved order.
        return _steps_response(workflow, status=409)
    return _steps_response(workflow)


class _StepForm(StorableValues):
    """The inline editor's fields, as the step types' `from_form` reads them."""

    def json(self, name: str, field: str) -> Any:
        return decode_json_field(self.get(name), field)


def _step_config(step: AutomationStep, form: _StepForm) -> dict[str, Any]:
    """The inline editor's fields for this step type, as the config the service validates."""
    entry = STEP_TYPES.get(step.type)
    return entry.from_form(form) if entry is not None else {}


@bp.post("/<int:workflow_id>/steps/<int:step_id>")
@login_required
@write_required
def edit_step(workflow_id: int, step_id: int):
    step = workflows.get_step(current_user.tenant_id, workflow_id, step_id)
    workflow = workflows.get_workflow(current_user.tenant_id, workflow_id)
    try:
        config = _step_config(step, _StepForm(request.form))
        workflows.update_step(current_user.tenant_id, workflow.id, step.id, config)
    except ValidationFailed as exc:
        db.session.rollback()
        field = exc.field.split(".", 1)[-1].split("[")[0].split(".")[0]
        # What was typed comes back with the message, so a long condition is fixed, not retyped.
        return _steps_response(workflow, status=422, errors={step.id: {field: exc.reason}}, open_step=step.id,
                               typed={step.id: request.form.to_dict()},
                               error_paths={step.id: exc.field.removeprefix("config.")})
    return _steps_response(workflow)


@bp.post("/<int:workflow_id>/steps/<int:step_id>/delete")
@login_required
@write_required
def delete_step(workflow_id: int, step_id: int):
    step = workflows.get_step(current_user.tenant_id, workflow_id, step_id)
    workflows.delete_step(current_user.tenant_id, workflow_id, step.id)
    return _steps_response(workflows.get_workflow(current_user.tenant_id, workflow_id))


@bp.post("/<int:workflow_id>/delete")
@login_required
@write_required
def delete(workflow_id: int):
    workflow = workflows.get_workflow(current_user.tenant_id, workflow_id)
    try:
        workflows.delete_workflow(current_user.tenant_id, workflow.id, force=request.form.get("force") == "yes")
    except Conflict as exc:
        flash(f"{exc.message}. Tick “also remove the customers in it” to delete anyway.", "error")
        return redirect(url_for("workflows.builder", workflow_id=workflow.id))
    flash(f"Workflow “{workflow.name}” deleted.", "success")
    return redirect(url_for("workflows.index"))


@bp.post("/<int:workflow_id>/enroll")
@login_required
@write_required
def enroll(workflow_id: int):
    workflow = workflows.get_workflow(current_user.tenant_id, workflow_id)
    form = EnrollForm()
    if not form.validate_on_submit():
        return _builder(workflow, status=422, enroll_form=form)
    email = (form.email.data or "").strip()
    customer = customers.find_customer(current_user.tenant_id, email=email) if email else None
    if customer is None:
        flash("No customer with that email address.", "error")
    else:
        try:
            result = workflows.enroll_customers(current_user.tenant_id, workflow.id, [customer.id])
        except (Conflict, ValidationFailed) as exc:
            flash(exc.message, "error")
        else:
            flash(f"{customer.email} enrolled." if result["enrolled"] else
                  f"{customer.email} was not enrolled: the re-entry policy keeps them out.",
                  "success" if result["enrolled"] else "error")
    return redirect(url_for("workflows.builder", workflow_id=workflow.id))


# --- enrollments and traces ------------------------------------------------------------------------

@bp.get("/<int:workflow_id>/enrollments")
@login_required
def enrollments(workflow_id: int):
    workflow = workflows.get_workflow(current_user.tenant_id, workflow_id)
    status = request.args.get("status", "")
    status = status if status in (IN_PROGRESS, *ENROLLMENT_STATUSES) else ""
    cursor = request.args.get("cursor") or None
    try:
        page = workflows.enrollments_page(current_user.tenant_id, workflow.id, status=status or None,
                                          limit=PAGE_SIZE, cursor=cursor)
    except ValidationFailed:
        page = workflows.enrollments_page(current_user.tenant_id, workflow.id, status=status or None,
                                          limit=PAGE_SIZE)
    all_steps = workflows.steps_of(workflow.id)
    steps = {s.id: s for s in all_steps}
    text = activity_text.for_triggers(current_user.tenant_id, [e.trigger_payload for e, _ in page.items])
    return partial_or_page("workflows/_enrollment_rows.html", "workflows/enrollments.html", workflow=workflow,
                           page=page, status=status, statuses=(IN_PROGRESS, *ENROLLMENT_STATUSES), steps=steps,
                           trigger_text=text, places=step_places(all_steps),
                           step_labels=STEP_LABELS, appending=bool(cursor))


@bp.get("/<int:workflow_id>/enrollments/<int:enrollment_id>")
@login_required
def trace(workflow_id: int, enrollment_id: int):
    enrollment = workflows.get_enrollment(current_user.tenant_id, workflow_id, enrollment_id)
    workflow = workflows.get_workflow(current_user.tenant_id, workflow_id)
    customer = customers.get_customer(current_user.tenant_id, enrollment.customer_id)
    steps = workflows.steps_of(workflow.id)
    text = activity_text.for_triggers(current_user.tenant_id, [enrollment.trigger_payload])
    return render_template("workflows/trace.html", workflow=workflow, enrollment=enrollment, customer=customer,
                           trigger=text.trigger(enrollment.trigger_type, enrollment.trigger_payload),
                           trigger_details=activity_text.labelled(enrollment.trigger_payload),
                           executions=workflows.executions_of([enrollment.id])[enrollment.id],
                           steps={s.id: s for s in steps}, places=step_places(steps),
                           step_labels=STEP_LABELS, describe=describe_step)
