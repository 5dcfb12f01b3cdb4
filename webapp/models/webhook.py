"""Outbound webhooks: the URLs a tenant subscribed to events, and every delivery to them
(an outbox: stored in the caller's transaction, attempted after commit, retried with
backoff, logged per attempt)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.infra.types import BigId, JsonDoc, UTCDateTime, utcnow

# Every event an endpoint may subscribe to, in the order the settings page lists them.
WEBHOOK_EVENT_TYPES = (
    "customer.created", "customer.unsubscribed", "customer.bounced", "customer.complained",
    "email.sent", "email.opened", "email.clicked", "segment.entered", "segment.exited",
    "workflow.converted", "purchase.attributed",
)
# pending: waiting for its (next) attempt; succeeded: a 2xx came back; failed: retries ran
# out, the URL was refused, or the endpoint was disabled (a resend queues it again).
DELIVERY_STATUSES = ("pending", "succeeded", "failed")


class WebhookEndpoint(db.Model):
    """One URL a tenant subscribed to some event types, with its signing secret."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_tenant", "tenant_id", "enabled"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="", server_default="")
    event_types: Mapped[list] = mapped_column(JsonDoc, default=list)
    # The Standard Webhooks secret ("whsec_<base64>"), sealed (infra/sealed.py): it signs
    # every delivery, so it must open again; a database copy alone does not hand it out.
    secret: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The failure streak: failed attempts in a row and when the streak began (a success
    # resets both); a streak older than WEBHOOK_DISABLE_AFTER_DAYS disables the endpoint.
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Moves with every change, so the per-process subscription cache is never stale.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class WebhookDelivery(db.Model):
    """One event for one endpoint. `msg_id` is the `webhook-id` header: the same on every
    attempt and resend, so receivers can drop duplicates."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
        # Finished deliveries past WEBHOOK_KEEP_DAYS are found by it (services/webhooks/retention.py).
        Index("ix_webhook_deliveries_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(40))
    msg_id: Mapped[str] = mapped_column(String(40), unique=True)
    # The whole body as sent ({"type", "timestamp", "data"}), the same bytes on every attempt.
    payload: Mapped[dict] = mapped_column(JsonDoc)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_response_ms: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Set while a worker attempts it (conditional UPDATE): nobody else attempts it then.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookAttempt(db.Model):
    """The log of one attempt, for the endpoint's history."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
