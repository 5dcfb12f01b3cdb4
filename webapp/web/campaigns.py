"""Campaigns: the list, the editor with its sandboxed live preview, test sends, scheduling,
sending after a confirmation, and the self-polling progress of a send."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from webapp.extensions import htmx
from webapp.infra.errors import NotFound, ValidationFailed
from webapp.infra.types import MAX_ID, utcnow
from webapp.mail.design import brand_of, default_design
from webapp.models import CAMPAIGN_STATUSES, CustomerSegment, EmailCampaign
from webapp.services import campaigns, customers, segments
from webapp.services.audit import Target
from webapp.services.campaigns import checks as campaign_checks
from webapp.services.campaigns import listing as campaign_listing
from webapp.services.campaigns import variants, waves
from webapp.services.consent import tenant_topics
from webapp.services.topics import topic_names
from webapp.web.access import write_required
from webapp.web.audit import note
from webapp.web.campaign_previews import preview_customer, preview_problem, preview_response, sender_line
from webapp.web.email_builder import builder_config, design_problems
from webapp.web.forms import (
    CampaignForm,
    ScheduleForm,
    StorableValues,
    TestSendForm,
    apply_domain_error,
    decode_json_field,
)
from webapp.web.pages import partial_or_page

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")

PAGE_SIZE = 50
CUSTOMER_SUGGESTIONS = 8
OPTIONAL_FIELDS = ("preheader", "from_name", "from_email", "reply_to", "text_content", "utm_source", "utm_medium",
                   "utm_campaign")


def _segment_choices(tenant_id: int) -> list[tuple[str, str]]:
    return [("", "Choose a segment…")] + [(str(s.id), s.name) for s in segments.list_segments(tenant_id)]


def _campaign_form(campaign: EmailCampaign | None = None) -> CampaignForm:
    """The editor's form: the stored values, overridden by whatever a POST sends. New campaigns
    start as a design in the brand kit; an HTML campaign stays HTML (a design posted to it is
    ignored: turning HTML into blocks is not something the builder can do)."""
    tenant = current_user.tenant
    if campaign is None:
        # A POST says itself which it is: a design when it sends one, HTML otherwise.
        data = {"design": json.dumps(default_design(brand_of(tenant.brand))) if request.method == "GET" else ""}
    else:
        data = {name: getattr(campaign, name) or "" for name in
                ("name", "subject", "html_content", *OPTIONAL_FIELDS)}
        data["segment_id"] = str(campaign.segment_id) if campaign.segment_id else ""
        data["topic_id"] = str(campaign.topic_id) if campaign.topic_id else ""
        data["design"] = json.dumps(campaign.design) if campaign.design is not None else ""
    form = CampaignForm(data=data)
    form.segment_id.choices = _segment_choices(current_user.tenant_id)
    form.topic_id.choices = [SelectChoice("", "All marketing (no topic)")] + [
        SelectChoice(str(t.id), t.name) for t in tenant_topics(current_user.tenant_id)]
    if campaign is not None and campaign.design is None:
        form.design.data = ""
    return form


def _form_values(form: CampaignForm) -> dict[str, Any]:
    """The service's values: a design (decoded; ValidationFailed naming the spot when it is not
    JSON) or the HTML, never both."""
    values: dict[str, Any] = {name: form[name].data for name in ("name", "subject")}
    if _design_mode(form):
        values["design"] = decode_json_field(form.design.data, "design", default="null")
    else:
        values["html_content"] = form.html_content.data
    for name in OPTIONAL_FIELDS:
        values[name] = form[name].data if (form[name].data or "").strip() else None
    values["segment_id"] = int(form.segment_id.data) if form.segment_id.data else None
    values["topic_id"] = int(form.topic_id.data) if form.topic_id.data else None
    return values


def _design_mode(form: CampaignForm) -> bool:
    return bool((form.design.data or "").strip())


def _chosen_segment(segment_id: Any) -> CustomerSegment | None:
    """The tenant's segment of this id, or None without a (known) segment."""
    try:
        segment_id = int(segment_id)
        if not 0 < segment_id <= MAX_ID:  # no row has such an id; the database would refuse to compare it
            return None
        return segments.get_segment(current_user.tenant_id, segment_id)
    except (TypeError, ValueError, NotFound):
        return None


