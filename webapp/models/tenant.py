"""Tenants (organisers), their marketers and API tokens."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.infra.types import JsonDoc, UTCDateTime, utcnow

ROLES = ("owner", "admin", "marketer", "viewer")
# Roles that may change data; viewers only read.
WRITE_ROLES = frozenset({"owner", "admin", "marketer"})
# Roles that may change tenant settings and tokens.
ADMIN_ROLES = frozenset({"owner", "admin"})
# What an API token may be: a token acts for the tenant, never as its owner.
TOKEN_ROLES = ("admin", "marketer", "viewer")


class RoleRights:
    """What a role may do, for anything with a `role`: a marketer, an API token, a request's
    grant (services.tenants.TokenGrant)."""

    @property
    def can_write(self) -> bool:
        return self.role in WRITE_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role in ADMIN_ROLES


class Tenant(db.Model):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Money on its pages is in this currency (ISO 4217), written the way this Babel locale
    # (language_TERRITORY) writes numbers: "£1,234.50" for GBP in en_GB.
    currency: Mapped[str] = mapped_column(String(3), default="GBP", server_default="GBP")
    locale: Mapped[str] = mapped_column(String(20), default="en_GB", server_default="en_GB")
    sender_name: Mapped[str | None] = mapped_column(String(200))
    sender_email: Mapped[str | None] = mapped_column(String(320))
    postal_address: Mapped[str | None] = mapped_column(Text)
    # Campaign mail leaves at most this fast, across all workers together.
    send_rate_per_second: Mapped[int] = mapped_column(Integer, default=50, server_default="50")
    # A purchase within this many days of a human click (else open) is credited to that campaign.
    attribution_days: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    # Public hosts workflow webhooks may call over plain http, one per line (private networks
    # are opened only by the operator's WEBHOOK_PRIVATE_HOSTS, services/webhooks.py).
    webhook_allowlist: Mapped[str | None] = mapped_column(Text)
    # The brand kit (logo, colours, fonts, button style, default footer) new designs start
    # from; None until set (webapp/mail/design fills in defaults).
    brand: Mapped[dict | None] = mapped_column(JsonDoc)
    # Frequency cap: at most this many marketing emails per person in this many days (both
    # None: no cap). Workflow emails marked transactional neither count nor are held back.
    frequency_cap_emails: Mapped[int | None] = mapped_column(Integer)
    frequency_cap_days: Mapped[int | None] = mapped_column(Integer)
    # Quiet hours ("HH:MM", both None: none): workflow emails coming due between start and
    # end in the customer's local time are held until end (the window may cross midnight).
    quiet_hours_start: Mapped[str | None] = mapped_column(String(5))
    quiet_hours_end: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    users: Mapped[list[User]] = relationship(back_populates="tenant")

    # The settings' shapes (GET/PATCH /settings): one value each, stored as two columns.
    @property
    def frequency_cap(self) -> dict[str, int] | None:
        if self.frequency_cap_emails is None or self.frequency_cap_days is None:
            return None
        return {"max_emails": self.frequency_cap_emails, "days": self.frequency_cap_days}

    @frequency_cap.setter
    def frequency_cap(self, value: dict[str, int] | None) -> None:
        self.frequency_cap_emails = value["max_emails"] if value else None
        self.frequency_cap_days = value["days"] if value else None

    @property
    def quiet_hours(self) -> dict[str, str] | None:
        if self.quiet_hours_start is None or self.quiet_hours_end is None:
            return None
        return {"start": self.quiet_hours_start, "end": self.quiet_hours_end}

    @quiet_hours.setter
    def quiet_hours(self, value: dict[str, str] | None) -> None:
        self.quiet_hours_start = value["start"] if value else None
        self.quiet_hours_end = value["end"] if value else None


class User(UserMixin, RoleRights, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    # Stored lower-cased: one login per address across the product.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # What the team page and the audit log call them; None for owners made before invites.
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default="marketer")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    tenant: Mapped[Tenant] = relationship(back_populates="users")

    # The secret of the signed-in browser this object was loaded for or logged in with (set
    # by services/tenants.py, never stored: the user_sessions row keeps only its hash).
    session_token = None

    def get_id(self) -> str:
        # What Flask-Login keeps in the cookie: the user and which of their sessions it is.
        return f"{self.id}:{self.session_token or ''}"

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"

    @property
    def display_name(self) -> str:
        return self.name or self.email


class UserSession(db.Model):
    """One sign-in of a user in one browser. The cookie carries a random secret and this row
    its hash: logging out revokes the row, so a copy of the cookie taken before stops
    working while the user's other browsers stay signed in. Revoked rows are kept for a
    while as the addresses the user recently signed in from (the sign-in rate limit)."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # SHA-256 of the secret: it is 256-bit random, so a fast hash is enough.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Where the sign-in came from: the IPv4 address, or the /64 network of an IPv6 one.
    address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Moved at most every few minutes (services/tenants.py), not on every request.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiToken(RoleRights, db.Model):
    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    # SHA-256 of the secret: tokens are 256-bit random, so a fast hash is enough.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # First characters of the secret, shown in the UI to tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(20), default="admin")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

