"""Public pages reached from emails: unsubscribe (confirm, then POST) and view in browser."""

from __future__ import annotations

from flask import Blueprint, abort, make_response, render_template

from webapp.extensions import csrf, db
from webapp.infra.errors import NotFound
from webapp.mail.templating import RenderFailed
from webapp.models import AutomationEnrollment, Customer, EmailCampaign, Tenant
from webapp.services import campaigns

bp = Blueprint("unsubscribe", __name__)


@bp.get("/u/<token>")
def confirm(token: str):
    """A GET never unsubscribes: link scanners follow every link in a message."""
    recipient = campaigns.recipient_by_token(token)
    if recipient is None:
        return render_template("unsubscribe/invalid.html"), 404
    tenant = db.session.get(Tenant, recipient.tenant_id)
    customer = db.session.get(Customer, recipient.customer_id)
    response = make_response(render_template("unsubscribe/confirm.html", token=token, tenant=tenant,
                                              email=recipient.email,
                                              already=customer is not None and customer.email_status != "subscribed"))
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.post("/u/<token>")
@csrf.exempt  # one-click unsubscribe (RFC 8058) comes from mail providers, with no cookie or CSRF token
def unsubscribe(token: str):
    try:
        recipient = campaigns.unsubscribe(token)
    except NotFound:
        return render_template("unsubscribe/invalid.html"), 404
    tenant = db.session.get(Tenant, recipient.tenant_id)
    return render_template("unsubscribe/done.html", tenant=tenant, email=recipient.email)


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