def _audience(segment_id: Any) -> dict[str, Any] | None:
    """How many people the chosen segment would reach now, or None without a (known) segment."""
    segment = _chosen_segment(segment_id)
    return segment and {"segment": segment, "count": campaigns.segment_audience(current_user.tenant_id, segment.id)}


def _editor(form: CampaignForm, campaign: EmailCampaign | None, *, status: int | None = None,
            test_form: TestSendForm | None = None, schedule_form: ScheduleForm | None = None,
            test_results: list[dict] | None = None, design_errors: dict[str, str] | None = None) -> ResponseReturnValue:
    test_form = test_form or TestSendForm(formdata=None, data={"emails": current_user.email})
    schedule_form = schedule_form or ScheduleForm.as_saved(campaign)
    if status is None:
        status = 422 if (form.errors or test_form.errors or schedule_form.errors) else 200
    return render_template("campaigns/editor.html", form=form, campaign=campaign, tenant=current_user.tenant,
                           audience=_audience(form.segment_id.data), test_form=test_form,
                           saved_audience=_audience(campaign.segment_id) if campaign is not None else None,
                           schedule_form=schedule_form, test_results=test_results,
                           ab_summary=variants.test_summary(campaign) if campaign is not None else None,
                           builder=builder_config(form.design.data, design_errors) if _design_mode(form) else None,
                           design_problems=design_problems(form.design.data, design_errors)), status


def _save(form: CampaignForm, campaign: EmailCampaign | None) -> ResponseReturnValue:
    """Create or update from the submitted editor; on errors show it again with everything kept."""
    if not form.validate_on_submit():
        return _editor(form, campaign)
    tenant_id = current_user.tenant_id
    try:
        values = _form_values(form)
        if campaign is None:
            campaign = campaigns.create_campaign(tenant_id, values)
            flash("Draft saved. Send yourself a test, then schedule it or send it now.", "success")
        else:
            campaign = campaigns.update_campaign(tenant_id, campaign.id, values)
            flash("Changes saved.", "success")
        # Saved, but a merge tag nobody has would print nothing: say so, with the likely field.
        for warning in campaign_checks.campaign_warnings(tenant_id, campaign):
            flash(f"Check: {warning}", "warning")
    except ValidationFailed as exc:
        if exc.field == "design" or exc.field.startswith(("design.", "design[")):
            form.design.errors = [*form.design.errors, exc.reason]
            return _editor(form, campaign, design_errors={exc.field: exc.reason})
        apply_domain_error(form, exc.field, exc.reason)
        return _editor(form, campaign)
    return redirect(url_for("campaigns.edit", campaign_id=campaign.id))


# --- list -----------------------------------------------------------------------------------

# The figure columns of the list: the sort key, its heading, and the order a first click asks for.
LIST_COLUMNS = (("recipients", "Recipients", "desc"), ("open_rate", "Open rate", "desc"),
                ("click_rate", "Click rate", "desc"), ("revenue", "Revenue", "desc"))


def _list_query() -> dict[str, str]:
    """The list's status, search and order from the query string (anything unknown: the default)."""
    args = request.args
    status = args.get("status", "") if args.get("status", "") in CAMPAIGN_STATUSES else ""
    sort = args.get("sort", "") if args.get("sort", "") in campaign_listing.SORTS else "newest"
    default_dir = "asc" if sort == "name" else "desc"
    direction = args.get("dir", "") if args.get("dir", "") in campaign_listing.DIRECTIONS else default_dir
    return {"status": status, "q": args.get("q", "").strip()[:200], "sort": sort, "dir": direction}


@bp.get("/")
@login_required
def index():
    query = _list_query()
    cursor = request.args.get("cursor") or None
    options = {"status": query["status"] or None, "q": query["q"] or None, "sort": query["sort"],
               "direction": query["dir"], "limit": PAGE_SIZE}
    try:
        page = campaign_listing.campaign_rows(current_user.tenant_id, cursor=cursor, **options)
    except ValidationFailed:
        page = campaign_listing.campaign_rows(current_user.tenant_id, **options)
    segment_names = {s.id: s.name for s in segments.list_segments(current_user.tenant_id)}
    # "Load more" appends rows; a search or a tab swaps the tabs and the table under the search box.
    return partial_or_page("campaigns/_rows.html" if cursor else "campaigns/_list.html", "campaigns/index.html",
                           page=page, query=query,
                           status=query["status"], statuses=CAMPAIGN_STATUSES, segment_names=segment_names,
                           appending=bool(cursor), progress=campaigns.progress, columns=LIST_COLUMNS)


