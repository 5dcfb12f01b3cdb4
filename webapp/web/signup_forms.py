"""The signup form builder: the list with submissions and confirmations, and an editor
(fields, topics, wording, double opt-in, the confirmation email with a preview, the success
message) with the hosted page's address and the snippet to paste into a website."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from wtforms import BooleanField, FieldList, FormField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.models import SignupForm, Tenant
from webapp.services import signup_forms
from webapp.services.consent import tenant_topics
from webapp.web.access import write_required
from webapp.web.forms import Form, SubForm, apply_domain_error

bp = Blueprint("signup_forms", __name__, url_prefix="/forms")

PAGE_SIZE = 50
NAME_MODES = [SelectChoice("off", "Do not ask"), SelectChoice("optional", "Ask, optional"),
              SelectChoice("required", "Ask, required")]
KINDS = [SelectChoice("text", "Text"), SelectChoice("number", "Number"), SelectChoice("date", "Date"),
         SelectChoice("checkbox", "Tick box"), SelectChoice("select", "Choice from a list")]
# Each topic's select on the editor: not offered, offered unticked, offered ticked.
TOPIC_CHOICES = [("", "Not offered"), ("unticked", "Offered, unticked"), ("ticked", "Offered, ticked")]


class CustomFieldForm(SubForm):
    """One custom field's row (a sub-form: the page's CSRF token covers it)."""

    label = StringField("Label", validators=[Length(max=100)])
    key = StringField("Saved as", validators=[Length(max=50)],
                      description="The customer attribute; made from the label when empty.")
    kind = SelectField("Kind", choices=KINDS, default="text")
    options = TextAreaField("Options", validators=[Length(max=5000)], description="One per line (choice lists).")
    required = BooleanField("Required")
    remove = BooleanField("Remove")


class SignupFormForm(Form):
    name = StringField("Name", validators=[DataRequired(message="Give the form a name."), Length(max=200)],
                       description="The heading people see on the form.")
    first_name = SelectField("First name", choices=NAME_MODES, default="optional")
    last_name = SelectField("Last name", choices=NAME_MODES, default="off")
    custom = FieldList(FormField(CustomFieldForm), min_entries=0, max_entries=signup_forms.definition.MAX_CUSTOM_FIELDS
                       + 1)
    consent_text = TextAreaField("Consent wording", validators=[DataRequired("Write what people agree to."),
                                                               Length(max=2000)],
                                 description="Shown beside the Subscribe button and kept as evidence of consent.")
    double_opt_in = BooleanField("Ask people to confirm by email (double opt-in)", default=True,
                                 description="Recommended: only addresses whose owner clicked the emailed link are "
                                             "subscribed. Off, new addresses are subscribed at once.")
    confirmation_subject = StringField("Email subject", validators=[DataRequired("Write a subject."),
                                                                    Length(max=200)])
    confirmation_body = TextAreaField("Email text", validators=[DataRequired("Write the email's text."),
                                                                Length(max=5000)],
                                      description="A blank line starts a new paragraph. The confirm button is added "
                                                  "below the text.")
    success_message = TextAreaField("Success message", validators=[DataRequired("Write what people see at the end."),
                                                                    Length(max=1000)],
                                    description="Shown once the person is subscribed.")
    status = SelectField("Status", choices=[SelectChoice("active", "Active: the form takes signups"),
                                            SelectChoice("archived", "Archived: the form's page is taken down")],
                         default="active")


def _slug(label: str) -> str:
    key = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
    return (key if key[:1].isalpha() else f"field_{key}")[:50].rstrip("_") or "field"


def _custom_rows(form: SignupFormForm) -> tuple[list[dict[str, Any]], list[int]]:
    """The custom fields to save (blank and removed rows left out) and, for each, its row
    on the page (so a service message goes beside the right row)."""
    rows, positions = [], []
    for i, entry in enumerate(form.custom.entries):
        sub = entry.form
        if sub.remove.data or not (sub.label.data or "").strip():
            continue
        options = [line.strip() for line in (sub.options.data or "").splitlines() if line.strip()]
        rows.append({"key": (sub.key.data or "").strip() or _slug(sub.label.data), "label": sub.label.data,
                     "kind": sub.kind.data, "required": bool(sub.required.data), "options": options})
        positions.append(i)
    return rows, positions


def _topic_rows(tenant_id: int) -> list[dict[str, Any]]:
    chosen = []
    for topic in tenant_topics(tenant_id):
        # Only the two offered states count; anything else (a tampered value) is "not offered".
        value = request.form.get(f"topic-{topic.id}") or ""
        if value in ("ticked", "unticked"):
            chosen.append({"id": topic.id, "checked": value == "ticked"})
    return chosen


def _data(form: SignupFormForm, tenant_id: int) -> tuple[dict[str, Any], list[int]]:
    custom, positions = _custom_rows(form)
    return {
        "name": form.name.data, "consent_text": form.consent_text.data, "double_opt_in": bool(form.double_opt_in.data),
        "confirmation_subject": form.confirmation_subject.data, "confirmation_body": form.confirmation_body.data,
        "success_message": form.success_message.data, "status": form.status.data,
        "fields": {"first_name": form.first_name.data, "last_name": form.last_name.data, "custom": custom},
        "topics": _topic_rows(tenant_id),
    }, positions


_CUSTOM_FIELD = re.compile(r"^fields\.custom\[(\d+)\]\.(\w+)")


def _show_error(form: SignupFormForm, exc: ValidationFailed, positions: list[int]) -> None:
    """The service's message beside the field it names."""
    found = _CUSTOM_FIELD.match(exc.field)
    if found and int(found.group(1)) < len(positions):
        sub = form.custom.entries[positions[int(found.group(1))]].form
        name = {"options": "options", "label": "label", "kind": "kind"}.get(found.group(2), "key")
        getattr(sub, name).errors = [*getattr(sub, name).errors, exc.reason]
        return
    field = exc.field.removeprefix("fields.")
    if field.startswith("topics"):
        form.form_errors.append(f"Topics: {exc.reason}")
    else:
        apply_domain_error(form, field, exc.reason)


