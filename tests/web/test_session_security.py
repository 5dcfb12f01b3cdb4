"""Sessions end on the server: a copy of a cookie taken before logout (or before a password
change) signs nobody in, while the user's other browsers stay signed in. Pages may not be
framed or sniffed, and cookies are Secure when the app is served over https."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from webapp import create_app
from webapp.extensions import db
from webapp.models import UserSession
from webapp.services.tenants import hash_token

from .conftest import log_in


def session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None, "the client holds no session cookie"
    return cookie.value


def replay(new_client, cookie: str):
    """A different browser presenting a stolen copy of the cookie."""
    thief = new_client()
    thief.set_cookie("session", cookie)
    return thief


def is_signed_in(client) -> bool:
    response = client.get("/dashboard")
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/login")
    return response.status_code == 200


def test_a_cookie_copied_before_logout_is_refused_after_it(owner_a, new_client):
    copied = session_cookie(owner_a.client)
    assert is_signed_in(replay(new_client, copied))  # the copy works while the session lives

    response = owner_a.post("/logout")

    assert response.status_code == 302
    assert not is_signed_in(owner_a.client)
    assert not is_signed_in(replay(new_client, copied))


def test_logout_leaves_the_users_other_sessions_signed_in(login, tenant_a):
    laptop = login(tenant_a.owner_email)
    phone = login(tenant_a.owner_email)

    laptop.post("/logout")

    assert not is_signed_in(laptop.client)
    assert is_signed_in(phone.client)


def test_a_password_change_ends_every_session_and_copies_of_this_one(login, new_client, tenant_a, password):
    here = login(tenant_a.owner_email)
    elsewhere = login(tenant_a.owner_email)
    copied = session_cookie(here.client)

    response = here.post("/settings/password", {"current_password": password,
                                                "new_password": "a-much-better-password"})

    assert response.status_code == 302
    assert is_signed_in(here.client)  # this browser goes on, in a new session
    assert not is_signed_in(elsewhere.client)
    assert not is_signed_in(replay(new_client, copied))


def test_the_database_keeps_only_a_hash_of_the_session_secret(app, owner_a):
    serializer = app.session_interface.get_signing_serializer(app)
    user_id, _, secret = serializer.loads(session_cookie(owner_a.client))["_user_id"].partition(":")

    [row] = db.session.scalars(select(UserSession)).all()

    assert len(secret) >= 40
    assert row.token_hash == hash_token(secret) and secret not in row.token_hash
    assert str(row.user_id) == user_id and row.revoked_at is None


def test_a_session_secret_paired_with_another_users_id_signs_nobody_in(app, login, add_user, tenant_a, new_client):
    """The secret belongs to one user: even with the signing key, it opens no other account."""
    serializer = app.session_interface.get_signing_serializer(app)
    owner = login(tenant_a.owner_email)
    other = add_user(tenant_a.id, "marketer@alpha.example.com", "marketer")
    data = serializer.loads(session_cookie(owner.client))
    _, _, secret = data["_user_id"].partition(":")

    forged = serializer.dumps({**data, "_user_id": f"{other.id}:{secret}"})

    assert not is_signed_in(replay(new_client, forged))


# --- headers and cookies ----------------------------------------------------------------

@pytest.mark.parametrize("path", ["/dashboard", "/customers/", "/settings/", "/no-such-page"])
def test_pages_may_not_be_framed_or_sniffed(owner_a, path):
    response = owner_a.get(path)

    assert response.mimetype == "text/html"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_login_page_may_not_be_framed(client):
    response = client.get("/login")

    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_json_answers_are_not_sniffed(api):
    response = api.get("/customers")

    assert response.is_json
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.fixture
def https_app(app):
    """Another app on the suite's database and Redis, served at an https BASE_URL."""
    config = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "REDIS_URL", "PASSWORD_HASH_METHOD",
                                                "TRACKING_SPOOL_DIR")}
    instance = create_app({**config, "TESTING": True, "SECRET_KEY": "test-secret",
                           "BASE_URL": "https://crm.example.com"})
    yield instance
    with instance.app_context():
        db.engine.dispose()


def session_set_cookie(response) -> str:
    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    return header


def test_cookies_are_secure_when_base_url_is_https(https_app, client, tenant_a, password):
    response = log_in(https_app.test_client(), tenant_a.owner_email, password)

    assert response.status_code == 302
    assert "Secure" in session_set_cookie(response).split("; ")
    assert https_app.config["REMEMBER_COOKIE_SECURE"] is True
    # Over an http BASE_URL (the suite's) they cannot be: the browser would never send them back.
    plain = log_in(client, tenant_a.owner_email, password)
    assert "Secure" not in session_set_cookie(plain).split("; ")


def test_a_page_with_its_own_policy_keeps_it_and_may_not_be_framed(client, tenant_a):
    """The view-in-browser copy of an email has a sandboxing policy of its own."""
    from webapp.models import CampaignRecipient
    from webapp.services import campaigns, customers

    ada, _ = customers.upsert_customer(tenant_a.id, {"email": "ada@example.com", "first_name": "Ada"})
    campaign = campaigns.create_campaign(tenant_a.id, {"name": "Line-up", "subject": "Hi",
                                                       "html_content": "<p>Hi {{ customer.first_name }}</p>"})
    db.session.add(CampaignRecipient(campaign_id=campaign.id, tenant_id=tenant_a.id, customer_id=ada.id,
                                     email=ada.email, batch_no=0, status="sent", token="t" * 32, attempts=1))
    db.session.commit()

    response = client.get("/v/" + "t" * 32)

    assert response.status_code == 200 and "Hi Ada" in response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"] == "sandbox; script-src 'none'; frame-ancestors 'none'"
    assert response.headers["X-Frame-Options"] == "DENY"
