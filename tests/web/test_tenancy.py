"""Tenancy: tenant B's marketers reach none of tenant A's rows through any page route."""

from __future__ import annotations

from .conftest import HX, id_routes, snapshot


def test_id_routes_are_discovered():
    endpoints = {route.endpoint for route in id_routes()}

    # Fails loudly if discovery breaks; new routes with ids join the sweep by themselves.
    assert {"customers.show", "customers.timeline", "customers.add_note", "customers.add_tag",
            "customers.remove_tag", "customers.edit", "customers.delete",
            "settings.revoke_token"} <= endpoints


def test_marketer_routes_take_only_database_ids(id_route):
    # Another kind of argument (a token, a slug) needs its own tenancy check: add the route
    # to PUBLIC_TOKEN_ROUTES with tests of its own, or give the sweep a value for it.
    assert all(f"<int:{name}>" in id_route.rule for name in id_route.arguments), id_route


def test_other_tenants_ids_answer_404_and_change_nothing(owner_b, owner_a, world_a, form_data, id_route):
    url = id_route.url(world_a)
    data = None if id_route.method == "GET" else {**form_data(id_route), "csrf_token": owner_b.csrf()}
    before = snapshot()

    for headers in ({}, HX):
        response = owner_b.client.open(url, method=id_route.method, data=data, headers=headers)

        assert response.status_code == 404, f"{id_route} {headers}: {response.status_code}"
        assert snapshot() == before
    body = response.get_data(as_text=True)
    assert "Ada" not in body and "ada@example.com" not in body

    # The control: the same URL works for tenant A, so the 404 above was about the tenant.
    if id_route.method == "GET":
        assert owner_a.get(url).status_code == 200


def test_search_and_tag_filter_only_see_own_customers(owner_b, world_a, tenant_b):
    from .conftest import make_customer

    make_customer(tenant_b.id, "bob@bravo.example.com", first_name="Bob", tags=["vip"])

    for query in ("?q=ada", "?q=example", "?tag=vip", ""):
        html = owner_b.get(f"/customers/{query}").get_data(as_text=True)
        assert "ada@example.com" not in html, query
    assert "bob@bravo.example.com" in owner_b.get("/customers/?tag=vip").get_data(as_text=True)


def test_dashboard_only_counts_own_data(owner_b, world_a):
    html = owner_b.get("/dashboard").get_data(as_text=True)

    assert "Ada" not in html
    assert "No customers yet" in html
