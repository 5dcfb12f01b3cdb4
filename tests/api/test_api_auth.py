"""Bearer tokens: required, checked, revocable, read-only for viewers, never the session cookie."""

from __future__ import annotations

from api_assertions import assert_error
from sqlalchemy import select

from webapp.api.registry import PUBLIC_ENDPOINTS
from webapp.extensions import db
from webapp.models import ApiToken, Customer, Tenant
from webapp.services.tenants import create_api_token, hash_token, revoke_api_token


def tenant(tenant_id: int) -> Tenant:
    return db.session.get(Tenant, tenant_id)


def default_token(tenant_fixture) -> ApiToken:
    return db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(tenant_fixture.token)))


def test_a_request_without_a_token_is_a_401_json_error(client, tenant_a):
    response = client.get("/api/crm/customers")
    assert_error(response, 401, code="unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_malformed_authorization_headers_are_a_401(client, tenant_a):
    for header in ["", "Bearer", "Bearer ", f"Basic {tenant_a.token}", tenant_a.token, f"Token {tenant_a.token}"]:
        assert_error(client.get("/api/crm/customers", headers={"Authorization": header}), 401)


def test_a_wrong_token_is_a_401(client, tenant_a):
    assert_error(client.get("/api/crm/customers", headers={"Authorization": "Bearer crm_not-a-real-token"}), 401)
    assert_error(client.get("/api/crm/customers", headers={"Authorization": f"Bearer {tenant_a.token}x"}), 401)


def test_the_bearer_scheme_is_case_insensitive(client, tenant_a):
    assert client.get("/api/crm/customers", headers={"Authorization": f"bearer {tenant_a.token}"}).status_code == 200


def test_a_revoked_token_is_a_401_and_other_tokens_keep_working(client, tenant_a):
    _, spare = create_api_token(tenant(tenant_a.id), "Spare")
    assert client.get("/api/crm/customers", headers=tenant_a.headers).status_code == 200

    revoke_api_token(tenant(tenant_a.id), default_token(tenant_a).id)

    assert_error(client.get("/api/crm/customers", headers=tenant_a.headers), 401, code="unauthorized")
    assert_error(client.post("/api/crm/customers", json={"email": "a@x.com"}, headers=tenant_a.headers), 401)
    assert client.get("/api/crm/customers", headers={"Authorization": f"Bearer {spare}"}).status_code == 200
    assert db.session.scalar(select(Customer)) is None


def test_unauthenticated_writes_are_refused_before_validation(client, tenant_a):
    # No token: 401 even when the body is broken, and nothing is stored.
    assert_error(client.post("/api/crm/customers", data="{broken", content_type="application/json"), 401)
    assert_error(client.post("/api/crm/customers", json={"email": "a@x.com"}), 401)
    assert db.session.scalar(select(Customer)) is None


def test_a_viewer_token_can_read(client, api, tenant_a):
    customer = api.post("/customers", json={"email": "ann@x.com"}).get_json()
    _, secret = create_api_token(tenant(tenant_a.id), "Dashboard", "viewer")
    viewer = {"Authorization": f"Bearer {secret}"}

    assert client.get("/api/crm/customers", headers=viewer).status_code == 200
    assert client.get(f"/api/crm/customers/{customer['id']}", headers=viewer).get_json() == customer
    assert client.get(f"/api/crm/customers/{customer['id']}/timeline", headers=viewer).status_code == 200


def test_a_viewer_token_gets_403_on_every_write_and_changes_nothing(client, api, tenant_a):
    customer = api.post("/customers", json={"email": "ann@x.com", "first_name": "Ann"}).get_json()
    _, secret = create_api_token(tenant(tenant_a.id), "Dashboard", "viewer")
    viewer = {"Authorization": f"Bearer {secret}"}
    path = f"/api/crm/customers/{customer['id']}"

    assert_error(client.post("/api/crm/customers", json={"email": "new@x.com"}, headers=viewer), 403, code="forbidden")
    assert_error(client.patch(path, json={"first_name": "Eve"}, headers=viewer), 403)
    assert_error(client.delete(path, headers=viewer), 403)
    assert_error(client.post("/api/crm/activities", json={"customer_id": customer["id"], "type": "purchase",
                                                          "properties": {"order_total": 5}}, headers=viewer), 403)

    assert api.get(f"/customers/{customer['id']}").get_json() == customer
    assert api.get(f"/customers/{customer['id']}/timeline").get_json()["data"] == []
    assert [c["id"] for c in api.get("/customers").get_json()["data"]] == [customer["id"]]


def test_every_write_route_refuses_a_viewer(app, client, tenant_a):
    _, secret = create_api_token(tenant(tenant_a.id), "Dashboard", "viewer")
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/crm") or rule.endpoint in PUBLIC_ENDPOINTS:
            continue  # public routes (relay webhooks) take no token: they prove themselves otherwise
        for method in (rule.methods or set()) - {"GET", "HEAD", "OPTIONS"}:
            path = rule.rule
            for name in rule.arguments:
                path = path.replace(f"<int:{name}>", "1")
            response = client.open(path, method=method, json={}, headers={"Authorization": f"Bearer {secret}"})
            assert response.status_code == 403, (method, rule.rule, response.status_code)


def test_the_api_ignores_a_logged_in_session_cookie(client, auth, tenant_a):
    assert auth.login(tenant_a.owner_email).status_code == 302
    assert client.get("/dashboard").status_code == 200  # the session works for pages

    assert_error(client.get("/api/crm/customers"), 401)
    assert_error(client.post("/api/crm/customers", json={"email": "a@x.com"}), 401)
    assert db.session.scalar(select(Customer)) is None


def test_a_valid_token_with_a_session_cookie_of_another_tenant_acts_for_the_token(client, auth, tenant_a, tenant_b):
    auth.login(tenant_b.owner_email)
    created = client.post("/api/crm/customers", json={"email": "a@x.com"}, headers=tenant_a.headers)
    assert created.status_code == 201
    assert db.session.get(Customer, created.get_json()["id"]).tenant_id == tenant_a.id


def test_using_a_token_sets_last_used_at(client, tenant_a):
    assert default_token(tenant_a).last_used_at is None

    client.get("/api/crm/customers", headers=tenant_a.headers)

    db.session.expire_all()
    token = default_token(tenant_a)
    assert token.last_used_at is not None
    assert token.last_used_at >= token.created_at


def test_a_failed_request_does_not_mark_another_token_used(client, tenant_a):
    client.get("/api/crm/customers", headers={"Authorization": "Bearer crm_wrong"})
    db.session.expire_all()
    assert default_token(tenant_a).last_used_at is None


def test_tokens_are_stored_hashed(tenant_a):
    _, viewer_secret = create_api_token(tenant(tenant_a.id), "Viewer", "viewer")
    rows = db.session.execute(select(ApiToken.__table__)).all()

    assert len(rows) == 2
    dump = repr([tuple(row) for row in rows])
    for secret in (tenant_a.token, viewer_secret):
        assert secret not in dump
        assert secret[len("crm_"):] not in dump
        assert secret[10:30] not in dump
    assert {row.token_hash for row in rows} == {hash_token(tenant_a.token), hash_token(viewer_secret)}
