"""dashboard_figures: headline numbers of one tenant."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from webapp.infra.types import utcnow
from webapp.services.activities import record_activity
from webapp.services.customers import upsert_customer
from webapp.services.dashboard import dashboard_figures


def buy(tenant_id: int, customer_id: int, total, days_ago: float, order_id: str) -> None:
    record_activity(tenant_id, "purchase", customer_id=customer_id, occurred_at=utcnow() - timedelta(days=days_ago),
                    properties={"order_total": total, "order_id": order_id})


def test_an_empty_tenant_has_zero_figures(tenant_a):
    figures = dashboard_figures(tenant_a.id)
    assert (figures.customers, figures.subscribed, figures.orders_30d) == (0, 0, 0)
    assert figures.revenue_30d == 0
    assert figures.subscribed_share == 0.0
    assert figures.recent == []


def test_counts_customers_and_the_subscribed_share(tenant_a, tenant_b):
    for i, status in enumerate(["subscribed", "subscribed", "subscribed", "unsubscribed", "bounced"]):
        upsert_customer(tenant_a.id, {"email": f"c{i}@x.com", "email_status": status})
    upsert_customer(tenant_b.id, {"email": "other@x.com"})

    figures = dashboard_figures(tenant_a.id)

    assert (figures.customers, figures.subscribed) == (5, 3)
    assert figures.subscribed_share == 0.6


def test_revenue_and_orders_cover_the_last_30_days_of_this_tenant_only(tenant_a, tenant_b):
    ann, _ = upsert_customer(tenant_a.id, {"email": "ann@x.com"})
    bob, _ = upsert_customer(tenant_a.id, {"email": "bob@x.com"})
    other, _ = upsert_customer(tenant_b.id, {"email": "other@x.com"})
    buy(tenant_a.id, ann.id, 10.10, 1, "a-1")
    buy(tenant_a.id, bob.id, 20.20, 29, "a-2")
    buy(tenant_a.id, ann.id, 0, 2, "a-free")
    buy(tenant_a.id, ann.id, 500, 31, "a-old")      # older than 30 days
    buy(tenant_a.id, bob.id, 700, 400, "a-older")
    buy(tenant_b.id, other.id, 999, 1, "b-1")       # another tenant
    record_activity(tenant_a.id, "signup", customer_id=ann.id)

    figures = dashboard_figures(tenant_a.id)

    assert figures.orders_30d == 3
    assert figures.revenue_30d == Decimal("30.30")
    assert isinstance(figures.revenue_30d, Decimal)


def test_recent_activity_is_newest_first_across_customers_of_this_tenant(tenant_a, tenant_b):
    ann, _ = upsert_customer(tenant_a.id, {"email": "ann@x.com"})
    bob, _ = upsert_customer(tenant_a.id, {"email": "bob@x.com"})
    other, _ = upsert_customer(tenant_b.id, {"email": "other@x.com"})
    buy(tenant_a.id, ann.id, 5, 3, "a-1")
    record_activity(tenant_a.id, "signup", customer_id=bob.id, occurred_at=utcnow() - timedelta(days=1))
    record_activity(tenant_b.id, "signup", customer_id=other.id)

    figures = dashboard_figures(tenant_a.id, recent_limit=10)

    assert [(a.type, c.email) for a, c in figures.recent] == [("signup", "bob@x.com"), ("purchase", "ann@x.com")]
    assert len(dashboard_figures(tenant_a.id, recent_limit=1).recent) == 1
