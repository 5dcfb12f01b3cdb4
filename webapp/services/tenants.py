"""Tenants, marketers (users) and API tokens."""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.extensions import db
from webapp.infra.errors import Conflict, NotFound, ValidationFailed
from webapp.infra.sql import HotStatement
from webapp.infra.types import utcnow
from webapp.models import ROLES, TOKEN_ROLES, ApiToken, ProviderWebhookSettings, RoleRights, Tenant, User, UserSession
from webapp.services import formatting, sending_domains

TOKEN_PREFIX = "crm_"
MIN_PASSWORD_LENGTH = 10
# A session's last_seen_at moves at most this often: one write per few minutes, not per request.
SESSION_TOUCH_INTERVAL = timedelta(minutes=5)
# An address the account signed in from within this many days is its own (webapp/ratelimit.py).
KNOWN_ADDRESS_DAYS = 30
_TIMEZONES = frozenset(available_timezones())


def normalise_email(value: str, field: str = "email") -> str:
    """Validate an address's syntax (no DNS) and return it lower-cased."""
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationFailed(field, str(exc)) from None
    return result.normalized.lower()


def check_timezone(value: str, field: str = "timezone") -> str:
    if value not in _TIMEZONES:
        raise ValidationFailed(field, f"'{value[:80]}' is not an IANA timezone such as 'Europe/Berlin'")
    return value


def check_currency(value: str, field: str = "currency") -> str:
    """An ISO 4217 code in use today, returned upper-case ("eur" -> "EUR")."""
    code = value.strip().upper()
    if not formatting.is_currency(code):
        raise ValidationFailed(field, f"'{value[:40]}' is not a current ISO 4217 currency code such as GBP or EUR")
    return code


def check_locale(value: str, field: str = "locale") -> str:
    """A language_TERRITORY locale Babel knows ("de-DE" is taken as "de_DE")."""
    identifier = value.strip().replace("-", "_")
    if not formatting.is_locale(identifier):
        raise ValidationFailed(field, f"'{value[:40]}' is not a locale such as en_GB, de_DE or fr_FR")
    return identifier


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:60] or "tenant"


def create_tenant(name: str, admin_email: str, admin_password: str, *, timezone: str = "UTC",
                  sender_name: str | None = None, sender_email: str | None = None,
                  postal_address: str | None = None, currency: str = formatting.DEFAULT_CURRENCY,
                  locale: str = formatting.DEFAULT_LOCALE) -> tuple[Tenant, User, str]:
    """Create a tenant with its owner and a first API token; returns the token secret once.
    A sender address brings its domain along as a sending domain (unverified), so the new
    tenant can send at once. Everything is checked before anything is kept, so refused
    input leaves nothing behind."""
    name = name.strip()
    if not name:
        raise ValidationFailed("name", "must not be empty")
    check_timezone(timezone)
    currency, locale = check_currency(currency), check_locale(locale)
    normalise_email(admin_email)
    check_password_strength(admin_password)
    sender_name = clean_sender_name(sender_name)
    sender_email = normalise_email(sender_email, "sender_email") if sender_email else None
    base = slugify(name)
    slug, n = base, 1
    while db.session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        n += 1
        slug = f"{base}-{n}"
    tenant = Tenant(name=name, slug=slug, timezone=timezone, currency=currency, locale=locale,
                    sender_name=sender_name, sender_email=sender_email,
                    postal_address=(postal_address or "").strip() or None)
    db.session.add(tenant)
    db.session.flush()
    if sender_email:
        try:
            sending_domains.add_domain_of(tenant.id, sender_email)
        except ValidationFailed:
            db.session.rollback()
            raise
    user = _new_user(tenant, admin_email, admin_password, "owner")
    _, secret = _new_token(tenant, "Default", "admin")
    # The random key of its relay webhook URLs (services/deliverability/credentials.py), made
    # now so that opening Settings never writes.
    db.session.add(ProviderWebhookSettings(tenant_id=tenant.id, key=secrets.token_hex(20)))
    _commit_or_conflict("email", "a user with this email already exists")
    return tenant, user, secret


