"""Routes declared read_only (a customer, the customers list, a timeline) run without a
transaction on PostgreSQL: no BEGIN, no closing ROLLBACK. Every other route keeps its
transaction, and a connection goes back to the pool transactional again."""

from __future__ import annotations

import pytest
from flask import request_finished

from webapp.api.blueprint import bp
from webapp.api.registry import ENDPOINTS, READ_ONLY_ENDPOINTS, api_route
from webapp.extensions import db


def _autocommit() -> bool:
    return db.session.connection().connection.driver_connection.autocommit


def _seen_during(app, client, method: str, path: str, headers: dict, **kwargs) -> tuple[int, bool]:
    """(status, whether the request's connection was in autocommit when it answered)."""
    seen: list[bool] = []

    def note(sender, response, **extra):
        seen.append(_autocommit())

    db.session.remove()  # the request starts with no transaction, as each does in production
    with request_finished.connected_to(note, app):
        response = getattr(client, method)(path, headers=headers, **kwargs)
    db.session.remove()
    return response.status_code, seen[0]


def test_the_read_only_routes_are_the_hot_reads():
    assert READ_ONLY_ENDPOINTS == {"api.get_customer", "api.list_customers", "api.customer_timeline"}
    assert all(e.method == "GET" for e in ENDPOINTS if e.read_only)


def test_only_a_get_can_be_declared_read_only():
    with pytest.raises(ValueError, match="only a GET"):
        api_route(bp, "/never", "POST", summary="x", tag="x", read_only=True)
    assert not any(e.rule == "/never" for e in ENDPOINTS)


def test_reads_run_in_autocommit_and_the_rest_in_a_transaction_on_postgresql(app, client, tenant_a, api):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps its transactions: the round trips saved are PostgreSQL's")
    customer = api.post("/customers", json={"email": "ada@example.com"}).get_json()["id"]
    headers = tenant_a.headers

    for path in ("/api/crm/customers", f"/api/crm/customers/{customer}", f"/api/crm/customers/{customer}/timeline"):
        assert _seen_during(app, client, "get", path, headers) == (200, True), path
    # A GET that is not declared read_only, and a write.
    assert _seen_during(app, client, "get", "/api/crm/segments", headers) == (200, False)
    status, _ = _seen_during(app, client, "patch", f"/api/crm/customers/{customer}", headers,
                             json={"first_name": "Ada"})
    assert status == 200
    # Back in the pool, the connection is transactional again.
    assert _autocommit() is False
    db.session.rollback()


def test_a_read_only_route_still_answers_404_for_another_tenants_customer(client, tenant_a, tenant_b, api_b):
    theirs = api_b.post("/customers", json={"email": "bo@example.com"}).get_json()["id"]
    db.session.remove()
    for path in (f"/api/crm/customers/{theirs}", f"/api/crm/customers/{theirs}/timeline"):
        assert client.get(path, headers=tenant_a.headers).status_code == 404
