"""purchase_hours, the dashboard's rollup: whatever writes or removes purchases (one at a time,
in batches, retried, erased with their customer), the rollup says what the raw purchases say,
hour by hour, tenant by tenant; and the dashboard reads it, not them."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.sql_support import sql_sent
from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import CustomerActivity, PurchaseHour
from webapp.services.customers import delete_customer, upsert_customer
from webapp.services.dashboard import dashboard_figures


def raw_hours(tenant_id: int) -> dict[datetime, tuple[int, Decimal]]:
    """What the raw purchases say, summed per hour here in Python."""
    orders: Counter = Counter()
    revenue: dict[datetime, Decimal] = {}
    for at, amount in db.session.execute(select(CustomerActivity.occurred_at, CustomerActivity.amount).where(
            CustomerActivity.tenant_id == tenant_id, CustomerActivity.type == "purchase")):
        hour = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        orders[hour] += 1
        revenue[hour] = revenue.get(hour, Decimal(0)) + (amount or Decimal(0))
    return {hour: (orders[hour], revenue[hour]) for hour in orders}


def rolled_hours(tenant_id: int) -> dict[datetime, tuple[int, Decimal]]:
    """What the rollup says; an hour whose purchases were all erased is a row of zeros."""
    db.session.expire_all()
    return {row.hour: (row.orders, row.revenue) for row in db.session.scalars(
        select(PurchaseHour).where(PurchaseHour.tenant_id == tenant_id)) if row.orders}


def purchase(customer_id: int, total, at: datetime, order_id: str) -> dict:
    return {"customer_id": customer_id, "type": "purchase", "occurred_at": at.isoformat(),
            "properties": {"order_total": total, "order_id": order_id}}


BASE = datetime(2026, 11, 1, tzinfo=UTC)
# Moments around hour and day edges, and amounts with cents or zero (the API requires one).
moments = st.integers(min_value=-3 * 3600, max_value=3 * 3600).map(lambda s: BASE + timedelta(seconds=s)) | \
    st.sampled_from([BASE, BASE - timedelta(microseconds=1), BASE + timedelta(minutes=59, seconds=59)])
totals = st.decimals(min_value=0, max_value=10_000, places=2) | st.just(0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(single=st.lists(st.tuples(st.integers(0, 2), totals, moments), max_size=6),
       batched=st.lists(st.tuples(st.integers(0, 2), totals, moments), max_size=12),
       retried=st.booleans(), erase=st.sampled_from([None, 0, 1, 2]))
def test_the_rollup_says_what_the_raw_purchases_say(api, api_b, tenant_a, tenant_b, single, batched, retried, erase):
    db.session.execute(PurchaseHour.__table__.delete().where(PurchaseHour.tenant_id.in_([tenant_a.id, tenant_b.id])))
    db.session.execute(CustomerActivity.__table__.delete().where(
        CustomerActivity.tenant_id.in_([tenant_a.id, tenant_b.id])))
    db.session.commit()
    people = [api.post("/customers", json={"email": f"p{i}@x.com"}).get_json()["id"] for i in range(3)]
    other = api_b.post("/customers", json={"email": "other@x.com"}).get_json()["id"]
    orders = []
    for n, (who, total, at) in enumerate(single):
        orders.append(purchase(people[who], float(total), at, f"s-{n}"))
        response = api.post("/activities", json=orders[-1])
        assert response.status_code == 201, response.get_json()
    items = [purchase(people[who], float(total), at, f"b-{n}")
             for n, (who, total, at) in enumerate(batched)]
    if items:
        assert {r["status"] for r in api.post("/activities/batch", json={"activities": items}).get_json()["results"]} \
            == {201}
    # Another tenant's purchases in the same hours, and retries of stored orders, count nowhere twice.
    assert api_b.post("/activities", json=purchase(other, 99.99, BASE, "other-1")).status_code == 201
    if retried and orders + items:
        again = (orders + items)[:3]
        assert api.post("/activities/batch", json={"activities": again}).status_code == 200
        assert api.post("/activities", json=again[0]).status_code in (200, 201)
    if erase is not None:
        delete_customer(tenant_a.id, people[erase])

    assert rolled_hours(tenant_a.id) == raw_hours(tenant_a.id)
    assert rolled_hours(tenant_b.id) == raw_hours(tenant_b.id) == {BASE: (1, Decimal("99.99"))}


def test_the_dashboard_reads_the_rollup_not_the_purchases(tenant_a):
    ann, _ = upsert_customer(tenant_a.id, {"email": "ann@x.com"})
    db.session.commit()
    with sql_sent() as statements:
        dashboard_figures(tenant_a.id)
    sums = [s for s in statements if "sum(" in s.lower()]
    assert sums and all("purchase_hours" in s and "customer_activities" not in s for s in sums)


def test_the_windows_begin_on_the_hour(tenant_a):
    """Thirty days back from now, rounded down to the hour: a purchase in that first hour
    counts, one just before it belongs to the previous 30 days."""
    ann, _ = upsert_customer(tenant_a.id, {"email": "ann@x.com"})
    db.session.commit()
    start = (utcnow() - timedelta(days=30)).replace(minute=0, second=0, microsecond=0)
    from webapp.services.activities import record_activity
    record_activity(tenant_a.id, "purchase", customer_id=ann.id, occurred_at=start,
                    properties={"order_total": 10, "order_id": "first-hour"})
    record_activity(tenant_a.id, "purchase", customer_id=ann.id, occurred_at=start - timedelta(microseconds=1),
                    properties={"order_total": 7, "order_id": "before"})
    db.session.commit()

    figures = dashboard_figures(tenant_a.id)

    assert (figures.orders_30d, figures.revenue_30d, figures.revenue_previous_30d) == (1, Decimal(10), Decimal(7))
