"""Headline figures for a tenant's dashboard, each one set-based SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import Customer, CustomerActivity


@dataclass
class DashboardFigures:
    customers: int
    subscribed: int
    revenue_30d: Decimal
    orders_30d: int
    recent: list[tuple[CustomerActivity, Customer]]

    @property
    def subscribed_share(self) -> float:
        return self.subscribed / self.customers if self.customers else 0.0


def dashboard_figures(tenant_id: int, *, recent_limit: int = 15) -> DashboardFigures:
    customers, subscribed = db.session.execute(
        select(func.count(), func.count().filter(Customer.email_status == "subscribed"))
        .where(Customer.tenant_id == tenant_id)
    ).one()
    since = utcnow() - timedelta(days=30)
    revenue, orders = db.session.execute(
        select(func.coalesce(func.sum(CustomerActivity.amount), 0), func.count())
        .where(CustomerActivity.tenant_id == tenant_id, CustomerActivity.type == "purchase",
               CustomerActivity.occurred_at >= since)
    ).one()
    recent = db.session.execute(
        select(CustomerActivity, Customer)
        .join(Customer, Customer.id == CustomerActivity.customer_id)
        .where(CustomerActivity.tenant_id == tenant_id)
        .order_by(CustomerActivity.occurred_at.desc(), CustomerActivity.id.desc())
        .limit(recent_limit)
    ).all()
    return DashboardFigures(customers=customers, subscribed=subscribed,
                            revenue_30d=Decimal(str(revenue)), orders_30d=orders,
                            recent=[(a, c) for a, c in recent])
