"""Public pages reached from emails: the preference centre an unsubscribe link opens (a GET
only shows it; saving is a CSRF-protected POST), RFC 8058 one-click, and view in browser."""

from __future__ import annotations

from flask import Blueprint, abort, make_response, render_template, request
from flask_wtf import FlaskForm

from webapp.extensions import csrf, db
from webapp.infra.errors import NotFound
from webapp.mail.templating import RenderFailed
from webapp.models import AutomationEnrollment, Customer, EmailCampaign, Tenant
from webapp.services import campaigns, preferences
from webapp.services.consent import Evidence
from webapp.services.preferences import ONE_CLICK_WORDING, Preferences, choices_wording, mask_email

bp = Blueprint("unsubscribe", __name__)


class PreferencesForm(FlaskForm):
    """Only the CSRF token: the topics are read from the form's checkboxes."""


def _evidence(source: str, wording: str, prefs: Preferences) -> Evidence:
    return Evidence(source, wording=wording, ip_address=request.remote_addr,
                    user_agent=request.headers.get("User-Agent"), context=f"email: {prefs.campaign.name}")


def _page(prefs: Preferences, *, saved: str | None = None, status: int = 200):
    response = make_response(render_template(
        "unsubscribe/preferences.html", prefs=prefs, token=prefs.recipient.token, tenant=prefs.tenant,
        masked=mask_email(prefs.customer.email), form=PreferencesForm(), saved=saved), status)
    # The token is in the address: no page it links to should learn it.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _invalid():
    return render_template("unsubscribe/invalid.html"), 404


@bp.get("/u/<token>")
def confirm(token: str):
    """A GET never changes anything: link scanners follow every link in a message."""
    try:
        return _page(preferences.preferences_for(token))
    except NotFound:
        return _invalid()


@bp.post("/u/<token>/preferences")
def save(token: str):
    try:
        prefs = preferences.preferences_for(token)
    except NotFound:
        return _invalid()
    if not PreferencesForm().validate_on_submit():
        return _page(prefs, saved="expired", status=400)
    evidence = _evidence("preference_centre", choices_wording(prefs), prefs)
    action = request.form.get("action")
    if action == "unsubscribe_all":
        prefs = preferences.unsubscribe_everything(token, evidence)
        return _page(prefs, saved="unsubscribed")
    chosen = {int(v) for v in request.form.getlist("topics") if v.isascii() and v.isdigit() and len(v) < 12}
    prefs = preferences.save_choices(token, chosen, evidence, resubscribe=action == "resubscribe")
    return _page(prefs, saved="resubscribed" if action == "resubscribe" and prefs.subscribed else "saved")


@bp.post("/u/<token>")
@csrf.exempt  # one-click unsubscribe (RFC 8058) comes from mail providers, with no cookie or CSRF token
def unsubscribe(token: str):
    """One-click: leaves the campaign's topic, or all marketing when it has none."""
    try:
        prefs = preferences.preferences_for(token)
    except NotFound:
        return _invalid()
    prefs = preferences.one_click(token, _evidence("unsubscribe_link", ONE_CLICK_WORDING, prefs))
    topic = prefs.campaign_topic
    return render_template("unsubscribe/done.html", tenant=prefs.tenant, email=mask_email(prefs.customer.email),
                           topic=topic, token=token)


@bp.get("/v/<token>")
def view_in_browser(token: str):
    recipient = campaigns.recipient_by_token(token)
    if recipient is None:
        abort(404)
    campaign = db.session.get(EmailCampaign, recipient.campaign_id)
    tenant = db.session.get(Tenant, recipient.tenant_id)
    customer = db.session.get(Customer, recipient.customer_id)
    extra = None
    if recipient.enrollment_id:  # a workflow's email: rendered with its trigger, as it was sent
        enrollment = db.session.get(AutomationEnrollment, recipient.enrollment_id)
        extra = {"trigger": dict(enrollment.trigger_payload or {})} if enrollment is not None else None
    try:
        composed = campaigns.render_for(campaign, tenant, customer, to=recipient.email, token=recipient.token,
                                        extra=extra)
    except RenderFailed:  # the customer's data changed since the send: nothing to show, not a crash
        abort(404)
    response = make_response(composed.html)
    # The message is marketer content: no script runs, and it cannot reach the app.
    response.headers["Content-Security-Policy"] = "sandbox; script-src 'none'"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
