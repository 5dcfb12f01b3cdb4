"""Roles: viewers look but change nothing; only owners and admins touch settings and tokens."""

from __future__ import annotations

import re

import pytest

from .conftest import ADMIN_ONLY, OWNER_ONLY, SELF_SERVICE, VALID_FORM_DATA, snapshot, state_changing_routes, web_routes


def test_viewer_gets_403_on_every_state_changing_route(viewer_a, world_a, form_data, state_changing_route):
    if state_changing_route.endpoint in SELF_SERVICE:
        return  # logging out and changing one's own password are for every role
    before = snapshot()

    response = viewer_a.client.open(state_changing_route.url(world_a), method=state_changing_route.method,
                                    data={**form_data(state_changing_route), "csrf_token": viewer_a.csrf()})

    assert response.status_code == 403
    assert snapshot() == before


def test_viewer_cannot_open_the_edit_form(viewer_a, world_a):
    assert viewer_a.get(f"/customers/{world_a['customer_id']}/edit").status_code == 403


def test_viewer_may_change_their_own_password(viewer_a, password):
    response = viewer_a.post("/settings/password", {"current_password": password,
                                                    "new_password": "viewer-new-password"})

    assert response.status_code == 302


def test_marketer_cannot_change_settings_or_tokens(marketer_a, world_a):
    for endpoint, path in [("settings.update_tenant", "/settings/tenant"),
                           ("settings.create_token", "/settings/tokens"),
                           ("settings.revoke_token", f"/settings/tokens/{world_a['token_id']}/revoke")]:
        assert endpoint in ADMIN_ONLY
        before = snapshot()

        response = marketer_a.post(path, VALID_FORM_DATA[endpoint])

        assert response.status_code == 403, endpoint
        assert snapshot() == before, endpoint


def test_marketer_can_work_with_customers(marketer_a, world_a):
    customer_id = world_a["customer_id"]

    assert marketer_a.post(f"/customers/{customer_id}/notes", {"text": "Called back"}).status_code == 302
    assert marketer_a.hx_post(f"/customers/{customer_id}/tags", {"tag": "press"}).status_code == 200


def test_admin_can_change_settings(login, add_user, tenant_a):
    admin = login(add_user(tenant_a.id, "admin@alpha.example.com", "admin").email)

    response = admin.post("/settings/tenant", {"name": "Arena Alpha Live", "timezone": "Europe/Berlin"})

    assert response.status_code == 302


def test_customer_page_hides_write_controls_from_viewers(viewer_a, owner_a, world_a):
    path = f"/customers/{world_a['customer_id']}"
    owner_html = owner_a.get(path).get_data(as_text=True)
    viewer_html = viewer_a.get(path).get_data(as_text=True)

    write_controls = ['id="note-form"', "/tags\"", "/tags/remove", "/edit", "/delete"]
    for marker in write_controls:
        assert marker in owner_html, f"control check is stale: {marker} not on the owner's page"
        assert marker not in viewer_html, f"viewer sees {marker}"
    assert "vip" in viewer_html and "Prefers seated shows" in viewer_html  # but still reads everything


def test_settings_page_hides_admin_controls_from_non_admins(viewer_a, marketer_a, owner_a):
    owner_html = owner_a.get("/settings/").get_data(as_text=True)
    admin_forms = ['action="/settings/tenant"', 'action="/settings/tokens"', "/revoke"]
    for marker in admin_forms:
        assert marker in owner_html, f"control check is stale: {marker}"

    for user in (viewer_a, marketer_a):
        html = user.get("/settings/").get_data(as_text=True)
        for marker in admin_forms:
            assert marker not in html, f"{user.email} sees {marker}"
        assert 'action="/settings/password"' in html  # their own password is theirs to change
        assert "Arena Alpha" in html


def test_the_header_shows_who_is_logged_in_and_their_role(viewer_a):
    html = viewer_a.get("/dashboard").get_data(as_text=True)

    assert "viewer@alpha.example.com" in html
    assert re.search(r'class="role"[^>]*>viewer<', html)


@pytest.mark.parametrize("endpoint", sorted(ADMIN_ONLY))
def test_marketer_gets_403_on_every_admin_only_route(marketer_a, world_a, form_data, endpoint):
    route = next(r for r in state_changing_routes() if r.endpoint == endpoint)
    before = snapshot()

    response = marketer_a.client.open(route.url(world_a), method=route.method,
                                      data={**form_data(route), "csrf_token": marketer_a.csrf()})

    assert response.status_code == 403
    assert snapshot() == before


def test_admin_only_lists_every_team_route_and_the_owner_only_pages_exist():
    endpoints = {route.endpoint for route in web_routes()}

    assert {e for e in endpoints if e.startswith("team.") and e != "team.accept"} - {"team.index"} <= ADMIN_ONLY
    assert OWNER_ONLY <= endpoints


@pytest.mark.parametrize("role", ["admin", "marketer", "viewer"])
def test_only_owners_open_the_owner_only_pages(login, add_user, tenant_a, role):
    someone = login(add_user(tenant_a.id, f"{role}2@alpha.example.com", role).email)

    for endpoint in OWNER_ONLY:
        rule = next(r.rule for r in web_routes() if r.endpoint == endpoint)
        assert someone.get(rule).status_code == 403, endpoint


def test_team_page_is_for_owners_and_admins(login, add_user, tenant_a, owner_a):
    assert owner_a.get("/settings/team").status_code == 200
    for role in ("marketer", "viewer"):
        someone = login(add_user(tenant_a.id, f"{role}2@alpha.example.com", role).email)
        assert someone.get("/settings/team").status_code == 403
    admin = login(add_user(tenant_a.id, "admin2@alpha.example.com", "admin").email)
    assert admin.get("/settings/team").status_code == 200
