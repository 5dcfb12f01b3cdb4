"""Sending domains: the domains a tenant may send From, each with its DNS proof of control."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.infra.types import UTCDateTime, utcnow

SENDING_DOMAIN_STATUSES = ("unverified", "verified")


class SendingDomain(db.Model):
    __tablename__ = "sending_domains"
    __table_args__ = (
        UniqueConstraint("tenant_id", "domain", name="uq_sending_domains_tenant_domain"),
        # One organisation at most proves a domain: a second verification fails here even
        # when two race past the service's own check.
        Index("uq_sending_domains_verified_domain", "domain", unique=True,
              sqlite_where=text("status = 'verified'"), postgresql_where=text("status = 'verified'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed by the unique (tenant_id, domain) constraint.
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    # Lower-case, as email_validator normalises an address's domain (the form From
    # addresses are stored in), so a From address's domain is compared as it is.
    domain: Mapped[str] = mapped_column(String(253))
    # The value of the TXT record that proves control: crm-verification=<token>.
    verification_token: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="unverified")
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why the last check did not verify the domain (record missing, DNS unreachable).
    last_check_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # DKIM (optional): the selector the public key is published under
    # (<selector>._domainkey.<domain>), the RSA private key sealed (webapp/infra/sealed.py,
    # never shown again) and the public key as the record's p= value.
    dkim_selector: Mapped[str | None] = mapped_column(String(63))
    dkim_private_key: Mapped[str | None] = mapped_column(Text)
    dkim_public_key: Mapped[str | None] = mapped_column(Text)
    dkim_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def verified(self) -> bool:
        return self.status == "verified"
