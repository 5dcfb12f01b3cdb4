"""Segments: the list with recalculation, the visual builder with a live preview, members."""

from __future__ import annotations

import json

from flask import Blueprint, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from wtforms import HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from webapp.extensions import htmx
from webapp.infra.errors import ValidationFailed
from webapp.models import CustomerSegment
from webapp.segments.describe import describe_group
from webapp.services import segment_counts, segments
from webapp.services.condition_choices import event_names
from webapp.services.topics import topic_names
from webapp.web.access import write_required
from webapp.web.condition_builder import condition_builder_context
from webapp.web.forms import Form, StorableValues, apply_domain_error, decode_json_field

bp = Blueprint("segments", __name__, url_prefix="/segments")

PAGE_SIZE = 50
MEMBERS_PAGE = 25

class SegmentForm(Form):
    name = StringField("Name", validators=[DataRequired(message="Give the segment a name."), Length(max=200)])
    match = SelectField("Customers who match", default="all", choices=[
        SelectChoice("all", "all of these conditions"), SelectChoice("any", "any of these conditions")])
    # The definition as JSON, written by static/js/segment-builder.js. MAX_CONDITIONS conditions
    # fit in a small part of the bound.
    conditions = HiddenField(default="[]", validators=[Length(max=200_000)])


def _error(exc: ValidationFailed) -> dict[str, str]:
    return {"field": exc.field, "message": exc.reason}


def _render_builder(form: SegmentForm, segment: CustomerSegment | None,
                    definition_error: dict[str, str] | None = None) -> ResponseReturnValue:
    tenant_id = current_user.tenant_id
    if definition_error is None and form.conditions.errors:  # a hidden field: its message goes to the builder
        definition_error = {"field": "conditions", "message": form.conditions.errors[0]}
    status = 422 if (form.errors or definition_error) else 200
    return render_template("segments/builder.html", form=form, segment=segment, definition_error=definition_error,
                           **condition_builder_context(tenant_id)), status


def _save(form: SegmentForm, segment: CustomerSegment | None) -> ResponseReturnValue:
    """Create or update from a submitted builder; on errors re-render it with everything kept."""
    if not form.validate_on_submit():
        return _render_builder(form, segment)
    tenant_id = current_user.tenant_id
    try:
        conditions = decode_json_field(form.conditions.data, "conditions")
        if segment is None:
            segment = segments.create_segment(tenant_id, form.name.data, conditions, form.match.data)
        else:
            segment = segments.update_segment(tenant_id, segment.id, {
                "name": form.name.data, "match": form.match.data, "conditions": conditions})
    except ValidationFailed as exc:
        if exc.field == "name":
            apply_domain_error(form, "name", exc.reason)
            return _render_builder(form, segment)
        return _render_builder(form, segment, _error(exc))
    flash(f"Segment saved: {segment.member_count:,} matching customers.", "success")
    return redirect(url_for("segments.show", segment_id=segment.id))


@bp.get("/")
@login_required
def index():
    cursor = request.args.get("cursor") or None
    try:
        page = segments.segments_page(current_user.tenant_id, limit=PAGE_SIZE, cursor=cursor)
    except ValidationFailed:
        page = segments.segments_page(current_user.tenant_id, limit=PAGE_SIZE)
    reachable = segment_counts.reachable_counts(current_user.tenant_id, [s.id for s in page.items])
    return render_template("segments/index.html", page=page, reachable=reachable)


@bp.route("/new", methods=["GET", "POST"])
@login_required
@write_required
def new():
    return _save(SegmentForm(), None)


@bp.route("/<int:segment_id>/edit", methods=["GET", "POST"])
@login_required
@write_required
def edit(segment_id: int):
    segment = segments.get_segment(current_user.tenant_id, segment_id)
    # The stored values, overridden by whatever a POST sends.
    form = SegmentForm(data={"name": segment.name, "match": segment.match,
                             "conditions": json.dumps(segment.conditions)})
    return _save(form, segment)


@bp.post("/preview")
@login_required
@write_required
def preview():
    """Count and sample what the builder's current definition matches, saving nothing."""
    status, result, error = 200, None, None
    form = StorableValues(request.form)
    try:
        conditions = decode_json_field(form.get("conditions"), "conditions")
        if conditions != []:
            result = segments.preview(current_user.tenant_id, conditions, form.get("match") or "all")
    except ValidationFailed as exc:
        status, error = 422, _error(exc)
    return render_template("segments/_preview.html", result=result, error=error), status


@bp.post("/preview/conditions")
@login_required
@write_required
def condition_counts():
    """How many customers each top-level condition of the builder's definition keeps on its
    own, as JSON for the builder's rows: {"counts": [n, ...]} in definition order (null when
    the tenant is too large to count them quickly), or 422 {"error": {"field", "message"}}."""
    form = StorableValues(request.form)
    try:
        conditions = decode_json_field(form.get("conditions"), "conditions")
        counts = segment_counts.condition_counts(current_user.tenant_id, conditions, form.get("match") or "all") \
            if conditions != [] else []
    except ValidationFailed as exc:
        return jsonify({"error": _error(exc)}), 422
    return jsonify({"counts": counts})


@bp.get("/<int:segment_id>")
@login_required
def show(segment_id: int):
    segment = segments.get_segment(current_user.tenant_id, segment_id)
    cursor = request.args.get("cursor") or None
    try:
        members = segments.members_page(current_user.tenant_id, segment.id, limit=MEMBERS_PAGE, cursor=cursor)
    except ValidationFailed:
        members = segments.members_page(current_user.tenant_id, segment.id, limit=MEMBERS_PAGE)
    context = {"segment": segment, "members": members, "appending": bool(cursor)}
    if htmx and not htmx.boosted:  # "Load more": the next members only
        response = make_response(render_template("segments/_members.html", **context))
    else:
        response = make_response(render_template(
            "segments/show.html", summary=describe_group(segment.conditions, topic_names(current_user.tenant_id),
                                   event_names(current_user.tenant_id, segment.conditions)),
            reachable=segment_counts.reachable_count(current_user.tenant_id, segment.id), **context))
    response.headers["Vary"] = "HX-Request"
    return response


@bp.post("/<int:segment_id>/recalculate")
@login_required
@write_required
def recalculate(segment_id: int):
    result = segments.calculate_segment(current_user.tenant_id, segment_id)
    if htmx:
        segment = segments.get_segment(current_user.tenant_id, segment_id)
        return render_template("segments/_row.html", segment=segment, result=result,
                               reachable=segment_counts.reachable_counts(current_user.tenant_id, [segment.id]))
    flash(f"Recalculated: {result.member_count:,} members (+{result.added:,} / −{result.removed:,}).", "success")
    if request.form.get("back") == "show":
        return redirect(url_for("segments.show", segment_id=segment_id))
    return redirect(url_for("segments.index"))


@bp.post("/<int:segment_id>/delete")
@login_required
@write_required
def delete(segment_id: int):
    segments.delete_segment(current_user.tenant_id, segment_id)
    flash("Segment deleted. Its customers are untouched.", "success")
    return redirect(url_for("segments.index"))