def clean_sender_name(value: str | None) -> str | None:
    value = (value or "").strip() or None
    if value and any(c in value for c in "\r\n"):
        raise ValidationFailed("sender_name", "must not contain line breaks")
    return value


def _commit_or_conflict(field: str, message: str) -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(f"{field}: {message}",
                       details=[{"field": field, "message": message}]) from None


def hash_password(password: str) -> str:
    """Werkzeug's default (scrypt) unless PASSWORD_HASH_METHOD says otherwise; the test
    suite picks a cheap method because it creates hundreds of users."""
    return generate_password_hash(password, method=_hash_method())


def _hash_method() -> str:
    return current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")


@functools.cache
def _dummy_hash(method: str) -> str:
    """A hash to compare against when the account does not exist, so a failed login costs
    the same time either way and does not reveal which addresses have accounts. Made with
    the accounts' own method, on first use: a scrypt hash is about 0.15 s of CPU, which every
    process (web, worker, command) paid at import when this was a module constant."""
    return generate_password_hash("not-a-real-password-0", method=method)


def check_password_strength(password: str, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(field, f"must be at least {MIN_PASSWORD_LENGTH} characters")


def _new_user(tenant: Tenant, email: str, password: str, role: str) -> User:
    if role not in ROLES:
        raise ValidationFailed("role", f"'{role}' is not one of {', '.join(ROLES)}")
    check_password_strength(password)
    user = User(tenant_id=tenant.id, email=normalise_email(email), role=role,
                password_hash=hash_password(password))
    db.session.add(user)
    return user


def create_user(tenant: Tenant, email: str, password: str, role: str = "marketer") -> User:
    user = _new_user(tenant, email, password, role)
    _commit_or_conflict("email", "a user with this email already exists")
    return user


def authenticate(email: str, password: str) -> User | None:
    """The user for these credentials, or None; same cost whether or not the user exists."""
    dummy = _dummy_hash(_hash_method())  # before the lookup: a process's first login pays for it either way
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        check_password_hash(dummy, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def change_password(user: User, current: str, new: str) -> None:
    """Set a new password; every session of this user ends (the caller signs the current
    browser in again with start_session)."""
    if not check_password_hash(user.password_hash, current):
        raise ValidationFailed("current_password", "is not your current password")
    check_password_strength(new, "new_password")
    user.password_hash = hash_password(new)
    db.session.execute(update(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
                       .values(revoked_at=utcnow()))
    db.session.commit()


# --- sessions of signed-in browsers ---------------------------------------------------

def address_network(address: str | None) -> str | None:
    """The unit an address is recognised by: an IPv4 address itself, an IPv6 address's /64
    (devices change the lower half for privacy)."""
    try:
        ip = ipaddress.ip_address((address or "").split("%")[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def start_session(user: User, address: str | None) -> str:
    """Record a new signed-in browser for `user`, from `address`; returns the secret its cookie
    carries (only the hash is stored) and sets it on `user` for Flask-Login's login_user.
    The user's sessions unused for longer than a cookie lives are forgotten here."""
    now = utcnow()
    keep = max(timedelta(days=KNOWN_ADDRESS_DAYS), current_app.permanent_session_lifetime)
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id,
                                                 UserSession.last_seen_at < now - keep))
    token = secrets.token_urlsafe(32)
    db.session.add(UserSession(user_id=user.id, token_hash=hash_token(token), address=address_network(address),
                               created_at=now, last_seen_at=now))
    db.session.commit()
    user.session_token = token
    return token


def end_session(user: User) -> None:
    """Log out the browser `user` was loaded for: its cookie, and any copy of it, no longer
    signs anyone in. The user's other sessions go on."""
    if user.session_token:
        db.session.execute(update(UserSession).where(UserSession.token_hash == hash_token(user.session_token),
                                                     UserSession.revoked_at.is_(None)).values(revoked_at=utcnow()))
        db.session.commit()
    user.session_token = None


def load_user(session_id: str) -> User | None:
    """Flask-Login loader: `user_id:secret` of a live session, found with its user in one
    indexed lookup (the secret's hash)."""
    user_id, _, token = session_id.partition(":")
    if not user_id.isdigit() or not token:
        return None
    found = db.session.execute(
        select(User, UserSession.id, UserSession.last_seen_at).join(UserSession, UserSession.user_id == User.id)
        .where(UserSession.token_hash == hash_token(token), UserSession.revoked_at.is_(None))
    ).first()
    if found is None or found[0].id != int(user_id):
        return None
    user, row_id, last_seen_at = found
    now = utcnow()
    if now - last_seen_at > SESSION_TOUCH_INTERVAL:
        db.session.execute(update(UserSession).where(UserSession.id == row_id).values(last_seen_at=now))
        db.session.commit()
    user.session_token = token
    return user


def known_sign_in_network(email: str, address: str | None) -> str | None:
    """The network of `address` (see address_network) if the account with this email signed
    in successfully from it within KNOWN_ADDRESS_DAYS, else None."""
    network = address_network(address)
    if network is None or not email:
        return None
    since = utcnow() - timedelta(days=KNOWN_ADDRESS_DAYS)
    found = db.session.scalar(
        select(UserSession.id).join(User, User.id == UserSession.user_id)
        .where(User.email == email.strip().lower(), UserSession.address == network, UserSession.created_at >= since)
        .limit(1))
    return network if found is not None else None


# --- API tokens -----------------------------------------------------------------------

def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_token(tenant: Tenant, name: str, role: str) -> tuple[ApiToken, str]:
    name = name.strip()
    if not name:
        raise ValidationFailed("name", "must not be empty")
    if role not in TOKEN_ROLES:
        raise ValidationFailed("role", "must be 'admin' (everything), 'marketer' (everything but settings and "
                                       "sending domains) or 'viewer' (read only)")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(tenant_id=tenant.id, name=name[:100], role=role,
                     token_hash=hash_token(secret), prefix=secret[:10])
    db.session.add(token)
    return token, secret


def create_api_token(tenant: Tenant, name: str, role: str = "admin") -> tuple[ApiToken, str]:
    """Create a token; the secret is returned here once and only its hash is stored."""
    token, secret = _new_token(tenant, name, role)
    db.session.commit()
    return token, secret


def list_api_tokens(tenant: Tenant) -> list[ApiToken]:
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.tenant_id == tenant.id).order_by(ApiToken.created_at.desc())
    ))


