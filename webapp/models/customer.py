"""Customers of a tenant and their tags."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    func,
    literal_column,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.infra.types import JsonDoc, UTCDateTime, utcnow

EMAIL_STATUSES = ("subscribed", "unsubscribed", "bounced", "complained")
# Who may be emailed: every other status suppresses (unsubscribed, bounced, complained).
REACHABLE_STATUS = "subscribed"


class Customer(db.Model):
    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("tenant_id", "email", name="uq_customers_tenant_email"),
        UniqueConstraint("tenant_id", "external_id", name="uq_customers_tenant_external_id"),
        # Keyset pagination of the customer list, newest first.
        Index("ix_customers_tenant_id_id", "tenant_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    # Always stored lower-cased, which makes uniqueness case-insensitive on every backend.
    email: Mapped[str] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    external_id: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str | None] = mapped_column(String(64))
    attributes: Mapped[dict] = mapped_column(JsonDoc, default=dict)
    email_status: Mapped[str] = mapped_column(String(20), default="subscribed")
    total_spent: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    orders_count: Mapped[int] = mapped_column(Integer, default=0)
    last_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The latest human open or click of a campaign's email (the hit writer moves it; never
    # earlier than the last one stored): a purchase looks for a touch to credit only when
    # this falls within the attribution window.
    last_touched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    tag_rows: Mapped[list[CustomerTag]] = relationship(
        back_populates="customer",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="CustomerTag.tag",
    )

    @hybrid_property
    def is_reachable(self) -> bool:
        """The suppression rule, in one place: campaign snapshots, claims and the segment
        pages' reachable counts all read it (in SQL as `Customer.is_reachable`)."""
        return self.email_status == REACHABLE_STATUS

    @property
    def tags(self) -> list[str]:
        return [row.tag for row in self.tag_rows]

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


def search_name(first_name, last_name) -> ColumnElement[str]:
    """The lower-cased "first last" that the customer search matches a fragment against.

    One expression for the query and the trigram index, so PostgreSQL can match them: the
    constants are written into the SQL (not bound), as a bound '' would leave the planner of
    a prepared statement's generic plan an expression that differs from the index's."""
    return func.lower(func.coalesce(first_name, literal_column("''")) + literal_column("' '")
                      + func.coalesce(last_name, literal_column("''")))


# The search's trigram indexes, PostgreSQL only (migration 0024): `LIKE '%fragment%'` on the
# stored, already lower-cased email and on search_name() reads them instead of every row.
# They live in the migration alone, as Alembic would have SQLite build a model's index too
# (it ignores ddl_if); migrations/env.py keeps autogenerate from proposing to drop them.
SEARCH_TRIGRAM_INDEXES = ("ix_customers_email_trgm", "ix_customers_name_trgm")
# PostgreSQL-only indexes that only a migration declares: the trigram ones, and the unreachable
# customers (0033), which the segments' reachable-count triggers read.
MIGRATION_ONLY_INDEXES = (*SEARCH_TRIGRAM_INDEXES, "ix_customers_unreachable")


class CustomerCount(db.Model):
    """How many customers a tenant has: what the customers list shows as its total, never a
    count of the table (90 ms at a million customers, on every list page and search). Kept
    by database triggers on customers (migration 0032), so every way a customer is written
    or removed (the API one at a time and in batches, imports, signup forms, erasure) moves
    it in the same transaction; on PostgreSQL they run at commit, so the tenant's row is
    locked only while its transaction commits."""

    __tablename__ = "customer_counts"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    customers: Mapped[int] = mapped_column(BigInteger, default=0)


class CustomerTag(db.Model):
    __tablename__ = "customer_tags"
    __table_args__ = (Index("ix_customer_tags_tenant_tag", "tenant_id", "tag", "customer_id"),)

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(100), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))

    customer: Mapped[Customer] = relationship(back_populates="tag_rows")
