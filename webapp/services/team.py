"""A tenant's team: members and their roles, and invitations to join by email.

Rules: owners and admins manage the team; only an owner grants, changes or removes the owner
role; the last owner is never demoted or removed; nobody changes their own role or removes
themselves. An invitation is a 256-bit random link (only its SHA-256 kept) that works once,
for INVITE_DAYS days, and stops working when revoked or re-sent.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.infra.errors import NotFound, PermissionDenied, ValidationFailed
from webapp.infra.types import utcnow
from webapp.models import ROLES, TeamInvite, Tenant, User, UserSession
from webapp.services import system_mail
from webapp.services.tenants import check_password_strength, hash_password, hash_token, normalise_email

INVITE_DAYS = 7
# Roles in order of what they may do: a change down this list is a demotion.
RANK = {role: len(ROLES) - i for i, role in enumerate(ROLES)}
ROLE_DESCRIPTIONS = {
    "owner": "everything, including the team's owners",
    "admin": "everything but granting or removing the owner role",
    "marketer": "customers, segments, campaigns and workflows; not settings, tokens or the team",
    "viewer": "reads everything, changes nothing",
}
ALREADY_HAS_LOGIN = ("already has a login to this product (one login per address): ask them to use another "
                     "address, or to leave their other team first")


class LinkUnusable(Exception):
    """An invitation or reset link that cannot be used; the message says why, for the person."""


# --- members ---------------------------------------------------------------------------------

def list_members(tenant_id: int) -> list[tuple[User, datetime | None]]:
    """The tenant's members with when each was last seen (any browser), owners first."""
    last_seen = (select(UserSession.user_id, func.max(UserSession.last_seen_at).label("seen"))
                 .group_by(UserSession.user_id).subquery())
    rows = db.session.execute(
        select(User, last_seen.c.seen).outerjoin(last_seen, last_seen.c.user_id == User.id)
        .where(User.tenant_id == tenant_id).order_by(User.created_at, User.id)).all()
    return sorted(((user, seen) for user, seen in rows), key=lambda row: -RANK.get(row[0].role, 0))


def get_member(tenant_id: int, user_id: int) -> User:
    user = db.session.scalar(select(User).where(User.id == user_id, User.tenant_id == tenant_id))
    if user is None:
        raise NotFound("member not found")
    return user


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationFailed("role", f"must be one of {', '.join(ROLES)}")


def _owners(tenant_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(User)
                             .where(User.tenant_id == tenant_id, User.role == "owner")) or 0


def _may_manage(actor: User) -> None:
    if not actor.is_admin:
        raise PermissionDenied("Only owners and admins can manage the team.")


def change_role(tenant_id: int, actor: User, user_id: int, role: str) -> tuple[User, str]:
    """Give a member another role; returns (member, previous role). A demotion signs the
    member out everywhere, so they come back seeing only what the new role allows."""
    _may_manage(actor)
    member = get_member(tenant_id, user_id)
    _check_role(role)
    if member.id == actor.id:
        raise ValidationFailed("role", "you cannot change your own role: ask another owner or admin")
    if "owner" in (role, member.role) and not actor.is_owner:
        raise ValidationFailed("role", "only an owner can grant or take away the owner role")
    if member.role == "owner" and role != "owner" and _owners(tenant_id) <= 1:
        raise ValidationFailed("role", "the team's last owner keeps the owner role")
    previous = member.role
    if role == previous:
        return member, previous
    member.role = role
    if RANK[role] < RANK[previous]:
        _revoke_sessions(member.id)
    db.session.commit()
    return member, previous


def remove_member(tenant_id: int, actor: User, user_id: int) -> User:
    """Delete a member's login; their sessions end with it. Their audit events keep their name."""
    _may_manage(actor)
    member = get_member(tenant_id, user_id)
    if member.id == actor.id:
        raise ValidationFailed("member", "you cannot remove yourself: ask another owner or admin")
    if member.role == "owner" and not actor.is_owner:
        raise ValidationFailed("member", "only an owner can remove an owner")
    if member.role == "owner" and _owners(tenant_id) <= 1:
        raise ValidationFailed("member", "the team's last owner cannot be removed")
    db.session.execute(delete(UserSession).where(UserSession.user_id == member.id))
    db.session.delete(member)
    db.session.commit()
    return member