# --- editor ---------------------------------------------------------------------------------

@bp.route("/new", methods=["GET", "POST"])
@login_required
@write_required
def new():
    form = _campaign_form()
    if request.method == "GET" and request.args.get("content") == "html":
        form.design.data = ""  # "Write HTML instead": the code editor from the start
    if request.method == "GET":
        # "Send a campaign to this segment": preselected when it is one of the tenant's own.
        chosen = request.args.get("segment_id", "")
        if chosen and chosen in {value for value, _ in form.segment_id.choices}:
            form.segment_id.data = chosen
    return _save(form, None)


@bp.route("/<int:campaign_id>/edit", methods=["GET", "POST"])
@login_required
@write_required
def edit(campaign_id: int):
    campaign = campaigns.get_campaign(current_user.tenant_id, campaign_id)
    if campaign.status not in campaigns.EDITABLE:
        if request.method == "POST":
            return _conflict(campaign, f"This campaign is {campaign.status}: it can no longer be edited.")
        return redirect(url_for("campaigns.show", campaign_id=campaign.id))
    return _save(_campaign_form(campaign), campaign)


def _conflict(campaign: EmailCampaign, message: str) -> ResponseReturnValue:
    """The campaign moved on (sent, sending, cancelled) while the page was open: say so on its page."""
    if htmx:
        return render_template("errors/_flash.html", message=message), 409, {
            "HX-Retarget": "#flashes", "HX-Reswap": "innerHTML"}
    flash(message, "error")
    return redirect(url_for("campaigns.show", campaign_id=campaign.id))


@bp.get("/<int:campaign_id>")
@login_required
def show(campaign_id: int):
    """The read-only view: what was (or will be) sent, to whom, and how far it got."""
    campaign = campaigns.get_campaign(current_user.tenant_id, campaign_id)
    preview, preview_error = None, None
    try:
        preview = campaigns.preview_campaign(current_user.tenant_id, campaign.id)
    except ValidationFailed as exc:
        preview_error = exc.reason
    # Its name and link only: who it reaches now (counted: 120 ms at 1M customers) is the editor's.
    return render_template("campaigns/show.html", campaign=campaign, progress=campaigns.progress(campaign),
                           waves=waves.waves_of(campaign),
                           segment=_chosen_segment(campaign.segment_id), preview=preview,
                           topic_name=topic_names(current_user.tenant_id).get(campaign.topic_id),
                           preview_error=preview_error, sender=sender_line(campaign), customer=None, query="")


# --- live preview, audience, customer suggestions --------------------------------------------

@bp.post("/preview")
@login_required
@write_required
def preview():
    """The editor's content as the chosen customer would get it, saving nothing: the HTML, or
    the builder's design compiled as a save would."""
    customer, query = preview_customer()
    design = None
    try:
        form = StorableValues(request.form)
        data = {name: form.get(name) for name in ("subject", "html_content", *OPTIONAL_FIELDS)}
        if (form.get("design") or "").strip():
            design = decode_json_field(form.get("design"), "design", default="null")
            data = {**data, "design": design, "html_content": None}
    except ValidationFailed as exc:
        return preview_response(None, preview_problem(exc, design), customer, query, None)
    for name in OPTIONAL_FIELDS:
        data[name] = data[name] if (data[name] or "").strip() else None
    if design is None and not (data["html_content"] or "").strip():
        return preview_response(None, None, customer, query, None)
    # A subject is still being written: preview the body under a visible stand-in.
    data["subject"] = data["subject"] if (data["subject"] or "").strip() else "(no subject yet)"
    sender = sender_line(EmailCampaign(from_name=data["from_name"], from_email=data["from_email"]))
    try:
        result = campaigns.preview_content(current_user.tenant_id, data, customer.id if customer else None)
    except ValidationFailed as exc:
        return preview_response(None, preview_problem(exc, design), customer, query, sender)
    return preview_response(result, None, customer, query, sender)


