"""Customer segments and their membership."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.infra.types import JsonDoc, UTCDateTime, utcnow


class CustomerSegment(db.Model):
    __tablename__ = "customer_segments"
    __table_args__ = (Index("ix_customer_segments_tenant_id", "tenant_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    # The definition exactly as the marketer or integrator wrote it (validated on save).
    conditions: Mapped[list] = mapped_column(JsonDoc)
    match: Mapped[str] = mapped_column(String(3), default="all")
    # True when the clock alone can change membership ("within the last 30 days"): the
    # scheduler recalculates these periodically.
    time_relative: Mapped[bool] = mapped_column(Boolean, default=False)
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    calculated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CustomerSegmentMember(db.Model):
    __tablename__ = "customer_segment_members"
    __table_args__ = (
        # A customer's segments (real-time re-evaluation, the customer page).
        Index("ix_customer_segment_members_customer", "customer_id", "segment_id"),
    )

    segment_id: Mapped[int] = mapped_column(
        ForeignKey("customer_segments.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SegmentReachableCount(db.Model):
    """How many of a segment's members can be emailed (Customer.is_reachable), as deltas: the
    segment's count is the sum of its rows. The segments list and a segment's page read it
    instead of counting members (120 ms for one segment of a million, seconds for fifty).

    Kept by database triggers (migration 0033) on memberships and on customers' email status,
    so no way of moving a member or changing a status can forget it. Rows are only inserted
    (PostgreSQL) and folded into one per segment by a periodic job
    (kept_counts.fold_kept_counts): concurrent purchases and unsubscribes never wait
    for one another on a counter row. On SQLite each segment keeps one row."""

    __tablename__ = "segment_reachable_counts"
    __table_args__ = (Index("ix_segment_reachable_counts_segment", "segment_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("customer_segments.id", ondelete="CASCADE"))
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    reachable: Mapped[int] = mapped_column(BigInteger)
