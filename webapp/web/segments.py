"""Segments: the list with recalculation, the visual builder with a live preview, members."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from wtforms import HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from webapp.extensions import htmx
from webapp.infra.errors import ValidationFailed
from webapp.models import EMAIL_STATUSES, CustomerSegment
from webapp.segments.definition import (
    DEFAULT_OPERATOR,
    MAX_DEPTH,
    NO_VALUE_OPERATORS,
    OPERATORS,
    RELATIVE_OPERATORS,
)
from webapp.services import segments
from webapp.web.access import write_required
from webapp.web.filters import ACTIVITY_LABELS
from webapp.web.forms import Form, StorableValues, apply_domain_error, decode_json_field

bp = Blueprint("segments", __name__, url_prefix="/segments")

PAGE_SIZE = 50
MEMBERS_PAGE = 25

TYPE_LABELS = {
    "total_spent": "Total spent",
    "orders_count": "Number of orders",
    "last_order_at": "Last order date",
    "created_at": "Customer since",
    "tag": "Tag",
    "email": "Email address",
    "first_name": "First name",
    "last_name": "Last name",
    "email_status": "Email status",
    "attribute": "Custom attribute",
    "activity": "Activity",
    "purchased_event": "Bought tickets for",
    "email_engagement": "Email engagement",
}
OPERATOR_LABELS = {
    "=": "is", "!=": "is not", ">": "more than", ">=": "at least", "<": "less than", "<=": "at most",
    "before": "before", "after": "after", "on": "on", "between": "between",
    "within_last_days": "in the last", "more_than_days_ago": "more than",
    "is_set": "is set", "is_not_set": "is not set",
    "equals": "is", "not_equals": "is not", "contains": "contains", "starts_with": "starts with",
    "ends_with": "ends with", "has": "has tag", "has_not": "does not have tag",
    "in": "is one of", "not_in": "is none of",
    "at_least": "at least", "at_most": "at most", "exactly": "exactly",
    "id": "event id", "name": "event named", "name_contains": "event name contains",
    "opened": "opened an email", "clicked": "clicked an email",
    "not_opened": "did not open an email", "not_clicked": "did not click an email",
}
# What the builder picks when a marketer chooses a type (the language's defaults where it has them).
BUILDER_DEFAULT_OPERATOR = {"total_spent": ">=", "orders_count": ">=", "last_order_at": "within_last_days",
                            "created_at": "within_last_days", "tag": "has", "email": "ends_with",
                            "first_name": "equals", "last_name": "equals", "email_status": "=",
                            "attribute": "=", "activity": "at_least", "purchased_event": "name",
                            "email_engagement": "opened"}


class SegmentForm(Form):
    name = StringField("Name", validators=[DataRequired(message="Give the segment a name."), Length(max=200)])
    match = SelectField("Customers who match", default="all", choices=[
        SelectChoice("all", "all of these conditions"), SelectChoice("any", "any of these conditions")])
    # The definition as JSON, written by static/js/segment-builder.js. MAX_CONDITIONS conditions
    # fit in a small part of the bound.
    conditions = HiddenField(default="[]", validators=[Length(max=200_000)])


def builder_schema() -> dict[str, Any]:
    """The condition language's types and operators, for the builder's script."""
    return {
        "types": [{"type": t, "label": TYPE_LABELS.get(t, t),
                   "operators": [{"value": op, "label": OPERATOR_LABELS.get(op, op)} for op in ops]}
                  for t, ops in OPERATORS.items()],
        "defaultOperator": BUILDER_DEFAULT_OPERATOR,
        "languageDefault": DEFAULT_OPERATOR,
        "noValueOperators": sorted(NO_VALUE_OPERATORS),
        "relativeOperators": sorted(RELATIVE_OPERATORS),
        "emailStatuses": list(EMAIL_STATUSES),
        "maxDepth": MAX_DEPTH,
    }


def _error(exc: ValidationFailed) -> dict[str, str]:
    return {"field": exc.field, "message": exc.reason}


def _render_builder(form: SegmentForm, segment: CustomerSegment | None,
                    definition_error: dict[str, str] | None = None) -> ResponseReturnValue:
    tenant_id = current_user.tenant_id
    if definition_error is None and form.conditions.errors:  # a hidden field: its message goes to the builder
        definition_error = {"field": "conditions", "message": form.conditions.errors[0]}
    status = 422 if (form.errors or definition_error) else 200
    return render_template("segments/builder.html", form=form, segment=segment, schema=builder_schema(),
                           definition_error=definition_error, known_tags=segments.known_tags(tenant_id),
                           known_events=segments.known_events(tenant_id),
                           activity_types=sorted(ACTIVITY_LABELS)), status


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
    return render_template("segments/index.html", page=page)


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
    template = "segments/_members.html" if htmx and not htmx.boosted else "segments/show.html"
    response = make_response(render_template(template, summary=describe_group(segment.conditions), **context))
    response.headers["Vary"] = "HX-Request"
    return response


@bp.post("/<int:segment_id>/recalculate")
@login_required
@write_required
def recalculate(segment_id: int):
    result = segments.calculate_segment(current_user.tenant_id, segment_id)
    if htmx:
        segment = segments.get_segment(current_user.tenant_id, segment_id)
        return render_template("segments/_row.html", segment=segment, result=result)
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


# --- the definition in words, for the segment page ---------------------------------------

def describe_group(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """[{"text": ...} | {"match": ..., "items": [...]}] for the template to render (escaped)."""
    items: list[dict[str, Any]] = []
    for raw in conditions if isinstance(conditions, list) else []:
        if isinstance(raw, dict) and "conditions" in raw:
            items.append({"match": raw.get("match", "all"), "items": describe_group(raw["conditions"])})
        elif isinstance(raw, dict):
            items.append({"text": describe_condition(raw)})
    return items


def _quoted(value: Any) -> str:
    return f"“{value}”"


def describe_condition(raw: dict[str, Any]) -> str:
    ctype = raw.get("type", "")
    op = raw.get("operator") or DEFAULT_OPERATOR.get(ctype, "")
    value = raw.get("value")
    label = TYPE_LABELS.get(ctype, str(ctype))
    op_label = OPERATOR_LABELS.get(op, str(op))
    if ctype == "tag":
        return f"{'Has' if op == 'has' else 'Does not have'} tag {_quoted(value)}"
    if op in NO_VALUE_OPERATORS:
        subject = f"Attribute {_quoted(raw.get('key'))}" if ctype == "attribute" else label
        return f"{subject} {op_label}"
    if op in RELATIVE_OPERATORS:
        return f"{label} {op_label} {value} days{' ago' if op == 'more_than_days_ago' else ''}"
    if op == "between" and isinstance(value, list) and len(value) == 2:
        return f"{label} between {value[0]} and {value[1]}"
    if ctype == "attribute":
        return f"Attribute {_quoted(raw.get('key'))} {op_label} {_quoted(value)}"
    if ctype == "activity":
        count = 1 if value is None else value
        text = f"Did {_quoted(raw.get('activity_type'))} {op_label} {count} time{'s' if count != 1 else ''}"
        if raw.get("within_last_days"):
            text += f" in the last {raw['within_last_days']} days"
        prop = raw.get("property")
        if isinstance(prop, dict):
            text += f" with {prop.get('key')} = {_quoted(prop.get('value'))}"
        return text
    if ctype == "purchased_event":
        which = {"id": "the event with id", "name": "the event", "name_contains": "an event whose name contains"}
        text = f"Bought tickets for {which.get(op, op_label)} {_quoted(value)}"
        if raw.get("from"):
            text += f" from {raw['from']}"
        if raw.get("to"):
            text += f" until {raw['to']}"
        return text
    if ctype == "email_engagement":
        text = op_label[0].upper() + op_label[1:]
        if raw.get("campaign_id") is not None:
            text += f" of campaign #{raw['campaign_id']}"
        if raw.get("within_last_days"):
            text += f" in the last {raw['within_last_days']} days"
        return text
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    elif ctype in ("email", "first_name", "last_name"):
        value = _quoted(value)
    return f"{label} {op_label} {value}"
