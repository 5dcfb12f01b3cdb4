"""Headline figures for a tenant's dashboard, each one set-based SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.infra.types import hour_of, utcnow
from webapp.models import Customer, CustomerActivity, PurchaseHour

WINDOW_DAYS = 30


@dataclass
class DashboardFigures:
    customers: int
    subscribed: int
    revenue_30d: Decimal
    orders_30d: int
    recent: list[tuple[CustomerActivity, Customer]]
    # The 30 days before those: the revenue trend's baseline.
    revenue_previous_30d: Decimal = Decimal(0)
    # Customers who placed an order in the last 30 days (what the revenue link lists).
    buyers_30d: int = 0

    @property
    def subscribed_share(self) -> float:
        return self.subscribed / self.customers if self.customers else 0.0

    @property
    def revenue_change(self) -> float | None:
        """The revenue's change against the previous 30 days (0.12 for +12%); None when
        there was none then (no baseline to compare with)."""
        if not self.revenue_previous_30d:
            return None
        return float((self.revenue_30d - self.revenue_previous_30d) / self.revenue_previous_30d)


def window_start(now: datetime | None = None, *, windows: int = 1) -> datetime:
    """Where the last `windows` periods of 30 days begin: the one rule for "last 30 days"."""
    return (now or utcnow()) - timedelta(days=WINDOW_DAYS * windows)


def dashboard_figures(tenant_id: int, *, recent_limit: int = 15) -> DashboardFigures:
    """The headline figures: customers, subscribed and recent buyers (those the "ordered in
    the last 30 days" list shows) in one pass over the tenant's customers; revenue and orders
    from the hourly rollup (purchase_hours), never the raw purchases, so their 30-day windows
    begin on the hour, as the rollup's rows do."""
    now = utcnow()
    start = window_start(now)
    since, before = hour_of(start), hour_of(window_start(now, windows=2))
    customers, subscribed, buyers = db.session.execute(
        select(func.count(), func.count().filter(Customer.email_status == "subscribed"),
               func.count().filter(Customer.last_order_at >= start))
        .where(Customer.tenant_id == tenant_id)
    ).one()
    current = PurchaseHour.hour >= since
    revenue, orders, previous = db.session.execute(
        select(func.coalesce(func.sum(PurchaseHour.revenue).filter(current), 0),
               func.coalesce(func.sum(PurchaseHour.orders).filter(current), 0),
               func.coalesce(func.sum(PurchaseHour.revenue).filter(PurchaseHour.hour < since), 0))
        .where(PurchaseHour.tenant_id == tenant_id, PurchaseHour.hour >= before)
    ).one()
    recent = db.session.execute(
        select(CustomerActivity, Customer)
        .join(Customer, Customer.id == CustomerActivity.customer_id)
        .where(CustomerActivity.tenant_id == tenant_id)
        .order_by(CustomerActivity.occurred_at.desc(), CustomerActivity.id.desc())
        .limit(recent_limit)
    ).all()
    return DashboardFigures(customers=customers, subscribed=subscribed,
                            revenue_30d=Decimal(str(revenue)), orders_30d=int(orders),
                            recent=[(a, c) for a, c in recent], revenue_previous_30d=Decimal(str(previous)),
                            buyers_30d=buyers)
