"""Events (performances) as the ticketing platform describes them, the tickets bought for
them (purchase line items) and who came (attendance)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.infra.types import BigId, UTCDateTime, utcnow

# on_sale and sold_out follow inventory; rescheduled and cancelled are the platform's word
# on a change; ended is set once attendance is settled.
EVENT_STATUSES = ("on_sale", "sold_out", "rescheduled", "cancelled", "ended")
# What an event's tags say: its genre, its artists, the series it belongs to, or a plain tag.
EVENT_TAG_KINDS = ("genre", "artist", "series", "tag")
ATTENDANCE_STATUSES = ("attended", "no_show")


class Event(db.Model):
    """One performance. The platform's id is `external_id`; purchases name it in
    `event.id` (customer_activities.event_id holds that text)."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id", name="uq_events_tenant_external"),
        # Upcoming and past lists, and the sweeps that look for events near a moment.
        Index("ix_events_tenant_starts", "tenant_id", "starts_at"),
        Index("ix_events_starts", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    doors_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    venue_name: Mapped[str | None] = mapped_column(String(300))
    venue_city: Mapped[str | None] = mapped_column(String(200))
    # The venue's IANA zone: reminders and calendar files keep its wall clock. None: the
    # organisation's zone.
    timezone: Mapped[str | None] = mapped_column(String(64))
    capacity: Mapped[int | None] = mapped_column(Integer)
    available: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="on_sale", server_default="on_sale")
    url: Mapped[str | None] = mapped_column(String(2000))
    image_url: Mapped[str | None] = mapped_column(String(2000))
    # iCalendar SEQUENCE: bumped on every change holders are told of, so calendars update.
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When attendance was settled (every holder attended or no_show).
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EventTag(db.Model):
    """A genre, artist, series or plain tag of an event: rows, so "events of artist X" is
    indexed SQL."""

    __tablename__ = "event_tags"
    __table_args__ = (Index("ix_event_tags_tenant_kind_value", "tenant_id", "kind", "value"),)

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))


class PurchaseItem(db.Model):
    """One line of a purchase: a quantity of one ticket type (tier, section, seat) at a price,
    optionally for a named attendee. `customer_id` is the buyer; `attendee_customer_id` the
    guest when they became a customer (only with their consent on record)."""

    __tablename__ = "purchase_items"
    __table_args__ = (
        Index("ix_purchase_items_tenant_event", "tenant_id", "event_id"),
        Index("ix_purchase_items_customer", "customer_id"),
        Index("ix_purchase_items_activity", "activity_id"),
        Index("ix_purchase_items_attendee", "attendee_customer_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    activity_id: Mapped[int] = mapped_column(ForeignKey("customer_activities.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"))
    ticket_type: Mapped[str | None] = mapped_column(String(100))
    tier: Mapped[str | None] = mapped_column(String(100))
    section: Mapped[str | None] = mapped_column(String(100))
    seat: Mapped[str | None] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    # The price of one ticket (None when the platform sent none).
    price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    attendee_email: Mapped[str | None] = mapped_column(String(320))
    attendee_first_name: Mapped[str | None] = mapped_column(String(100))
    attendee_last_name: Mapped[str | None] = mapped_column(String(100))
    attendee_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    # The purchase's time, so "bought a balcony seat in 2026" reads one table.
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EventAttendance(db.Model):
    """Whether a holder came: `attended` from the first scan at the gate, `no_show` written
    for every other holder when the event's attendance is settled."""

    __tablename__ = "event_attendance"
    __table_args__ = (Index("ix_event_attendance_customer", "customer_id", "status"),)

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    scans: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    first_scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The event's start, copied so "attended in the last 12 months" reads one table.
    event_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EventSalesTotal(db.Model):
    """What an event sold, kept as its purchases and line items are written and removed (by
    database triggers, migration 0026, like purchase_hours): orders, buyers and revenue of
    the purchases that name it, tickets of its line items. The events pages read these
    instead of grouping every purchase of every event shown (1.3 s for a page at a million
    customers)."""

    __tablename__ = "event_sales"

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    orders: Mapped[int] = mapped_column(Integer, default=0)
    buyers: Mapped[int] = mapped_column(Integer, default=0)
    revenue: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=0)
    tickets: Mapped[int] = mapped_column(Integer, default=0)


class EventBuyer(db.Model):
    """Each customer's purchases of an event, so the count of its buyers moves exactly when a
    customer's first purchase of it arrives or their last one is erased. No foreign key to
    the customer: an erased customer's rows go with their purchases' triggers."""

    __tablename__ = "event_buyers"

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    orders: Mapped[int] = mapped_column(Integer, default=0)
