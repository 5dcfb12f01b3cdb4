"""A workflow's "Send email" step on a page of its own: the same email builder as campaigns
(or the code editor for an HTML step), its own subject and sender fields, a live preview as
a customer with a sample of the workflow's trigger, test sends, and a one-way conversion of
a design to HTML. The workflow builder links here from the step."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, TextAreaField
from wtforms.validators import Length

from webapp.extensions import db, htmx
from webapp.infra.errors import NotFound, ValidationFailed
from webapp.models import AutomationStep, AutomationWorkflow, EmailCampaign
from webapp.services import merge_tags, workflows
from webapp.services.workflows.step_email import SAMPLE_TRIGGER
from webapp.services.workflows.steps import STEP_TYPES
from webapp.services.workflows.steps.send_email import PLACEHOLDER_SUBJECT, SENDER_FIELDS
from webapp.web.access import write_required
from webapp.web.campaign_previews import preview_customer, preview_problem, sender_line
from webapp.web.email_builder import builder_config, design_problems
from webapp.web.forms import (
    EmailEnvelopeForm,
    StorableValues,
    TestSendForm,
    apply_domain_error,
    decode_json_field,
    html_unless_design,
)
from webapp.web.workflows import trigger_summary

bp = Blueprint("step_email", __name__, url_prefix="/workflows/<int:workflow_id>/steps/<int:step_id>/email")

STEP = STEP_TYPES["send_email"]


class StepEmailForm(EmailEnvelopeForm):
    content = TextAreaField("HTML content", validators=[html_unless_design, Length(max=500_000)])
    transactional = BooleanField(
        "Transactional email", description="An order confirmation, a ticket, a receipt: sent even at night "
                                           "(quiet hours) and to people at the frequency cap, and not counted "
                                           "towards it. Leave it off for marketing.")
    attach_calendar = BooleanField(
        "Attach the event to add to a calendar (.ics)",
        description="When what starts the workflow names an event (a reminder, a change, a purchase), the email "
                    "carries it as a calendar file in the venue's time; a changed event updates the same entry. "
                    "For a button, link to {{ trigger.event.calendar_url }}.")


class _Values(StorableValues):
    """The validated form as the step type's `from_form` reads it."""

    def json(self, name: str, field: str) -> Any:
        return decode_json_field(self.get(name), field, default="null")


# --- loading -------------------------------------------------------------------------------------

def _load(workflow_id: int, step_id: int) -> tuple[AutomationWorkflow, AutomationStep]:
    """The tenant's workflow and its email step; anything else (another tenant's, another
    workflow's, a wait) is not found."""
    workflow = workflows.get_workflow(current_user.tenant_id, workflow_id)
    step = workflows.get_step(current_user.tenant_id, workflow.id, step_id)
    if step.type != "send_email":
        raise NotFound("this step sends no email")
    return workflow, step


def _form(step: AutomationStep) -> StepEmailForm:
    """The saved step, overridden by a POST. A design step stays a design, an HTML step HTML
    (a design posted to it is ignored: HTML cannot become blocks)."""
    config = step.config or {}
    data = {name: config.get(name) or "" for name in ("subject", "content", *SENDER_FIELDS)}
    data["transactional"] = bool(config.get("transactional"))
    data["attach_calendar"] = bool(config.get("attach_calendar"))
    if data["subject"] == PLACEHOLDER_SUBJECT:
        data["subject"] = ""  # "Add step" had to put something in: the marketer sees an empty field
    is_design = config.get("design") is not None
    data["design"] = json.dumps(config["design"]) if is_design else ""
    form = StepEmailForm(data=data)
    if is_design and not (form.design.data or "").strip():
        form.design.data = data["design"]  # the builder's input came back empty: keep the saved design
    if not is_design:
        form.design.data = ""
    return form


def _position(workflow: AutomationWorkflow, step: AutomationStep) -> int:
    return next((n for n, s in enumerate(workflows.steps_of(workflow.id), 1) if s.id == step.id), 0)


def _trigger_tags(workflow: AutomationWorkflow) -> list[dict[str, Any]]:
    return merge_tags.available(current_user.tenant_id, workflow=True, trigger_type=workflow.trigger_type)


def _page(workflow: AutomationWorkflow, step: AutomationStep, form: StepEmailForm, *, status: int | None = None,
          test_form: TestSendForm | None = None, test_results: list[dict] | None = None,
          design_errors: dict[str, str] | None = None) -> ResponseReturnValue:
    test_form = test_form or TestSendForm(formdata=None, data={"emails": current_user.email})
    if status is None:
        status = 422 if (form.errors or form.form_errors or test_form.errors) else 200
    tags = _trigger_tags(workflow)
    is_design = bool((form.design.data or "").strip())
    return render_template(
        "workflows/step_email.html", workflow=workflow, step=step, form=form, test_form=test_form,
        test_results=test_results, tenant=current_user.tenant, position=_position(workflow, step),
        trigger_summary=trigger_summary(workflow),
        trigger_tags=[t for t in tags if t["group"] == "Trigger"], sample_trigger=SAMPLE_TRIGGER,
        builder=builder_config(form.design.data, design_errors, tags) if is_design else None,
        design_problems=design_problems(form.design.data, design_errors),
        test_action=url_for("step_email.send_test", workflow_id=workflow.id, step_id=step.id)), status


# --- the page and saving ---------------------------------------------------------------------