@bp.get("/<int:campaign_id>/preview")
@login_required
def saved_preview(campaign_id: int):
    """A saved campaign as the chosen customer gets it (the read-only view's preview)."""
    campaign = campaigns.get_campaign(current_user.tenant_id, campaign_id)
    customer, query = preview_customer()
    try:
        result = campaigns.preview_campaign(current_user.tenant_id, campaign.id, customer.id if customer else None)
    except ValidationFailed as exc:
        return preview_response(None, {"field": exc.field, "message": exc.reason}, customer, query,
                                 sender_line(campaign))
    return preview_response(result, None, customer, query, sender_line(campaign))


@bp.get("/audience")
@login_required
def audience():
    return render_template("campaigns/_audience.html", audience=_audience(request.args.get("segment_id")))


@bp.get("/customers")
@login_required
def customer_options():
    """<option>s for the "Preview as" search: the tenant's customers matching what was typed."""
    query = (request.args.get("preview_as") or "").strip()[:200]
    page = customers.list_customers(current_user.tenant_id, q=query or None, limit=CUSTOMER_SUGGESTIONS)
    return render_template("campaigns/_customer_options.html", customers=page.items)


# --- test, schedule, send, cancel, delete -----------------------------------------------------

@bp.post("/<int:campaign_id>/test")
@login_required
@write_required
def send_test(campaign_id: int):
    campaign = campaigns.get_campaign(current_user.tenant_id, campaign_id)
    form = TestSendForm()
    results = None
    if form.validate_on_submit():
        customer, _ = preview_customer()
        try:
            results = campaigns.send_test(current_user.tenant_id, campaign.id, form.addresses(),
                                          customer.id if customer else None)
        except ValidationFailed as exc:
            apply_domain_error(form, "emails" if exc.field.startswith("emails") else exc.field, exc.reason)
    status = 422 if form.errors else 200
    if htmx:
        return render_template("campaigns/_test_send.html", campaign=campaign, test_form=form,
                               test_results=results), status
    if form.errors:
        return _editor(_campaign_form(campaign), campaign, test_form=form, status=status)
    flash(f"Test sent to {', '.join(r['email'] for r in results)}.", "success")
    return redirect(url_for("campaigns.edit", campaign_id=campaign.id))


@bp.post("/<int:campaign_id>/schedule")
@login_required
@write_required
def schedule(campaign_id: int):
    campaign = campaigns.get_campaign(current_user.tenant_id, campaign_id)
    form = ScheduleForm()
    if form.validate_on_submit():
        try:  # the wall-clock time typed: in the organisation's timezone, or in each recipient's
            campaign = campaigns.schedule_local(current_user.tenant_id, campaign.id, form.send_at.data.replace(
                tzinfo=None), per_customer_timezone=bool(form.per_customer_timezone.data))
        except ValidationFailed as exc:
            apply_domain_error(form, "send_at", exc.reason)
        else:
            note("campaign.scheduled", Target("campaign", campaign.id, campaign.name))
            where = "in each recipient’s own timezone" if campaign.local_send_time else \
                f"({current_user.tenant.timezone})"
            flash(f"Scheduled: it goes out on {form.send_at.data.strftime('%d %b %Y at %H:%M')} {where}. You can "
                  "still edit it until it starts.", "success")
            return redirect(url_for("campaigns.edit", campaign_id=campaign.id))
    return _editor(_campaign_form(campaign), campaign, schedule_form=form)


