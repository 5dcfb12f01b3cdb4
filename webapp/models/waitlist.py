"""What inventory and waitlists remember: each inventory trigger's crossing state per event,
an event's waitlist (its public page and offer settings) and the people on it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.infra.types import UTCDateTime, utcnow

WAITLIST_STATUSES = ("waiting", "offered", "claimed", "expired", "left")
# The statuses in which a customer is on an event's waitlist: at most one such entry each.
ACTIVE_WAITLIST_STATUSES = ("waiting", "offered")
WAITLIST_SOURCES = ("api", "page")
_ACTIVE = text("status IN ('waiting', 'offered')")


class InventoryCrossing(db.Model):
    """Whether one inventory workflow (low_inventory, sold_out, back_in_stock) may fire again
    for one event: `armed` is cleared by a conditional UPDATE when it fires and set again
    when inventory crosses back, so each crossing fires once whatever the restarts or
    concurrent reports. `crossings` counts firings: the enrollments' dedupe key."""

    __tablename__ = "inventory_crossings"

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("automation_workflows.id", ondelete="CASCADE"),
                                             primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    armed: Mapped[bool] = mapped_column(Boolean, default=True)
    crossings: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EventWaitlist(db.Model):
    """An event's waitlist settings: the unguessable token of its public join page and how
    long an offer stays open. Made the first time anything asks for it."""

    __tablename__ = "event_waitlists"
    __table_args__ = (UniqueConstraint("public_token", name="uq_event_waitlists_public_token"),)

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    public_token: Mapped[str] = mapped_column(String(64))
    offer_minutes: Mapped[int] = mapped_column(Integer, default=60, server_default="60")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WaitlistEntry(db.Model):
    """One customer waiting for tickets to one event, in order of id. An offer holds
    `offered_quantity` tickets for them until `offer_expires_at`; its single-use link's token
    is kept hashed."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        UniqueConstraint("offer_token_hash", name="uq_waitlist_entries_offer_token"),
        # One place in the queue per customer and event while waiting or offered; after
        # that (claimed, expired, left) they may join again.
        Index("uq_waitlist_entries_active", "event_id", "customer_id", unique=True,
              sqlite_where=_ACTIVE, postgresql_where=_ACTIVE),
        # The next in line, and the lists.
        Index("ix_waitlist_entries_event_status", "event_id", "status", "id"),
        # The sweep of offers that ran out.
        Index("ix_waitlist_entries_offer_expiry", "status", "offer_expires_at"),
        Index("ix_waitlist_entries_customer", "customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="waiting")
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    source: Mapped[str] = mapped_column(String(20), default="api")
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    offered_quantity: Mapped[int | None] = mapped_column(Integer)
    offer_token_hash: Mapped[str | None] = mapped_column(String(64))
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    offer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When it stopped waiting without a claim: the offer ran out, or they left.
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
