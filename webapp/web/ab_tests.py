"""A campaign's A/B test in the editor: 2 to 4 variants (subject, preheader, sender name,
content as HTML; empty = the campaign's own), the share of people in the test, how long it
runs and what decides the winner. Adding (a copy of A) and removing a variant are buttons
of the same form, so nothing typed is lost and it works without JavaScript."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict

from webapp.infra.errors import ValidationFailed
from webapp.models import EmailCampaign
from webapp.services import campaigns
from webapp.services.campaigns.variants import DEFAULT_TEST, LETTERS, MAX_VARIANTS, plan_in_words, variants_of
from webapp.web.ab_forms import AbTestForm
from webapp.web.access import write_required
from webapp.web.forms import apply_domain_error

bp = Blueprint("ab_tests", __name__, url_prefix="/campaigns")
FORM_FIELDS = ("subject", "preheader", "from_name", "html_content")


def _saved_form(campaign: EmailCampaign) -> AbTestForm:
    """The saved test, or a new one: A as the campaign is, B to write."""
    rows = [{key: getattr(v, key) or "" for key in FORM_FIELDS} for v in variants_of(campaign.id)]
    if not rows:
        rows = [{"subject": campaign.subject, "preheader": "", "from_name": "", "html_content": ""},
                {"subject": "", "preheader": "", "from_name": "", "html_content": ""}]
    return AbTestForm(formdata=None, data={
        "share_percent": campaign.ab_share_percent or DEFAULT_TEST["share_percent"],
        "duration_minutes": campaign.ab_duration_minutes or DEFAULT_TEST["duration_minutes"],
        "metric": campaign.ab_metric or DEFAULT_TEST["metric"], "variants": rows})


def _changed_rows(form: AbTestForm, action: str) -> AbTestForm:
    """The posted form with a variant added (a copy of A) or removed; nothing else changes."""
    rows = [entry.data for entry in form.variants.entries]
    if action == "add" and len(rows) < MAX_VARIANTS:
        rows.append(dict(rows[0]))
    elif action.startswith("remove-") and action[7:].isdigit() and len(rows) > 2:
        del rows[int(action[7:])]
    data: MultiDict = MultiDict([(k, v) for k, v in request.form.items(multi=True) if not k.startswith("variants-")])
    for i, row in enumerate(rows):
        for key in FORM_FIELDS:
            data[f"variants-{i}-{key}"] = row.get(key) or ""
    return AbTestForm(formdata=data)


def _values(form: AbTestForm) -> dict[str, Any]:
    variants = [{key: (entry.data.get(key) or "").strip() or None for key in FORM_FIELDS}
                for entry in form.variants.entries]
    return {"variants": variants, "ab_test": {"share_percent": form.share_percent.data,
                                              "duration_minutes": form.duration_minutes.data,
                                              "metric": form.metric.data}}


def _show_error(form: AbTestForm, exc: ValidationFailed) -> None:
    field = exc.field
    if field.startswith("variants[") and "]." in field:
        index, name = field[len("variants["):].split("].", 1)
        name = "html_content" if name in ("content", "design") else name
        if index.isdigit() and int(index) < len(form.variants.entries) and name in FORM_FIELDS:
            target = form.variants.entries[int(index)].form[name]
            target.errors = [*target.errors, exc.reason]
            return
    apply_domain_error(form, field.removeprefix("ab_test."), exc.reason)


def _page(form: AbTestForm, campaign: EmailCampaign, status: int = 200) -> ResponseReturnValue:
    audience = campaigns.segment_audience(current_user.tenant_id, campaign.segment_id) if campaign.segment_id else None
    has_test = campaign.ab_share_percent is not None
    return render_template("campaigns/ab_test.html", form=form, campaign=campaign, letters=LETTERS,
                           audience=audience, tenant=current_user.tenant,
                           plan=plan_in_words(campaign, audience) if has_test and audience else None,
                           has_test=has_test), status


@bp.route("/<int:campaign_id>/ab-test", methods=["GET", "POST"])
@login_required
@write_required
def edit(campaign_id: int) -> ResponseReturnValue:
    campaign = campaigns.get_campaign(current_user.tenant_id, campaign_id)
    if campaign.status not in campaigns.EDITABLE:
        flash(f"This campaign is {campaign.status}: its A/B test can no longer change.", "error")
        return redirect(url_for("campaigns.show", campaign_id=campaign.id))
    if request.method == "GET":
        return _page(_saved_form(campaign), campaign)
    # Every POST carries the CSRF token (CSRFProtect checks it before this runs).
    form = AbTestForm()
    action = request.form.get("action", "save")
    if action == "delete":
        campaigns.update_campaign(current_user.tenant_id, campaign.id, {"variants": None, "ab_test": None})
        flash("A/B test removed: everyone gets the campaign as it is.", "success")
        return redirect(url_for("campaigns.edit", campaign_id=campaign.id))
    if action != "save":  # add or remove a variant: the page again, with what was typed
        return _page(_changed_rows(form, action), campaign)
    if not form.validate_on_submit():
        return _page(form, campaign, 422)
    try:
        campaigns.update_campaign(current_user.tenant_id, campaign.id, _values(form))
    except ValidationFailed as exc:
        _show_error(form, exc)
        return _page(form, campaign, 422)
    flash("A/B test saved. The send page says who gets which variant.", "success")
    return redirect(url_for("ab_tests.edit", campaign_id=campaign.id))

