"""CSRF: every state-changing page route refuses a missing or wrong token and changes
nothing; HTMX requests carry the token in a header set once on <body>."""

from __future__ import annotations

import re

from .conftest import CHANGE_NOTHING, HX, VALID_FORM_DATA, snapshot, state_changing_routes


def test_every_state_changing_route_has_form_data():
    endpoints = {route.endpoint for route in state_changing_routes()}

    assert endpoints, "no state-changing routes found: route discovery is broken"
    assert endpoints <= set(VALID_FORM_DATA), f"add form data for {endpoints - set(VALID_FORM_DATA)}"


def test_state_changing_route_refuses_a_missing_or_wrong_token(owner_a, world_a, form_data, state_changing_route):
    real = owner_a.csrf()
    tampered = real[:-4] + ("BBBB" if real.endswith("AAAA") else "AAAA")
    before = snapshot()

    for token in (None, "", "not-a-token", tampered):
        data = form_data(state_changing_route)
        if token is not None:
            data["csrf_token"] = token
        response = owner_a.client.open(state_changing_route.url(world_a), method=state_changing_route.method,
                                       data=data)

        assert response.status_code == 400, f"token {token!r}: {response.status_code}"
        assert "form expired" in response.get_data(as_text=True)
        assert snapshot() == before, f"token {token!r} changed the database"
    assert owner_a.get("/dashboard").status_code == 200  # the session survived too


def test_a_token_from_another_session_is_refused(owner_a, login, tenant_a, world_a):
    other = login(tenant_a.owner_email)
    before = snapshot()

    response = owner_a.post(f"/customers/{world_a['customer_id']}/notes",
                            {"text": "Hello", "csrf_token": other.csrf()})

    assert response.status_code == 400
    assert snapshot() == before


def test_state_changing_route_accepts_the_right_token(owner_a, world_a, form_data, state_changing_route):
    """The control for the test above: the same request with the token is not refused."""
    before = snapshot()

    response = owner_a.client.open(state_changing_route.url(world_a), method=state_changing_route.method,
                                   data={**form_data(state_changing_route), "csrf_token": owner_a.csrf()})

    assert response.status_code in (200, 302)
    if state_changing_route.endpoint not in CHANGE_NOTHING:
        assert snapshot() != before, f"{state_changing_route} changed nothing with valid data"


def test_body_carries_the_token_for_htmx(owner_a):
    html = owner_a.get("/customers/").get_data(as_text=True)

    body = re.search(r"<body[^>]*>", html).group(0)
    match = re.search(r"""hx-headers='\{"X-CSRFToken": "([^"]+)"\}'""", body)
    assert match, body
    # Tokens are signed with a timestamp: compare with the form token of the same
    # response (a second request can cross a second boundary and sign differently).
    form_token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert form_token, "no form token on the page to compare with"
    assert match.group(1) == form_token.group(1)


def test_htmx_post_with_the_token_only_in_the_header_succeeds(owner_a, world_a):
    customer_id = world_a["customer_id"]

    response = owner_a.hx_post(f"/customers/{customer_id}/notes", {"text": "Sent by htmx"})

    assert response.status_code == 200
    assert "Sent by htmx" in response.get_data(as_text=True)


def test_htmx_post_without_the_header_is_refused(owner_a, world_a):
    before = snapshot()

    response = owner_a.client.post(f"/customers/{world_a['customer_id']}/tags", data={"tag": "x"}, headers=HX)

    assert response.status_code == 400
    assert snapshot() == before
