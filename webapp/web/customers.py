"""Customer list, customer page, tags, notes and the timeline."""

from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from webapp.extensions import htmx
from webapp.infra.errors import Conflict, ValidationFailed
from webapp.models import EMAIL_STATUSES
from webapp.services import activities, activity_text, consent, customers, workflows
from webapp.services.audit import Target
from webapp.services.dashboard import window_start
from webapp.services.events.overview import upcoming_tickets
from webapp.services.timeline import timeline as customer_timeline
from webapp.web.access import write_required
from webapp.web.audit import note
from webapp.web.filters import activity_label
from webapp.web.forms import CustomerForm, Form, NoteForm, TagForm, apply_domain_error
from webapp.web.pages import partial_or_page

bp = Blueprint("customers", __name__, url_prefix="/customers")

PAGE_SIZE = 25
CONSENT_SOURCE_LABELS = {"form": "signup form", "api": "API", "import": "import",
                         "preference_centre": "preference page", "admin": "changed by your team",
                         "complaint": "spam complaint", "bounce": "bounce", "unsubscribe_link": "unsubscribe link"}
TIMELINE_PAGE = 20


# The list's narrowing filters the dashboard's figures link to: their words and their query.
ORDERED_WINDOWS = {"30d": "ordered in the last 30 days"}


def _list_filters() -> dict:
    status = request.args.get("status", "")
    ordered = request.args.get("ordered", "")
    return {"q": request.args.get("q", "").strip()[:200], "tag": request.args.get("tag", "").strip()[:100],
            "status": status if status in EMAIL_STATUSES else "",
            "ordered": ordered if ordered in ORDERED_WINDOWS else ""}


@bp.get("/")
@login_required
def index():
    shown = _list_filters()
    filters = {"q": shown["q"] or None, "tag": shown["tag"] or None, "email_status": shown["status"] or None,
               "ordered_since": window_start() if shown["ordered"] else None}
    cursor = request.args.get("cursor") or None
    try:
        page = customers.list_customers(current_user.tenant_id, limit=PAGE_SIZE, cursor=cursor, **filters)
    except ValidationFailed:
        page = customers.list_customers(current_user.tenant_id, limit=PAGE_SIZE, **filters)
    total = customers.count_customers(current_user.tenant_id)
    narrowed = bool(shown["status"] or shown["ordered"])
    return partial_or_page("customers/_rows.html", "customers/index.html",
                           page=page, q=shown["q"], tag=shown["tag"], status=shown["status"],
                           ordered=shown["ordered"], ordered_label=ORDERED_WINDOWS.get(shown["ordered"]),
                           matching=customers.count_matching(current_user.tenant_id, **filters) if narrowed else None,
                           total=total, appending=bool(cursor))


COMMON_TYPES = ("purchase", "signup", "note", "tag_added", "tag_removed", "email_sent", "email_opened",
                "email_clicked", "segment_entered")


def _timeline_context(customer_id: int, types: list[str], cursor: str | None = None) -> dict:
    page = customer_timeline(current_user.tenant_id, customer_id, types=types or None,
                               limit=TIMELINE_PAGE, cursor=cursor)
    known = activities.activity_types(current_user.tenant_id)
    return {"timeline": page, "types": types,
            # The usual types and every type the tenant has (ticket scans, page views, custom
            # ones), by their labels.
            "type_choices": sorted(set(COMMON_TYPES) | set(known) | set(types), key=activity_label),
            "activity_text": activity_text.for_activities(current_user.tenant_id, page.items)}


def _selected_types() -> list[str]:
    return [t for t in request.args.getlist("type") if t][:20]


@bp.get("/<int:customer_id>")
@login_required
def show(customer_id: int):
    customer = customers.get_customer(current_user.tenant_id, customer_id)
    types = _selected_types()
    enrollments = workflows.customer_enrollments(current_user.tenant_id, customer.id, limit=20)
    names = workflows.workflow_names(current_user.tenant_id, {e.workflow_id for e in enrollments})
    return render_template("customers/show.html", customer=customer, note_form=NoteForm(),
                           tag_form=TagForm(), enrollments=enrollments, workflow_names=names,
                           topics=consent.tenant_topics(current_user.tenant_id),
                           topic_states=consent.topic_states(current_user.tenant_id, customer.id),
                           consent_records=consent.consent_history(current_user.tenant_id, customer.id),
                           topics_form=Form(), consent_source_labels=CONSENT_SOURCE_LABELS,
                           tickets=upcoming_tickets(current_user.tenant_id, customer.id),
                           **_timeline_context(customer.id, types))


def _admin_evidence(wording: str) -> consent.Evidence:
    return consent.Evidence("admin", wording=f"{wording} by {current_user.display_name} on the customer's page",
                            ip_address=request.remote_addr, user_agent=request.headers.get("User-Agent"))


