"""Settings › Webhooks: the URLs events are sent to, their delivery log, resend, and the
signing secret (shown once when made, then only by an explicit, audited reveal)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from webapp.infra.errors import Conflict
from webapp.services import webhooks
from webapp.services.audit import Target
from webapp.web.access import admin_required
from webapp.web.audit import note
from webapp.web.forms import Form, run_form
from webapp.web.webhook_forms import WebhookEndpointForm

bp = Blueprint("webhook_endpoints", __name__, url_prefix="/settings/webhooks")
PAGE_SIZE = 25


def _target(endpoint) -> Target:
    return Target("webhook_endpoint", endpoint.id, endpoint.url[:200])


def _index(form: WebhookEndpointForm | None = None, status: int = 200):
    tenant_id = current_user.tenant_id
    return render_template("settings/webhooks.html", endpoints=webhooks.tenant_endpoints(tenant_id),
                           health=webhooks.endpoint_health(tenant_id), labels=webhooks.EVENT_LABELS,
                           form=form or WebhookEndpointForm(formdata=None, data={"event_types": []})), status


def _endpoint_page(endpoint, form: WebhookEndpointForm | None = None, *, secret: str | None = None,
                   status: int = 200):
    tenant_id = current_user.tenant_id
    cursor = request.args.get("cursor")
    page = webhooks.deliveries_page(tenant_id, endpoint.id, limit=PAGE_SIZE, cursor=cursor)
    form = form or WebhookEndpointForm(formdata=None, data={
        "url": endpoint.url, "description": endpoint.description, "event_types": list(endpoint.event_types)})
    template = "settings/_webhook_deliveries.html" if request.headers.get("HX-Request") and cursor \
        else "settings/webhook_endpoint.html"
    response = render_template(template, endpoint=endpoint, form=form, page=page, secret=secret,
                               attempts=webhooks.attempts_of(tenant_id, [d.id for d in page.items]),
                               health=webhooks.endpoint_health(tenant_id).get(endpoint.id),
                               labels=webhooks.EVENT_LABELS,
                               keep_days="%g" % (webhooks.keep_for().total_seconds() / 86400))
    return response, status, {"Vary": "HX-Request"}


@bp.get("")
@login_required
@admin_required
def index():
    return _index()


@bp.post("")
@login_required
@admin_required
def create():
    form = WebhookEndpointForm()
    made = run_form(form, lambda: webhooks.create_endpoint(current_user.tenant_id, form.values()))
    if made is None:
        return _index(form, 422)
    endpoint, secret = made
    note("webhook_endpoint.created", _target(endpoint))
    # Rendered, not redirected: the secret is shown this once and kept nowhere else in the clear.
    return _endpoint_page(endpoint, secret=secret)


@bp.get("/<int:endpoint_id>")
@login_required
@admin_required
def show(endpoint_id: int):
    return _endpoint_page(webhooks.tenant_endpoint(current_user.tenant_id, endpoint_id))


@bp.post("/<int:endpoint_id>")
@login_required
@admin_required
def update(endpoint_id: int):
    endpoint = webhooks.tenant_endpoint(current_user.tenant_id, endpoint_id)
    form = WebhookEndpointForm()
    if run_form(form, lambda: webhooks.update_endpoint(current_user.tenant_id, endpoint.id, form.values())) is None:
        return _endpoint_page(endpoint, form, status=422)
    note("webhook_endpoint.changed", _target(endpoint))
    flash("Endpoint saved.", "success")
    return redirect(url_for("webhook_endpoints.show", endpoint_id=endpoint.id))


@bp.post("/<int:endpoint_id>/enabled")
@login_required
@admin_required
def set_enabled(endpoint_id: int):
    endpoint = webhooks.tenant_endpoint(current_user.tenant_id, endpoint_id)
    if Form().validate_on_submit():
        on = request.form.get("enabled") == "1"
        webhooks.update_endpoint(current_user.tenant_id, endpoint.id, {"enabled": on})
        note("webhook_endpoint.changed", _target(endpoint))
        flash("Endpoint enabled: new events are sent to it again." if on
              else "Endpoint disabled: no events are sent to it until you enable it.", "success")
    return redirect(url_for("webhook_endpoints.show", endpoint_id=endpoint.id))


@bp.post("/<int:endpoint_id>/delete")
@login_required
@admin_required
def delete(endpoint_id: int):
    endpoint = webhooks.tenant_endpoint(current_user.tenant_id, endpoint_id)
    if Form().validate_on_submit():
        target = _target(endpoint)
        webhooks.delete_endpoint(current_user.tenant_id, endpoint.id)
        note("webhook_endpoint.deleted", target)
        flash("Endpoint deleted, with its delivery log.", "success")
    return redirect(url_for("webhook_endpoints.index"))


@bp.post("/<int:endpoint_id>/reveal")
@login_required
@admin_required
def reveal(endpoint_id: int):
    endpoint = webhooks.tenant_endpoint(current_user.tenant_id, endpoint_id)
    if not Form().validate_on_submit():
        return redirect(url_for("webhook_endpoints.show", endpoint_id=endpoint.id))
    secret = webhooks.secret_of(endpoint)
    note("webhook_endpoint.secret_revealed", _target(endpoint))
    if request.headers.get("HX-Request"):
        return render_template("settings/_webhook_secret.html", secret=secret, endpoint=endpoint), 200, \
            {"Vary": "HX-Request", "Cache-Control": "no-store"}
    response, status, headers = _endpoint_page(endpoint, secret=secret)
    return response, status, {**headers, "Cache-Control": "no-store"}


@bp.post("/<int:endpoint_id>/deliveries/<int:delivery_id>/resend")
@login_required
@admin_required
def resend(endpoint_id: int, delivery_id: int):
    endpoint = webhooks.tenant_endpoint(current_user.tenant_id, endpoint_id)
    if Form().validate_on_submit():
        try:
            webhooks.resend(current_user.tenant_id, endpoint.id, delivery_id)
        except Conflict as exc:
            flash(f"Not resent: {exc.message}.", "error")
        else:
            flash("Queued to send again, with the same webhook-id.", "success")
    return redirect(url_for("webhook_endpoints.show", endpoint_id=endpoint.id))
