"""How the pages and htmx work together: the library is served locally, errors reach the
flash area, and a request without a session sends the whole window to the login page."""

from __future__ import annotations

import json
import re

from .conftest import HX


def test_htmx_is_served_from_our_own_static_folder(client):
    html = client.get("/login").get_data(as_text=True)

    src = re.search(r'<script src="([^"]*htmx[^"]*)"', html).group(1)
    assert src.startswith("/static/")
    response = client.get(src)
    assert response.status_code == 200 and b"htmx" in response.data[:2000]
    response.close()


def test_htmx_swaps_form_errors_and_retargeted_errors(client):
    html = client.get("/login").get_data(as_text=True)

    config = json.loads(re.search(r"""<meta name="htmx-config" content='([^']+)'>""", html).group(1))
    rules = config["responseHandling"]
    assert any(r["code"] == "409|422" and r["swap"] for r in rules)
    assert 'id="flashes"' in html


def test_htmx_request_without_a_session_sends_the_window_to_login(client):
    response = client.get("/customers/?q=ada", headers={**HX, "HX-Current-URL": "http://localhost/customers/?q=ada"})

    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=%2Fcustomers%2F%3Fq%3Dada"
    assert response.data == b""


def test_htmx_error_is_shown_in_the_flash_area(viewer_a, world_a):
    response = viewer_a.hx_post(f"/customers/{world_a['customer_id']}/tags", {"tag": "press"})

    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert response.headers["HX-Retarget"] == "#flashes"
    assert response.headers["HX-Reswap"] == "innerHTML"
    assert "<html" not in html and 'class="flash flash-error"' in html and "viewer" in html


def test_htmx_request_for_another_tenants_customer_shows_not_found_in_the_flash_area(owner_b, world_a):
    response = owner_b.client.get(f"/customers/{world_a['customer_id']}/timeline?type=note", headers=HX)

    assert response.status_code == 404
    assert response.headers["HX-Retarget"] == "#flashes"
    assert "not found" in response.get_data(as_text=True)


def test_history_restore_gets_the_whole_page(owner_a):
    response = owner_a.get("/customers/?q=ada", headers={**HX, "HX-History-Restore-Request": "true"})

    assert "<html" in response.get_data(as_text=True)