@bp.post("/<int:customer_id>/topics")
@login_required
@write_required
def set_topics(customer_id: int):
    customer = customers.get_customer(current_user.tenant_id, customer_id)
    if Form().validate_on_submit():
        known = {t.id for t in consent.tenant_topics(current_user.tenant_id)}
        chosen = [int(v) for v in request.form.getlist("topics") if v.isascii() and v.isdigit() and int(v) in known]
        changes = consent.set_topics_by_admin(customer, chosen, _admin_evidence("Topics changed"))
        flash("Topics saved." if changes else "No change to the topics.", "success")
    return redirect(url_for("customers.show", customer_id=customer.id) + "#topics")


@bp.get("/<int:customer_id>/timeline")
@login_required
def timeline(customer_id: int):
    customer = customers.get_customer(current_user.tenant_id, customer_id)
    types = _selected_types()
    cursor = request.args.get("cursor") or None
    context = _timeline_context(customer.id, types, cursor)
    template = "customers/_timeline_items.html" if cursor else "customers/_timeline.html"
    response = make_response(render_template(template, customer=customer, **context))
    response.headers["Vary"] = "HX-Request"
    return response


@bp.post("/<int:customer_id>/notes")
@login_required
@write_required
def add_note(customer_id: int):
    customer = customers.get_customer(current_user.tenant_id, customer_id)
    form = NoteForm()
    if form.validate_on_submit():
        try:
            activities.add_note(current_user.tenant_id, customer.id, form.text.data,
                                author=current_user.email)
        except ValidationFailed as exc:
            apply_domain_error(form, exc.field, exc.reason)
        else:
            form = NoteForm(formdata=None)
    status = 422 if form.errors else 200
    if htmx:
        response = make_response(render_template(
            "customers/_notes_and_timeline.html", customer=customer, note_form=form,
            **_timeline_context(customer.id, [])), status)
        return response
    if form.errors:
        return render_template("customers/show.html", customer=customer, note_form=form,
                               tag_form=TagForm(), **_timeline_context(customer.id, [])), 422
    flash("Note added.", "success")
    return redirect(url_for("customers.show", customer_id=customer.id))


def _tags_response(customer, form: TagForm, status: int = 200):
    if htmx:
        return make_response(render_template("customers/_tags_and_timeline.html", customer=customer,
                                             tag_form=form, **_timeline_context(customer.id, [])), status)
    if status >= 400:
        flash(" ".join(form.tag.errors), "error")
    return redirect(url_for("customers.show", customer_id=customer.id))


@bp.post("/<int:customer_id>/tags")
@login_required
@write_required
def add_tag(customer_id: int):
    customer = customers.get_customer(current_user.tenant_id, customer_id)
    form = TagForm()
    if form.validate_on_submit():
        try:
            customer = customers.add_tag(current_user.tenant_id, customer.id, form.tag.data)
        except ValidationFailed as exc:
            apply_domain_error(form, "tag", exc.reason)
        else:
            return _tags_response(customer, TagForm(formdata=None))
    return _tags_response(customer, form, 422)


@bp.post("/<int:customer_id>/tags/remove")
@login_required
@write_required
def remove_tag(customer_id: int):
    customer = customers.get_customer(current_user.tenant_id, customer_id)
    form = TagForm()
    if not form.validate_on_submit():
        return _tags_response(customer, form, 422)
    customer = customers.remove_tag(current_user.tenant_id, customer.id, form.tag.data)
    return _tags_response(customer, TagForm(formdata=None))


@bp.route("/<int:customer_id>/edit", methods=["GET", "POST"])
@login_required
@write_required
def edit(customer_id: int):
    customer = customers.get_customer(current_user.tenant_id, customer_id)
    form = CustomerForm(obj=customer)
    conflict = False
    if form.validate_on_submit():
        changes = {name: (form[name].data or None) for name in
                   ("first_name", "last_name", "external_id", "timezone")}
        changes["email"] = form.email.data
        changes["email_status"] = form.email_status.data
        try:
            customers.update_customer(current_user.tenant_id, customer.id, changes,
                                      evidence=_admin_evidence("Email status changed"))
        except ValidationFailed as exc:
            apply_domain_error(form, exc.field, exc.reason)
        except Conflict as exc:
            field = exc.details[0]["field"] if exc.details else "email"
            apply_domain_error(form, field, "Another customer already has this value.")
            conflict = True
        else:
            flash("Customer saved.", "success")
            return redirect(url_for("customers.show", customer_id=customer.id))
    status = 409 if conflict else 422 if form.errors else 200
    return render_template("customers/edit.html", customer=customer, form=form), status


@bp.post("/<int:customer_id>/delete")
@login_required
@write_required
def delete(customer_id: int):
    customers.delete_customer(current_user.tenant_id, customer_id)
    # No name or address in the log: the erasure would otherwise be undone by its own record.
    note("customer.erased", Target("customer", customer_id, None))
    flash("Customer and all their activities erased.", "success")
    return redirect(url_for("customers.index"))
