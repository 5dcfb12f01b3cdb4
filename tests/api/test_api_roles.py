"""API tokens carry roles like people do: a viewer token reads and gets 403 on every write,
a marketer token gets 403 on the admin-only routes (sending domains), and a refused call
changes nothing. The sweep walks the registry, so new routes are covered by themselves."""

from __future__ import annotations

import pytest
from api_assertions import assert_error

from tests.conftest import ApiClient, TenantFixture
from tests.db_state import database_state
from webapp.api.registry import ENDPOINTS
from webapp.extensions import db
from webapp.models import Tenant
from webapp.services import tenants


def snapshot() -> dict[str, str]:
    return database_state()


def token_client(app, tenant_a, role: str) -> ApiClient:
    _, secret = tenants.create_api_token(db.session.get(Tenant, tenant_a.id), f"{role} token", role)
    client = ApiClient(app.test_client(), TenantFixture(tenant_a.id, secret, tenant_a.owner_email))
    assert client.get("/customers").status_code == 200  # used once: its last_used_at is set before the snapshot
    return client


def path_of(endpoint) -> str:
    path = endpoint.rule
    for name in ("customer_id", "segment_id", "campaign_id", "import_id", "workflow_id", "step_id", "domain_id",
                 "asset_id", "template_id", "topic_id", "form_id", "event_id", "entry_id", "endpoint_id",
                 "delivery_id"):
        path = path.replace(f"<int:{name}>", "1").replace(f"<{name}>", "1")
    assert "<" not in path, f"{endpoint.rule}: give the role sweep a value for its argument"
    return path


WRITES = [ep for ep in ENDPOINTS if ep.write and not ep.public]
ADMIN = [ep for ep in ENDPOINTS if ep.admin]


def test_the_sweep_sees_the_writes_and_the_admin_routes():
    assert len(WRITES) > 30
    assert {(ep.method, ep.rule) for ep in ADMIN} == {("POST", "/sending-domains"),
                                                      ("POST", "/sending-domains/<int:domain_id>/verify"),
                                                      ("DELETE", "/sending-domains/<int:domain_id>"),
                                                      ("PATCH", "/settings"),
                                                      ("GET", "/settings/provider-webhooks"),
                                                      ("PATCH", "/settings/provider-webhooks"),
                                                      ("POST", "/settings/provider-webhooks/new-key"),
                                                      # Outbound webhooks carry signing secrets and
                                                      # customer data to outside URLs: admins only.
                                                      ("GET", "/webhook-endpoints"),
                                                      ("POST", "/webhook-endpoints"),
                                                      ("PATCH", "/webhook-endpoints/<int:endpoint_id>"),
                                                      ("DELETE", "/webhook-endpoints/<int:endpoint_id>"),
                                                      ("GET", "/webhook-endpoints/<int:endpoint_id>/deliveries"),
                                                      ("POST", "/webhook-endpoints/<int:endpoint_id>/deliveries/"
                                                               "<int:delivery_id>/resend")}


@pytest.mark.parametrize("endpoint", WRITES, ids=lambda ep: f"{ep.method} {ep.rule}")
def test_a_viewer_token_gets_403_on_every_write(app, tenant_a, endpoint):
    viewer = token_client(app, tenant_a, "viewer")
    before = snapshot()

    response = viewer._call(endpoint.method, path_of(endpoint), json={})

    assert_error(response, 403, code="forbidden")
    assert snapshot() == before


@pytest.mark.parametrize("endpoint", ADMIN, ids=lambda ep: f"{ep.method} {ep.rule}")
def test_a_marketer_token_gets_403_on_admin_routes(app, tenant_a, endpoint):
    marketer = token_client(app, tenant_a, "marketer")
    before = snapshot()

    response = marketer._call(endpoint.method, path_of(endpoint), json={"domain": "mail.arena.example.com"})

    assert_error(response, 403, code="forbidden")
    assert "admin token" in response.get_json()["error"]["message"]
    assert snapshot() == before


def test_a_marketer_token_works_with_customers_and_reads_sending_domains(app, tenant_a):
    marketer = token_client(app, tenant_a, "marketer")

    assert marketer.post("/customers", json={"email": "fan@example.com"}).status_code == 201
    assert marketer.get("/sending-domains").status_code == 200


def test_an_admin_token_may_add_a_sending_domain(api):
    assert api.post("/sending-domains", json={"domain": "mail.arena.example.com"}).status_code == 201


def test_the_openapi_document_lists_403_for_admin_routes(api):
    document = api.get("/openapi.json").get_json()

    assert "403" in document["paths"]["/api/crm/sending-domains"]["post"]["responses"]
