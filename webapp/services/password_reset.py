"""Password reset by email: a 256-bit random link (only its SHA-256 kept) that works once, for
RESET_MINUTES; using it sets the new password and ends every session of the user.

Asking for a link answers the same whether or not the address has a login: only the mailbox
learns the difference (web/password.py says so in one sentence either way)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select, update

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import PasswordReset, User, UserSession
from webapp.services import system_mail
from webapp.services.team import LinkUnusable
from webapp.services.tenants import address_network, check_password_strength, hash_password, hash_token

RESET_MINUTES = 60


def request_reset(email: str, address: str | None) -> User | None:
    """Email a reset link if `email` has a login; returns that user (for the audit log), or
    None when there is none, which the caller must not reveal."""
    user = db.session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None:
        return None
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(PasswordReset(user_id=user.id, token_hash=hash_token(secret), address=address_network(address),
                                 created_at=now, expires_at=now + timedelta(minutes=RESET_MINUTES)))
    db.session.commit()
    system_mail.send(user.tenant_id, system_mail.reset_message(
        user.email, system_mail.absolute(f"/password/reset/{secret}"), RESET_MINUTES))
    return user


def reset_for_link(secret: str) -> PasswordReset:
    """The reset this link opens, or LinkUnusable saying why not."""
    found = db.session.scalar(select(PasswordReset).where(PasswordReset.token_hash == hash_token(secret)))
    if found is None:
        raise LinkUnusable("This reset link is not valid. Check that you opened the whole link from the email, "
                           "or ask for a new one.")
    if found.used_at is not None:
        raise LinkUnusable("This reset link was already used (or a newer one was). Ask for a new one if you "
                           "still need it.")
    if found.expires_at <= utcnow():
        raise LinkUnusable(f"This reset link expired (they last {RESET_MINUTES} minutes). Ask for a new one.")
    return found


def reset_password(secret: str, new_password: str) -> User:
    """Set the new password; the link and every other open link of the user are spent, and
    every session of the user ends (the caller signs this browser in afresh)."""
    found = reset_for_link(secret)
    check_password_strength(new_password, "new_password")
    now = utcnow()
    claimed = db.session.execute(update(PasswordReset).where(
        PasswordReset.id == found.id, PasswordReset.used_at.is_(None), PasswordReset.expires_at > now)
        .values(used_at=now)).rowcount
    if claimed != 1:
        db.session.rollback()
        raise LinkUnusable("This reset link was already used. Ask for a new one if you still need it.")
    db.session.execute(update(PasswordReset).where(PasswordReset.user_id == found.user_id,
                                                   PasswordReset.used_at.is_(None)).values(used_at=now))
    user = db.session.get(User, found.user_id)
    user.password_hash = hash_password(new_password)
    db.session.execute(update(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
                       .values(revoked_at=now))
    db.session.commit()
    return user