@bp.route("", methods=["GET", "POST"])
@login_required
@write_required
def edit(workflow_id: int, step_id: int):
    workflow, step = _load(workflow_id, step_id)
    form = _form(step)
    if request.method == "GET" or not form.validate_on_submit():
        return _page(workflow, step, form)
    try:
        config = STEP.from_form(_Values(_submitted(form)))
        workflows.update_step(current_user.tenant_id, workflow.id, step.id, config)
    except ValidationFailed as exc:
        db.session.rollback()
        return _refused(workflow, step, form, exc)
    flash("Email saved. Send yourself a test; the workflow sends it from now on"
          if workflow.active else "Email saved. Send yourself a test, then switch the workflow on.", "success")
    return redirect(url_for("step_email.edit", workflow_id=workflow.id, step_id=step.id))


def _submitted(form: StepEmailForm) -> MultiDict:
    return MultiDict({**{name: form[name].data or "" for name in ("subject", "content", "design", *SENDER_FIELDS)},
                      "transactional": "y" if form.transactional.data else "",
                      "attach_calendar": "y" if form.attach_calendar.data else ""})


def _refused(workflow: AutomationWorkflow, step: AutomationStep, form: StepEmailForm,
             exc: ValidationFailed) -> ResponseReturnValue:
    """The service's message beside its field, everything typed kept; a design's names its block."""
    field = exc.field.removeprefix("config.")
    if field == "design" or field.startswith(("design.", "design[")):
        form.design.errors = [*form.design.errors, exc.reason]
        return _page(workflow, step, form, design_errors={field: exc.reason})
    if field == "content" and (form.design.data or "").strip():
        form.form_errors.append(f"The email's design: {exc.reason}")  # the HTML it compiled to: no field shows it
    elif field in ("subject", "content", *SENDER_FIELDS):
        apply_domain_error(form, field, exc.reason)
    else:
        form.form_errors.append(exc.reason)
    return _page(workflow, step, form)


@bp.post("/convert-html")
@login_required
@write_required
def convert_to_html(workflow_id: int, step_id: int):
    """One way: the design is dropped and the step is edited as the HTML it compiled to."""
    workflow, step = _load(workflow_id, step_id)
    config = step.config or {}
    if config.get("design") is None:
        flash("This email is already HTML.", "success")
    else:
        workflows.update_step(current_user.tenant_id, workflow.id, step.id,
                              {k: v for k, v in config.items() if k != "design"})
        flash("Converted to HTML: edit its code below. The block editor cannot open it again.", "success")
    return redirect(url_for("step_email.edit", workflow_id=workflow.id, step_id=step.id))


# --- live preview and test sends -----------------------------------------------------------------

def _preview_response(preview: dict | None, error: dict | None, customer: Any, query: str,
                      sender: str | None) -> ResponseReturnValue:
    return render_template("campaigns/_preview.html", preview=preview, preview_error=error, customer=customer,
                           query=query, sender=sender, sample_trigger=True), 422 if error else 200


@bp.post("/preview")
@login_required
@write_required
def preview(workflow_id: int, step_id: int):
    """The page's email, not saved, as the chosen customer would get it after a sample of the
    trigger (a purchase); saving nothing."""
    _load(workflow_id, step_id)
    customer, query = preview_customer()
    design = None
    try:
        values = StorableValues(request.form)
        typed = {name: values.get(name) or "" for name in ("subject", "content", "design", *SENDER_FIELDS)}
        if typed["design"].strip():
            design = decode_json_field(typed["design"], "design", default="null")
    except ValidationFailed as exc:
        return _preview_response(None, preview_problem(exc, design), customer, query, None)
    if design is None and not typed["content"].strip():
        return _preview_response(None, None, customer, query, None)
    config: dict[str, Any] = {name: typed[name] for name in SENDER_FIELDS if typed[name].strip()}
    # A subject is still being written: preview the body under a visible stand-in.
    config["subject"] = typed["subject"] if typed["subject"].strip() else PLACEHOLDER_SUBJECT
    config.update({"design": design} if design is not None else {"content": typed["content"]})
    sender = sender_line(EmailCampaign(from_name=config.get("from_name"), from_email=config.get("from_email")))
    try:
        result = workflows.preview_step_config(current_user.tenant_id, config, customer.id if customer else None)
    except ValidationFailed as exc:
        problem = ValidationFailed(exc.field.removeprefix("config."), exc.reason)
        return _preview_response(None, preview_problem(problem, design), customer, query, sender)
    return _preview_response(result, None, customer, query, sender)


@bp.post("/test")
@login_required
@write_required
def send_test(workflow_id: int, step_id: int):
    """A [TEST] copy of the saved email to the given addresses, as the chosen customer."""
    workflow, step = _load(workflow_id, step_id)
    form = TestSendForm()
    results = None
    if form.validate_on_submit():
        customer, _ = preview_customer()
        try:
            results = workflows.test_step(current_user.tenant_id, workflow.id, step.id, form.addresses(),
                                          customer.id if customer else None)
        except ValidationFailed as exc:
            apply_domain_error(form, "emails" if exc.field.startswith("emails") else exc.field, exc.reason)
    status = 422 if form.errors or form.form_errors else 200
    action = url_for("step_email.send_test", workflow_id=workflow.id, step_id=step.id)
    if htmx:
        return render_template("campaigns/_test_send.html", test_form=form, test_results=results,
                               test_action=action), status
    if status != 200:
        return _page(workflow, step, _form(step), test_form=form, status=status)
    flash(f"Test sent to {', '.join(r['email'] for r in results or [])}.", "success")
    return redirect(url_for("step_email.edit", workflow_id=workflow.id, step_id=step.id))