def revoke_api_token(tenant: Tenant, token_id: int) -> ApiToken:
    token = db.session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.tenant_id == tenant.id)
    )
    if token is None:
        raise NotFound("API token not found")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()
    return token


@dataclass(frozen=True)
class TokenGrant(RoleRights):
    """What an API request may do: the live token's id, name and role, and its tenant."""

    id: int
    tenant_id: int
    name: str
    role: str


# Every API request runs it: built once, and on PostgreSQL sent through the driver with
# its placeholders already written. The token's columns only: the tenant's row is read
# when a route needs more than its id (webapp.api.auth.current_tenant).
_FIND_TOKEN = HotStatement(
    lambda: select(ApiToken.id, ApiToken.tenant_id, ApiToken.name, ApiToken.role, ApiToken.last_used_at)
    .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None)),
    token_hash="0" * 64)


def find_active_token(secret: str) -> TokenGrant | None:
    """The live token for this secret, read by one statement; marks the token used at most
    once a minute."""
    rows = _FIND_TOKEN.rows(token_hash=hash_token(secret))
    if not rows:
        return None
    token_id, tenant_id, name, role, last_used_at = rows[0]
    now = utcnow()
    if last_used_at is None or now - last_used_at > timedelta(minutes=1):
        # A conditional UPDATE instead of a write on every request.
        db.session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
        db.session.commit()
    return TokenGrant(token_id, tenant_id, name, role)