def _revoke_sessions(user_id: int) -> None:
    db.session.execute(update(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
                       .values(revoked_at=utcnow()))


# --- invitations ---------------------------------------------------------------------------

def list_invites(tenant_id: int) -> list[TeamInvite]:
    """Invitations neither accepted nor revoked (expired ones too: they can be re-sent)."""
    return list(db.session.scalars(
        select(TeamInvite).where(TeamInvite.tenant_id == tenant_id, TeamInvite.accepted_at.is_(None),
                                 TeamInvite.revoked_at.is_(None)).order_by(TeamInvite.id.desc())))


def get_invite(tenant_id: int, invite_id: int) -> TeamInvite:
    invite = db.session.scalar(select(TeamInvite).where(TeamInvite.id == invite_id,
                                                        TeamInvite.tenant_id == tenant_id))
    if invite is None or not invite.pending:
        raise NotFound("invitation not found")
    return invite


def invite(tenant_id: int, actor: User, email: str, role: str) -> TeamInvite:
    """Invite an address with a role and email it the link; an earlier pending invitation of
    the same address to this team is revoked (its link stops working)."""
    _may_manage(actor)
    email = normalise_email(email)
    _check_role(role)
    if role == "owner" and not actor.is_owner:
        raise ValidationFailed("role", "only an owner can invite another owner")
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ValidationFailed("email", ALREADY_HAS_LOGIN)
    return _issue(tenant_id, actor, email, role)


def resend_invite(tenant_id: int, actor: User, invite_id: int) -> TeamInvite:
    """A new link for a pending (or expired) invitation; the old link stops working."""
    _may_manage(actor)
    old = get_invite(tenant_id, invite_id)
    if old.role == "owner" and not actor.is_owner:
        raise ValidationFailed("role", "only an owner can invite another owner")
    return _issue(tenant_id, actor, old.email, old.role)


def revoke_invite(tenant_id: int, actor: User, invite_id: int) -> TeamInvite:
    _may_manage(actor)
    found = get_invite(tenant_id, invite_id)
    if found.role == "owner" and not actor.is_owner:
        raise ValidationFailed("role", "only an owner can revoke an owner's invitation")
    found.revoked_at = utcnow()
    db.session.commit()
    return found


def _issue(tenant_id: int, actor: User, email: str, role: str) -> TeamInvite:
    now = utcnow()
    db.session.execute(update(TeamInvite).where(
        TeamInvite.tenant_id == tenant_id, TeamInvite.email == email, TeamInvite.accepted_at.is_(None),
        TeamInvite.revoked_at.is_(None)).values(revoked_at=now))
    secret = secrets.token_urlsafe(32)
    row = TeamInvite(tenant_id=tenant_id, email=email, role=role, token_hash=hash_token(secret),
                     invited_by_id=actor.id, invited_by_label=actor.display_name[:320], created_at=now,
                     expires_at=now + timedelta(days=INVITE_DAYS))
    db.session.add(row)
    db.session.commit()
    tenant = db.session.get(Tenant, tenant_id)
    system_mail.send(tenant_id, system_mail.invite_message(
        email, tenant.name, actor.display_name, role, system_mail.absolute(f"/invite/{secret}"), INVITE_DAYS))
    return row


def invite_for_link(secret: str) -> TeamInvite:
    """The invitation this link opens, or LinkUnusable saying why not."""
    found = db.session.scalar(select(TeamInvite).where(TeamInvite.token_hash == hash_token(secret)))
    if found is None:
        raise LinkUnusable("This invitation link is not valid. Check that you opened the whole link from the email.")
    if found.accepted_at is not None:
        raise LinkUnusable("This invitation was already used. Log in with the password you chose.")
    if found.revoked_at is not None:
        raise LinkUnusable("This invitation was withdrawn or replaced by a newer one. Use the latest email, or "
                           "ask whoever invited you to send it again.")
    if found.expired(utcnow()):
        raise LinkUnusable(f"This invitation expired (they last {INVITE_DAYS} days). Ask whoever invited you to "
                           "send it again.")
    return found


def accept_invite(secret: str, name: str, password: str) -> User:
    """Join the team: a login for the invited address with the invited role. The link works
    once: a conditional UPDATE claims it, so two submissions cannot both create a login."""
    found = invite_for_link(secret)
    name = " ".join((name or "").split())
    if not name:
        raise ValidationFailed("name", "enter your name as your team will see it")
    check_password_strength(password)
    claimed = db.session.execute(update(TeamInvite).where(
        TeamInvite.id == found.id, TeamInvite.accepted_at.is_(None), TeamInvite.revoked_at.is_(None),
        TeamInvite.expires_at > utcnow()).values(accepted_at=utcnow())).rowcount
    if claimed != 1:
        db.session.rollback()
        raise LinkUnusable("This invitation was already used or withdrawn.")
    user = User(tenant_id=found.tenant_id, email=found.email, name=name[:200], role=found.role,
                password_hash=hash_password(password))
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ValidationFailed("email", f"{found.email} " + ALREADY_HAS_LOGIN) from None
    return user
