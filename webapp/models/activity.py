"""The customer activity timeline."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.infra.types import BigId, JsonDoc, UTCDateTime, utcnow

# Written by the product itself; the API refuses them.
SYSTEM_ACTIVITY_TYPES = frozenset(
    {
        "email_sent",
        "email_delivered",
        "email_opened",
        "email_clicked",
        "email_bounced",
        "email_complained",
        "email_soft_bounced",
        "email_failed",
        "unsubscribed",
        "resubscribed",
        "segment_entered",
        "segment_exited",
        "workflow_enrolled",
        "workflow_step",
        "workflow_exited",
        "workflow_completed",
        "tag_added",
        "tag_removed",
        "customer_created",
        "customer_updated",
        "topic_subscribed",
        "topic_unsubscribed",
        "waitlist_joined",
    }
)


class CustomerActivity(db.Model):
    __tablename__ = "customer_activities"
    __table_args__ = (
        # Timeline: one customer's activities, newest first, keyset on (occurred_at, id).
        Index("ix_customer_activities_timeline", "customer_id", "occurred_at", "id"),
        # Dashboard: a tenant's latest activities across customers.
        Index("ix_customer_activities_tenant_time", "tenant_id", "occurred_at"),
        # Dashboard and reports: a tenant's activities of a type over time.
        Index("ix_customer_activities_tenant_type_time", "tenant_id", "type", "occurred_at"),
        # Segments on purchased events, and the list of known events.
        Index("ix_customer_activities_tenant_event", "tenant_id", "event_id"),
        # Retried deliveries are recognised by these; NULLs never collide.
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_customer_activities_idempotency"),
        UniqueConstraint("tenant_id", "order_id", name="uq_customer_activities_order"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    properties: Mapped[dict] = mapped_column(JsonDoc, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    # Set for purchases only: the platform's order id, unique per tenant, and the order
    # total as a column so revenue is plain SQL on every backend.
    order_id: Mapped[str | None] = mapped_column(String(200))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    # The purchased event, as columns so "bought tickets for event X" segments are indexed SQL.
    event_id: Mapped[str | None] = mapped_column(String(200))
    event_name: Mapped[str | None] = mapped_column(String(300))


class PurchaseHour(db.Model):
    """Purchases per tenant and hour (of occurred_at, UTC): what the dashboard's revenue and
    orders are summed from, never the raw activities. Kept by database triggers on
    customer_activities (migration 0025), so every way a purchase is written or removed
    (one at a time, batches, imports, an erased customer's cascade) moves it in the same
    transaction; on PostgreSQL they run at commit, so a tenant's row is locked only while
    its transaction commits."""

    __tablename__ = "purchase_hours"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    orders: Mapped[int] = mapped_column(Integer, default=0)
    revenue: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=0)


class IngestFollowup(db.Model):
    """What a large batch of activities still owes after its request: segment membership,
    workflow enrollment, goal and exit checks and wait_for wake-ups of its stored activities
    (services/ingest/follow.py). Written in the batch's transaction, claimed by a worker with
    a DELETE in the transaction that does the work, so the work is done once: a failure rolls
    the DELETE back and the reason is kept here for the next try."""

    __tablename__ = "ingest_followups"
    __table_args__ = (Index("ix_ingest_followups_due", "next_try_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    # The batch's rounds in order: [{"activities": [ids], "guests": [customer ids]}, ...].
    rounds: Mapped[list] = mapped_column(JsonDoc)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the sweep hands it to a worker if its job never ran (or failed): later after each failure.
    next_try_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Set once the tries are spent: the sweep leaves it, the reason stays on the row.
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