@bp.route("/<int:campaign_id>/send", methods=["GET", "POST"])
@login_required
@write_required
def send(campaign_id: int):
    """GET: the confirmation, saying how many people will get it, the checklist and how the
    inbox shows the message. POST: send now, unless the checklist has blockers."""
    campaign = campaigns.get_campaign(current_user.tenant_id, campaign_id)
    if campaign.status not in campaigns.EDITABLE:
        return _conflict(campaign, f"This campaign is already {campaign.status}.")
    review = campaign_checks.presend_review(current_user.tenant_id, campaign.id)
    error = None
    if request.method == "POST" and review.blockers:
        first = review.blockers[0]
        error = {"field": first.key, "message": first.detail if len(review.blockers) == 1 else
                 f"fix the {len(review.blockers)} items marked “Must fix” first."}
    elif request.method == "POST":
        try:
            campaigns.send_campaign(current_user.tenant_id, campaign.id)
        except ValidationFailed as exc:
            error = {"field": exc.field, "message": exc.reason}
        else:
            note("campaign.sent", Target("campaign", campaign.id, campaign.name))
            # Its own kind: the progress card removes it once the send is over.
            flash("Sending has started. This page follows its progress.", "sending")
            return redirect(url_for("campaigns.show", campaign_id=campaign.id))
    audience = _audience(campaign.segment_id)
    return render_template("campaigns/confirm_send.html", campaign=campaign, audience=audience,
                           ab_plan=variants.plan_in_words(campaign, audience["count"])
                           if audience and campaign.ab_share_percent is not None else None,
                           sender=sender_line(campaign), error=error, review=review,
                           inbox_time=review.inbox.at if review.inbox and review.inbox.at else utcnow()), \
        422 if error else 200


@bp.post("/<int:campaign_id>/cancel")
@login_required
@write_required
def cancel(campaign_id: int):
    campaign = campaigns.get_campaign(current_user.tenant_id, campaign_id)
    if campaign.status not in ("scheduled", "sending"):
        return _conflict(campaign, f"A {campaign.status} campaign cannot be cancelled.")
    was = campaign.status
    campaign = campaigns.cancel_campaign(current_user.tenant_id, campaign.id)
    note("campaign.cancelled", Target("campaign", campaign.id, campaign.name))
    if was == "scheduled":
        flash("Cancelled: the campaign will not be sent.", "success")
    else:
        flash(f"Cancelled: {campaign.sent_count:,} already sent, nobody else will get it.", "success")
    return redirect(url_for("campaigns.show", campaign_id=campaign.id))


@bp.post("/<int:campaign_id>/delete")
@login_required
@write_required
def delete(campaign_id: int):
    campaign = campaigns.get_campaign(current_user.tenant_id, campaign_id)
    if campaign.status != "draft":
        return _conflict(campaign, "Only drafts can be deleted.")
    campaigns.delete_campaign(current_user.tenant_id, campaign.id)
    flash("Draft deleted.", "success")
    return redirect(url_for("campaigns.index"))


@bp.post("/<int:campaign_id>/convert-html")
@login_required
@write_required
def convert_to_html(campaign_id: int):
    """One way: the design is dropped and the campaign is edited as the HTML it compiled to."""
    campaign = campaigns.get_campaign(current_user.tenant_id, campaign_id)
    if campaign.status not in campaigns.EDITABLE:
        return _conflict(campaign, f"This campaign is {campaign.status}: it can no longer be edited.")
    if campaign.design is None:
        flash("This campaign is already HTML.", "success")
    else:
        campaigns.convert_to_html(current_user.tenant_id, campaign.id)
        flash("Converted to HTML: edit its code below. The block editor cannot open it again.", "success")
    return redirect(url_for("campaigns.edit", campaign_id=campaign.id))


# --- progress ------------------------------------------------------------------------------

@bp.get("/<int:campaign_id>/progress")
@login_required
def progress(campaign_id: int):
    """The delivery card; it polls itself while the campaign is sending."""
    campaign = campaigns.get_campaign(current_user.tenant_id, campaign_id)
    response = make_response(render_template("campaigns/_progress.html", campaign=campaign,
                                             progress=campaigns.progress(campaign), waves=waves.waves_of(campaign)))
    response.headers["Vary"] = "HX-Request"
    return response


@bp.post("/<int:campaign_id>/duplicate")
@login_required
@write_required
def duplicate(campaign_id: int):
    """A new draft copied from this campaign (any status), opened in the editor."""
    campaign = campaigns.get_campaign(current_user.tenant_id, campaign_id)
    copy = campaigns.duplicate_campaign(current_user.tenant_id, campaign.id)
    flash(f"Duplicated: you are editing “{copy.name}”, a new draft.", "success")
    return redirect(url_for("campaigns.edit", campaign_id=copy.id))