def _editor(form: SignupFormForm, signup_form: SignupForm | None, status: int = 200) -> ResponseReturnValue:
    tenant = db.session.get(Tenant, current_user.tenant_id)
    topics = tenant_topics(tenant.id)
    if request.method == "POST":
        chosen = {topic.id: request.form.get(f"topic-{topic.id}") or "" for topic in topics}
    else:
        offered = {entry["id"]: entry["checked"] for entry in (signup_form.topics if signup_form else [])}
        chosen = {topic.id: ("ticked" if offered[topic.id] else "unticked") if topic.id in offered else ""
                  for topic in topics}
    # A blank row to add a field with (saved rows come back with one more).
    if len(form.custom.entries) < form.custom.max_entries:
        form.custom.append_entry()
    preview = signup_forms.confirmation_html(_preview_form(form, signup_form), tenant, "#confirm") \
        if form.confirmation_body.data else None
    return render_template("signup_forms/editor.html", form=form, signup_form=signup_form, topics=topics,
                           chosen=chosen, topic_choices=TOPIC_CHOICES, tenant=tenant, preview=preview,
                           url=signup_forms.hosted_url(signup_form) if signup_form else None,
                           snippet=signup_forms.embed_snippet(signup_form) if signup_form else None), status


def _preview_form(form: SignupFormForm, saved: SignupForm | None) -> SignupForm:
    """An unsaved form carrying the editor's current email text, for the preview."""
    return SignupForm(name=form.name.data or (saved.name if saved else ""),
                      confirmation_subject=form.confirmation_subject.data or "",
                      confirmation_body=form.confirmation_body.data or "")


def _save(form: SignupFormForm, signup_form: SignupForm | None) -> ResponseReturnValue:
    if request.method != "POST":
        return _editor(form, signup_form)
    if not form.validate_on_submit():
        return _editor(form, signup_form, 422)
    tenant_id = current_user.tenant_id
    data, positions = _data(form, tenant_id)
    try:
        if signup_form is None:
            signup_form = signup_forms.create_form(tenant_id, data)
            flash("Form created. Share its address or paste the snippet into your website.", "success")
        else:
            signup_form = signup_forms.update_form(tenant_id, signup_form.id, data)
            flash("Form saved.", "success")
    except ValidationFailed as exc:
        db.session.rollback()
        _show_error(form, exc, positions)
        return _editor(form, signup_form, 422)
    return redirect(url_for("signup_forms.edit", form_id=signup_form.id))


def _stored_data(signup_form: SignupForm) -> dict[str, Any]:
    fields = signup_form.fields or {}
    return {
        "name": signup_form.name, "first_name": fields.get("first_name", "off"),
        "last_name": fields.get("last_name", "off"), "consent_text": signup_form.consent_text,
        "double_opt_in": signup_form.double_opt_in, "confirmation_subject": signup_form.confirmation_subject,
        "confirmation_body": signup_form.confirmation_body, "success_message": signup_form.success_message,
        "status": signup_form.status,
        "custom": [{**spec, "options": "\n".join(spec.get("options") or []), "remove": False}
                   for spec in fields.get("custom") or []],
    }


@bp.get("/")
@login_required
def index():
    cursor = request.args.get("cursor") or None
    try:
        page = signup_forms.forms_page(current_user.tenant_id, limit=PAGE_SIZE, cursor=cursor)
    except ValidationFailed:
        page = signup_forms.forms_page(current_user.tenant_id, limit=PAGE_SIZE)
    return render_template("signup_forms/index.html", page=page)


@bp.route("/new", methods=["GET", "POST"])
@login_required
@write_required
def new():
    tenant = db.session.get(Tenant, current_user.tenant_id)
    defaults = signup_forms.default_texts(tenant.name)
    form = SignupFormForm(data={**defaults, "double_opt_in": True, "first_name": "optional", "last_name": "off",
                                "status": "active"})
    return _save(form, None)


@bp.route("/<int:form_id>", methods=["GET", "POST"])
@login_required
def edit(form_id: int):
    signup_form = signup_forms.get_form(current_user.tenant_id, form_id)
    form = SignupFormForm(data=_stored_data(signup_form))
    if request.method == "POST":
        if not current_user.can_write:
            abort(403, "Your role (viewer) can look at data but not change it.")
        return _save(form, signup_form)
    return _editor(form, signup_form)


@bp.post("/preview-email")
@login_required
@write_required
def preview_email():
    """The confirmation email as the editor's current (unsaved) text would send it."""
    form = SignupFormForm()  # not validated: the preview shows what is typed, Save gives the messages
    tenant = db.session.get(Tenant, current_user.tenant_id)
    html = signup_forms.confirmation_html(_preview_form(form, None), tenant, "#confirm")
    return render_template("signup_forms/_email_preview.html", preview=html, form=form, tenant=tenant)


@bp.post("/<int:form_id>/delete")
@login_required
@write_required
def delete(form_id: int):
    signup_form = signup_forms.get_form(current_user.tenant_id, form_id)
    name = signup_form.name
    signup_forms.delete_form(current_user.tenant_id, form_id)
    flash(f"Form “{name}” deleted. Its page and snippet no longer work.", "success")
    return redirect(url_for("signup_forms.index"))
