"""Logging in and out through the real form."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest


def login_message(html: str) -> str | None:
    match = re.search(r'role="alert">([^<]*)<', html)
    return match.group(1).strip() if match else None


def test_login_redirects_to_the_dashboard(client, auth, tenant_a):
    response = auth.login(tenant_a.owner_email)

    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    assert client.get("/dashboard").status_code == 200


def test_login_ignores_email_case_and_surrounding_spaces(client, auth, tenant_a):
    response = auth.login("  OWNER@Alpha.Example.com ")

    assert response.status_code == 302


def test_pages_need_a_login_and_come_back_after_it(client, auth, tenant_a, password):
    response = client.get("/customers/?q=ada")
    assert response.status_code == 302
    login_url = response.headers["Location"]
    assert login_url.startswith("/login?next=")

    token = auth.csrf_token(login_url)
    response = client.post(login_url, data={"email": tenant_a.owner_email, "password": password,
                                            "csrf_token": token})

    assert response.status_code == 302
    assert response.headers["Location"] == "/customers/?q=ada"


def test_wrong_password_and_unknown_email_look_exactly_the_same(client, auth, tenant_a):
    wrong_password = auth.login(tenant_a.owner_email, "not-the-password")
    unknown_email = auth.login("nobody@alpha.example.com", "not-the-password")

    assert wrong_password.status_code == unknown_email.status_code == 401
    assert login_message(wrong_password.get_data(as_text=True)) == "Wrong email or password."
    assert login_message(unknown_email.get_data(as_text=True)) == "Wrong email or password."
    assert client.get("/dashboard").status_code == 302  # still logged out


def test_an_unknown_email_is_checked_against_a_hash_of_the_accounts_method_made_on_first_use(app, client, auth,
                                                                                              tenant_a):
    import subprocess
    import sys

    # Importing the module makes no hash (scrypt is ~0.15 s of CPU a process).
    probe = ("import webapp.services.tenants as t; print(t._dummy_hash.cache_info().currsize)")
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          cwd=app.root_path + "/..").stdout.strip() == "0"
    from webapp.services import tenants

    tenants._dummy_hash.cache_clear()
    assert auth.login("nobody@alpha.example.com", "not-the-password").status_code == 401
    method = app.config["PASSWORD_HASH_METHOD"]
    assert tenants._dummy_hash.cache_info().currsize == 1
    dummy = tenants._dummy_hash(method)  # the one the login compared against, from the cache
    # The same method (and so the same cost) as a real account's hash.
    assert dummy.split("$")[0] == tenants.hash_password("x").split("$")[0] == method


def test_empty_login_form_says_the_same_as_a_wrong_password(client, auth, tenant_a):
    response = auth.login("", "")

    assert response.status_code == 401
    assert login_message(response.get_data(as_text=True)) == "Wrong email or password."


@pytest.mark.parametrize("target", [
    "//evil.example",
    "//evil.example/dashboard",
    "https://evil.example",
    "http:evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "javascript:alert(1)",
])
def test_next_cannot_redirect_off_site(client, auth, tenant_a, password, target):
    token = auth.csrf_token("/login")
    response = client.post("/login", query_string={"next": target},
                           data={"email": tenant_a.owner_email, "password": password, "csrf_token": token})

    assert response.status_code == 302
    location = response.headers["Location"]
    assert location == "/dashboard"
    assert not urlsplit(location).netloc


def test_logged_in_user_visiting_login_goes_to_the_dashboard(client, auth, tenant_a):
    auth.login(tenant_a.owner_email)

    response = client.get("/login")

    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"


def test_logout_is_a_post_with_csrf(client, auth, tenant_a):
    auth.login(tenant_a.owner_email)

    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no token
    assert client.get("/dashboard").status_code == 200  # still logged in

    response = auth.logout()

    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert client.get("/dashboard").status_code == 302


def test_logout_button_on_every_page_carries_the_token(client, auth, tenant_a):
    auth.login(tenant_a.owner_email)

    html = client.get("/customers/").get_data(as_text=True)

    form = re.search(r'<form method="post" action="/logout".*?</form>', html, re.S)
    assert form and 'name="csrf_token"' in form.group(0)
