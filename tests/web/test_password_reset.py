"""Password reset by email: the same answer whether or not the address has a login; a link
that works once, for an hour; using it ends every other session."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import OutboxMessage, PasswordReset

from .conftest import link_secret, log_in, snapshot
from .pages import csrf_from, field_errors

NEW_PASSWORD = "a-long-new-password"


def ask(client, email: str):
    token = csrf_from(client.get("/password/forgot").get_data(as_text=True))
    return client.post("/password/forgot", data={"email": email, "csrf_token": token})


def reset(client, secret: str, password: str = NEW_PASSWORD):
    page = client.get(f"/password/reset/{secret}")
    if page.status_code != 200:
        return page
    token = csrf_from(page.get_data(as_text=True))
    return client.post(f"/password/reset/{secret}", data={"new_password": password, "csrf_token": token})


def mails() -> int:
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(OutboxMessage))


def answer(response) -> str:
    """The page's message, with the address it names taken out."""
    html = response.get_data(as_text=True)
    start = html.index('role="status"')
    return html[start:html.index("</div>", start)]


def test_the_login_page_offers_a_reset(client):
    assert 'href="/password/forgot"' in client.get("/login").get_data(as_text=True)


def test_an_unknown_address_gets_the_same_answer_and_no_email(client, tenant_a):
    known = ask(client, tenant_a.owner_email)
    sent = mails()
    unknown = ask(client, "nobody@example.com")

    assert known.status_code == unknown.status_code == 200
    assert answer(known).replace(tenant_a.owner_email, "X") == answer(unknown).replace("nobody@example.com", "X")
    assert mails() == sent == 1


def test_the_link_sets_a_new_password_and_ends_every_other_session(client, owner_a, new_client, tenant_a, password):
    ask(client, tenant_a.owner_email)
    mail = db.session.scalar(select(OutboxMessage).order_by(OutboxMessage.id.desc()))
    assert mail.recipient == tenant_a.owner_email and "Reset your" in mail.subject
    browser = new_client()

    response = reset(browser, link_secret("/password/reset/"))

    assert response.status_code == 302 and response.headers["Location"].endswith("/dashboard")
    assert browser.get("/dashboard").status_code == 200          # this browser is signed in
    assert owner_a.get("/dashboard").status_code == 302          # the other session ended
    assert log_in(new_client(), tenant_a.owner_email, password).status_code == 401
    assert log_in(new_client(), tenant_a.owner_email, NEW_PASSWORD).status_code == 302


def test_a_reset_link_works_once(client, new_client, tenant_a):
    ask(client, tenant_a.owner_email)
    secret = link_secret("/password/reset/")
    assert reset(new_client(), secret).status_code == 302

    again = reset(new_client(), secret, "yet-another-password")

    assert again.status_code == 410
    assert "already used" in again.get_data(as_text=True)


def test_an_expired_reset_link_is_refused(client, new_client, tenant_a):
    ask(client, tenant_a.owner_email)
    secret = link_secret("/password/reset/")
    db.session.execute(update(PasswordReset).values(created_at=utcnow() - timedelta(minutes=61),
                                                    expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    before = snapshot()

    response = reset(new_client(), secret)

    assert response.status_code == 410
    assert "expired" in response.get_data(as_text=True)
    assert snapshot() == before


def test_using_one_link_spends_the_older_ones(client, new_client, tenant_a):
    ask(client, tenant_a.owner_email)
    older = link_secret("/password/reset/")
    ask(client, tenant_a.owner_email)
    newer = link_secret("/password/reset/")

    assert reset(new_client(), newer).status_code == 302
    assert reset(new_client(), older).status_code == 410


def test_the_new_password_follows_the_settings_rules(client, new_client, tenant_a):
    ask(client, tenant_a.owner_email)
    secret = link_secret("/password/reset/")
    before = snapshot()

    response = reset(new_client(), secret, "short")

    assert response.status_code == 422
    assert "at least 10 characters" in " ".join(field_errors(response.get_data(as_text=True))["new_password"])
    assert snapshot() == before
    assert reset(new_client(), secret).status_code == 302  # the link still works


def test_asking_is_limited_per_address(client, tenant_a):
    statuses = [ask(client, tenant_a.owner_email).status_code for _ in range(6)]

    assert statuses == [200] * 5 + [429]
    assert mails() == 5


def test_the_reset_pages_check_their_csrf_token(client, new_client, tenant_a):
    before = snapshot()
    assert client.post("/password/forgot", data={"email": tenant_a.owner_email}).status_code == 400
    assert snapshot() == before

    ask(client, tenant_a.owner_email)
    secret = link_secret("/password/reset/")
    before = snapshot()
    assert new_client().post(f"/password/reset/{secret}", data={"new_password": NEW_PASSWORD}).status_code == 400
    assert snapshot() == before


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(secret=st.text(min_size=1, max_size=300).filter(lambda s: "/" not in s and s not in (".", "..")))
def test_made_up_links_never_open_anything_nor_fail(client, secret):
    from urllib.parse import quote

    for path in ("/password/reset/", "/invite/"):
        response = client.get(path + quote(secret.encode("utf-8", "surrogatepass"), safe=""))
        assert response.status_code in (400, 404, 410), (path, secret, response.status_code)
