"""What the mail relays tell us after a send (bounces, complaints) and how they prove it is them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.infra.types import BigId, UTCDateTime, utcnow

PROVIDERS = ("ses", "sendgrid", "postmark", "mailgun")
# hard_bounce / soft_bounce / complaint change the customer; replay_token only remembers a
# Mailgun token so the same signed call cannot be played again.
PROVIDER_EVENT_KINDS = ("hard_bounce", "soft_bounce", "complaint", "replay_token")


class ProviderWebhookSettings(db.Model):
    """One tenant's bounce and complaint webhooks: the random key in their URLs and each
    provider's credentials. A provider without credentials refuses every call."""

    __tablename__ = "provider_webhook_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), unique=True)
    # In every endpoint URL; random, replaced by "new key" (the old URLs then 404).
    key: Mapped[str] = mapped_column(String(64), unique=True)
    # SNS topic ARNs accepted (one per line); none: any topic, the signature still checked.
    ses_topic_arns: Mapped[str | None] = mapped_column(Text)
    # SendGrid's verification key as its console shows it (base64 DER of a P-256 public key).
    sendgrid_public_key: Mapped[str | None] = mapped_column(Text)
    postmark_username: Mapped[str | None] = mapped_column(String(200))
    # Werkzeug password hash: the password is only ever compared.
    postmark_password_hash: Mapped[str | None] = mapped_column(String(255))
    # Mailgun's HTTP webhook signing key, sealed (webapp/infra/sealed.py): the HMAC needs it.
    mailgun_signing_key: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ProviderEvent(db.Model):
    """A provider event already applied, by the provider's own id: the same event delivered
    again changes nothing. Soft bounces are counted from here (three in 30 days: bounced)."""

    __tablename__ = "provider_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "provider", "event_key", name="uq_provider_events_key"),
        Index("ix_provider_events_customer_kind", "customer_id", "kind", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(20))
    event_key: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("email_campaigns.id", ondelete="SET NULL"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
