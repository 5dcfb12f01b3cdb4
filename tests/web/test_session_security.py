"""Sessions end on the server: a copy of a cookie taken before logout (or before a password
change) signs nobody in, while the user's other browsers stay signed in."""

from __future__ import annotations

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import UserSession
from webapp.services.tenants import hash_token


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
