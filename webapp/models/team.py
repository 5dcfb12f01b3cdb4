"""Invitations to join a tenant's team, and password reset links.

Both are reached through a 256-bit random secret sent by email; only its SHA-256 is stored,
so a copy of the database opens nothing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.infra.types import UTCDateTime, utcnow


class TeamInvite(db.Model):
    __tablename__ = "team_invites"
    __table_args__ = (Index("ix_team_invites_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Kept as text too: the inviter may have left the team since.
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    invited_by_label: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when revoked by hand or replaced by a re-sent invite.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    tenant = relationship("Tenant")

    @property
    def pending(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now


class PasswordReset(db.Model):
    __tablename__ = "password_resets"
    __table_args__ = (Index("ix_password_resets_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The network that asked for it (services/tenants.py address_network).
    address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when used, and on every other open link of the user when one is used.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User")
