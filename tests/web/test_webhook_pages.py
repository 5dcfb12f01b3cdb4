"""Settings › Webhooks: add an endpoint and see its secret once, reveal it again (audited),
refusals beside their field, the delivery log in the tenant's time with Resend, disable and
delete; admins only, another tenant's endpoints a 404."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import AuditEvent, Tenant, WebhookDelivery, WebhookEndpoint
from webapp.services import webhooks

from .pages import field_errors

GOOD = {"url": "https://hooks.example.com/crm", "description": "Warehouse",
        "event_types": ["customer.created", "email.clicked"]}


def _secret(html: str) -> str | None:
    match = re.search(r'data-testid="webhook-secret">(whsec_[^<]+)<', html)
    return match.group(1) if match else None


def test_an_empty_list_says_what_to_do(owner_a):
    html = owner_a.get("/settings/webhooks").get_data(as_text=True)
    assert "No endpoints yet" in html and "Add an endpoint" in html
    assert "A link in an email is clicked" in html  # events in plain words


def test_adding_an_endpoint_shows_its_secret_once(owner_a, tenant_a):
    response = owner_a.post("/settings/webhooks", GOOD)

    assert response.status_code == 200
    secret = _secret(response.get_data(as_text=True))
    endpoint = db.session.scalar(select(WebhookEndpoint))
    assert secret == webhooks.secret_of(endpoint)
    assert endpoint.event_types == ["customer.created", "email.clicked"] and endpoint.description == "Warehouse"
    for path in ("/settings/webhooks", f"/settings/webhooks/{endpoint.id}"):
        assert secret not in owner_a.get(path).get_data(as_text=True)

    revealed = owner_a.hx_post(f"/settings/webhooks/{endpoint.id}/reveal")
    assert _secret(revealed.get_data(as_text=True)) == secret
    assert revealed.headers["Cache-Control"] == "no-store"
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["webhook_endpoint.created", "webhook_endpoint.secret_revealed"]


def test_refusals_show_beside_their_field_and_save_nothing(owner_a):
    for data, name, words in [({**GOOD, "url": "ftp://hooks.example.com"}, "url", "https"),
                              ({**GOOD, "url": "http://hooks.example.com/in"}, "url", "allowlist"),
                              ({**GOOD, "event_types": []}, "event_types", "at least one"),
                              ({**GOOD, "event_types": ["customer.deleted"]}, "event_types", "")]:
        response = owner_a.post("/settings/webhooks", data)
        assert response.status_code == 422, data
        assert words in " ".join(field_errors(response.get_data(as_text=True))[name]), data
    assert db.session.scalar(select(WebhookEndpoint.id)) is None


def test_the_delivery_log_shows_tenant_times_errors_and_resends(owner_a, tenant_a):
    db.session.get(Tenant, tenant_a.id).timezone = "America/New_York"
    endpoint, _ = webhooks.create_endpoint(tenant_a.id, {"url": "https://hooks.example.com/in",
                                                         "event_types": ["email.sent"]})
    webhooks.emit(tenant_a.id, "email.sent", {"n": 1})
    db.session.execute(WebhookDelivery.__table__.update().values(
        status="failed", attempts=8, last_status_code=503, last_response_ms=1234,
        last_error="HTTP 503 Service Unavailable"))
    db.session.commit()
    delivery = db.session.scalar(select(WebhookDelivery))

    html = owner_a.get(f"/settings/webhooks/{endpoint.id}").get_data(as_text=True)
    assert "HTTP 503 Service Unavailable" in html and "1,234 ms" in html and "An email is sent" in html
    local = delivery.created_at.astimezone(ZoneInfo("America/New_York"))
    assert local.strftime("%H:%M") in html and "Times in America/New_York" in html

    response = owner_a.post(f"/settings/webhooks/{endpoint.id}/deliveries/{delivery.id}/resend")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(WebhookDelivery, delivery.id).status == "pending"


def test_disable_enable_and_delete(owner_a, tenant_a):
    endpoint, _ = webhooks.create_endpoint(tenant_a.id, GOOD)

    owner_a.post(f"/settings/webhooks/{endpoint.id}/enabled", {"enabled": "0"})
    db.session.expire_all()
    assert not db.session.get(WebhookEndpoint, endpoint.id).enabled
    assert "Disabled" in owner_a.get("/settings/webhooks").get_data(as_text=True)
    owner_a.post(f"/settings/webhooks/{endpoint.id}/enabled", {"enabled": "1"})
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, endpoint.id).enabled

    assert owner_a.post(f"/settings/webhooks/{endpoint.id}/delete").status_code == 302
    db.session.expunge_all()
    assert db.session.scalar(select(WebhookEndpoint.id)) is None


def test_marketers_and_other_tenants_cannot_reach_an_endpoint(owner_b, marketer_a, tenant_a):
    endpoint, _ = webhooks.create_endpoint(tenant_a.id, GOOD)
    base = f"/settings/webhooks/{endpoint.id}"

    assert marketer_a.get("/settings/webhooks").status_code == 403
    assert owner_b.get(base).status_code == 404
    for path in (base, f"{base}/reveal", f"{base}/enabled", f"{base}/delete"):
        assert owner_b.post(path, {"enabled": "0", **GOOD}).status_code == 404, path
    assert "whsec_" not in owner_b.post(f"{base}/reveal").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, endpoint.id).enabled
