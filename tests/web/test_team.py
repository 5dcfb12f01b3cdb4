"""The team: owners and admins invite people by email and change or remove them; an
invitation link works once, for seven days, for the team that sent it; a role change or a
removal takes effect at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import OutboxMessage, TeamInvite, User, UserSession
from webapp.services import team

from .conftest import link_secret, log_in, snapshot
from .pages import csrf_from, field_errors

NEW_PASSWORD = "a-long-new-password"


def invite(marketer, email: str, role: str = "marketer"):
    return marketer.post("/settings/team/invites", {"email": email, "role": role})


def accept(client, secret: str, name: str = "Grace Hopper", password: str = NEW_PASSWORD):
    token = csrf_from(client.get(f"/invite/{secret}").get_data(as_text=True))
    return client.post(f"/invite/{secret}", data={"name": name, "password": password, "csrf_token": token})


def user(email: str) -> User | None:
    db.session.commit()
    return db.session.scalar(select(User).where(User.email == email))


def test_owner_invites_someone_who_joins_with_the_emailed_link(owner_a, new_client, tenant_a):
    response = invite(owner_a, "grace@example.com", "admin")
    assert response.status_code == 302
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.recipient == "grace@example.com"))
    assert mail is not None and "invited you to Arena Alpha" in mail.subject
    secret = link_secret("/invite/")
    assert len(secret) >= 43  # 256 bits, URL-safe
    stored = db.session.scalar(select(TeamInvite).where(TeamInvite.email == "grace@example.com"))
    assert secret not in (stored.token_hash, str(stored.id))  # only its hash is kept

    browser = new_client()
    page = browser.get(f"/invite/{secret}").get_data(as_text=True)
    assert "Join Arena Alpha" in page and "grace@example.com" in page and "admin" in page
    joined = accept(browser, secret)

    assert joined.status_code == 302 and joined.headers["Location"].endswith("/dashboard")
    member = user("grace@example.com")
    assert (member.tenant_id, member.role, member.name) == (tenant_a.id, "admin", "Grace Hopper")
    assert "grace@example.com" in browser.get("/dashboard").get_data(as_text=True)  # signed in
    assert log_in(new_client(), "grace@example.com", NEW_PASSWORD).status_code == 302


def test_an_invitation_link_works_once(owner_a, new_client):
    invite(owner_a, "grace@example.com")
    secret = link_secret("/invite/")
    assert accept(new_client(), secret).status_code == 302

    again = new_client().get(f"/invite/{secret}")

    assert again.status_code == 410
    assert "already used" in again.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count()).select_from(User).where(User.email == "grace@example.com")) == 1


def test_an_expired_invitation_is_refused(owner_a, new_client):
    invite(owner_a, "grace@example.com")
    secret = link_secret("/invite/")
    # Eight days later, as the clock of the server sees it.
    db.session.execute(update(TeamInvite).values(created_at=utcnow() - timedelta(days=8),
                                                 expires_at=utcnow() - timedelta(days=1)))
    db.session.commit()
    before = snapshot()

    response = accept(new_client(), secret)

    assert response.status_code == 410
    assert "expired" in response.get_data(as_text=True)
    assert snapshot() == before and user("grace@example.com") is None


def test_a_revoked_invitation_is_refused_and_leaves_the_pending_list(owner_a, new_client):
    invite(owner_a, "grace@example.com")
    secret = link_secret("/invite/")
    row = db.session.scalar(select(TeamInvite).where(TeamInvite.email == "grace@example.com"))

    assert owner_a.post(f"/settings/team/invites/{row.id}/revoke").status_code == 302

    assert new_client().get(f"/invite/{secret}").status_code == 410
    assert accept(new_client(), secret).status_code == 410
    assert 'data-email="grace@example.com"' not in owner_a.get("/settings/team").get_data(as_text=True)


def test_resending_an_invitation_replaces_its_link(owner_a, new_client):
    invite(owner_a, "grace@example.com")
    first = link_secret("/invite/")
    row = db.session.scalar(select(TeamInvite).where(TeamInvite.email == "grace@example.com"))

    assert owner_a.post(f"/settings/team/invites/{row.id}/resend").status_code == 302
    second = link_secret("/invite/")

    assert second != first
    assert new_client().get(f"/invite/{first}").status_code == 410
    assert accept(new_client(), second).status_code == 302


def test_an_invitation_of_tenant_a_only_ever_joins_tenant_a(owner_a, owner_b, new_client, tenant_a, tenant_b):
    invite(owner_a, "grace@example.com")
    secret = link_secret("/invite/")
    # Tenant B's owner, signed in, opens A's link: it still joins A, never B.
    response = accept(owner_b.client, secret)

    assert response.status_code == 302
    assert user("grace@example.com").tenant_id == tenant_a.id
    assert "grace@example.com" not in {member.email for member, _ in team.list_members(tenant_b.id)}
    assert 'data-email="grace@example.com"' in owner_a.get("/settings/team").get_data(as_text=True)


def test_an_address_with_a_login_anywhere_cannot_be_invited(owner_a, tenant_b):
    before = snapshot()

    response = invite(owner_a, tenant_b.owner_email)

    assert response.status_code == 422
    assert "already has a login" in " ".join(field_errors(response.get_data(as_text=True))["email"])
    assert snapshot() == before


def test_an_invitation_whose_address_got_a_login_since_is_refused_and_kept(owner_a, new_client, add_user, tenant_b):
    invite(owner_a, "grace@example.com")
    secret = link_secret("/invite/")
    add_user(tenant_b.id, "grace@example.com", "marketer")

    response = accept(new_client(), secret)

    assert response.status_code == 422
    assert "already has a login" in response.get_data(as_text=True)
    assert user("grace@example.com").tenant_id == tenant_b.id


def test_the_invitation_page_checks_its_csrf_token(owner_a, new_client):
    invite(owner_a, "grace@example.com")
    secret = link_secret("/invite/")
    browser = new_client()
    browser.get(f"/invite/{secret}")
    before = snapshot()

    response = browser.post(f"/invite/{secret}", data={"name": "Grace", "password": NEW_PASSWORD})

    assert response.status_code == 400
    assert snapshot() == before


@pytest.mark.parametrize("bad_secret", ["", "x", "A" * 43, "../../settings", "%00"])
def test_a_made_up_invitation_link_opens_nothing(client, bad_secret):
    response = client.get(f"/invite/{bad_secret}")

    assert response.status_code in (400, 404, 410)


# --- roles ---------------------------------------------------------------------------------

@pytest.fixture
def admin_a(login, add_user, tenant_a):
    return login(add_user(tenant_a.id, "admin@alpha.example.com", "admin").email)


def _sessions_live(email: str) -> int:
    db.session.commit()
    return db.session.scalar(select(db.func.count()).select_from(UserSession).join(User)
                             .where(User.email == email, UserSession.revoked_at.is_(None)))


def test_a_demotion_takes_effect_at_once(owner_a, admin_a, login, world_a):
    member = user("admin@alpha.example.com")
    assert admin_a.get("/settings/team").status_code == 200

    assert owner_a.post(f"/settings/team/members/{member.id}/role", {"role": "viewer"}).status_code == 302

    assert _sessions_live("admin@alpha.example.com") == 0
    assert admin_a.get("/settings/team").status_code == 302  # signed out: the login page
    again = login("admin@alpha.example.com")
    assert again.get("/settings/team").status_code == 403
    assert again.post(f"/customers/{world_a['customer_id']}/notes", {"text": "hi"}).status_code == 403


def test_a_promotion_keeps_the_member_signed_in_with_the_new_rights(owner_a, marketer_a):
    member = user("marketer@alpha.example.com")
    assert marketer_a.get("/settings/team").status_code == 403

    assert owner_a.post(f"/settings/team/members/{member.id}/role", {"role": "admin"}).status_code == 302

    assert marketer_a.get("/settings/team").status_code == 200


def test_a_removed_member_is_signed_out_at_once_and_cannot_sign_in(owner_a, marketer_a, new_client, password):
    member = user("marketer@alpha.example.com")

    assert owner_a.post(f"/settings/team/members/{member.id}/remove").status_code == 302

    assert marketer_a.get("/dashboard").status_code == 302
    assert user("marketer@alpha.example.com") is None
    assert log_in(new_client(), "marketer@alpha.example.com", password).status_code == 401


def test_the_last_owner_is_never_demoted_or_removed(owner_a, admin_a, tenant_a):
    owner = user(tenant_a.owner_email)
    before = snapshot()

    for who in (admin_a, owner_a):
        assert who.post(f"/settings/team/members/{owner.id}/role", {"role": "admin"}).status_code in (403, 422)
        assert who.post(f"/settings/team/members/{owner.id}/remove").status_code in (403, 422)

    assert snapshot() == before
    assert user(tenant_a.owner_email).role == "owner"


def test_an_owner_may_demote_another_owner_but_an_admin_may_not(owner_a, admin_a, add_user, tenant_a):
    second = add_user(tenant_a.id, "second@alpha.example.com", "owner")

    refused = admin_a.post(f"/settings/team/members/{second.id}/role", {"role": "marketer"})
    assert refused.status_code == 422
    assert "only an owner can grant or take away the owner role" in refused.get_data(as_text=True)

    assert owner_a.post(f"/settings/team/members/{second.id}/role", {"role": "marketer"}).status_code == 302
    assert user("second@alpha.example.com").role == "marketer"


def test_only_an_owner_grants_the_owner_role(admin_a, owner_a, world_a):
    before = snapshot()

    assert invite(admin_a, "grace@example.com", "owner").status_code == 422
    assert admin_a.post(f"/settings/team/members/{world_a['user_id']}/role", {"role": "owner"}).status_code == 422
    assert snapshot() == before
    assert owner_a.post(f"/settings/team/members/{world_a['user_id']}/role", {"role": "owner"}).status_code == 302


def test_nobody_removes_themselves_or_changes_their_own_role(admin_a):
    me = user("admin@alpha.example.com")
    before = snapshot()

    removed = admin_a.post(f"/settings/team/members/{me.id}/remove")
    changed = admin_a.post(f"/settings/team/members/{me.id}/role", {"role": "owner"})

    assert removed.status_code == changed.status_code == 422
    assert "cannot remove yourself" in removed.get_data(as_text=True)
    assert snapshot() == before


def test_the_team_page_lists_members_and_pending_invitations(owner_a, world_a):
    html = owner_a.get("/settings/team").get_data(as_text=True)

    assert "owner@alpha.example.com" in html and "crew@alpha.example.com" in html
    assert "never signed in" in html  # crew has not signed in yet
    assert "invitee@example.com" in html and "Resend" in html and "Revoke" in html
    assert owner_a.get("/settings/").get_data(as_text=True).count('href="/settings/team"') == 1


def test_marketers_and_viewers_cannot_open_the_team_page(marketer_a, viewer_a):
    assert marketer_a.get("/settings/team").status_code == 403
    assert viewer_a.get("/settings/team").status_code == 403
    assert 'href="/settings/team"' not in marketer_a.get("/settings/").get_data(as_text=True)


def test_the_invitation_email_escapes_names_and_keeps_headers_whole(owner_a, tenant_a):
    from webapp.models import Tenant
    from webapp.services.outbox import read_message

    db.session.get(Tenant, tenant_a.id).name = 'Evil <b>Co</b>\r\nBcc: victim@example.com'
    db.session.commit()

    assert invite(owner_a, "grace@example.com").status_code == 302

    raw = db.session.scalar(select(OutboxMessage.raw).where(OutboxMessage.recipient == "grace@example.com"))
    message = read_message(raw)
    headers = dict(message.headers)
    assert "Bcc" not in headers and "\n" not in headers["Subject"]
    assert "<b>Co</b>" not in message.html and "&lt;b&gt;Co&lt;/b&gt;" in message.html
