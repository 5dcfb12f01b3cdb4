"""event_sales, what each event sold: whatever writes or removes purchases and line items (one
at a time, in batches, retried, an event known before or made by its first purchase, erased
customers), the rollup says what grouping the raw purchases and line items says, event by
event, and another tenant's events of the same platform ids stay apart."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from webapp.extensions import db
from webapp.models import Customer, CustomerActivity, Event, EventSalesTotal, PurchaseItem
from webapp.services.customers import delete_customer


def raw_sales(tenant_id: int) -> dict[str, tuple[int, int, int, Decimal]]:
    """{platform event id: (tickets, buyers, orders, revenue)} grouped from the raw rows: the
    queries the events pages ran before the rollup."""
    events = dict(db.session.execute(select(Event.external_id, Event.id).where(Event.tenant_id == tenant_id)).all())
    orders = {e: (n, b, Decimal(str(r))) for e, n, b, r in db.session.execute(
        select(CustomerActivity.event_id, func.count(), func.count(func.distinct(CustomerActivity.customer_id)),
               func.coalesce(func.sum(CustomerActivity.amount), 0))
        .where(CustomerActivity.tenant_id == tenant_id, CustomerActivity.type == "purchase",
               CustomerActivity.event_id.in_(list(events))).group_by(CustomerActivity.event_id))}
    tickets = dict(db.session.execute(select(PurchaseItem.event_id, func.sum(PurchaseItem.quantity)).where(
        PurchaseItem.tenant_id == tenant_id).group_by(PurchaseItem.event_id)).all())
    found = {}
    for external_id, event_id in events.items():
        n, b, r = orders.get(external_id, (0, 0, Decimal(0)))
        found[external_id] = (int(tickets.get(event_id) or 0), b, n, r)
    return {k: v for k, v in found.items() if v != (0, 0, 0, Decimal(0))}


def rolled_sales(tenant_id: int) -> dict[str, tuple[int, int, int, Decimal]]:
    db.session.expire_all()
    rows = db.session.execute(select(Event.external_id, EventSalesTotal).join(
        EventSalesTotal, EventSalesTotal.event_id == Event.id).where(Event.tenant_id == tenant_id)).all()
    found = {e: (s.tickets, s.buyers, s.orders, Decimal(str(s.revenue))) for e, s in rows}
    return {k: v for k, v in found.items() if v != (0, 0, 0, Decimal(0))}


def purchase(email: str, order_id: str, event: str | None, quantities: list[int], total: int) -> dict:
    named = {"event": {"external_id": event, "name": f"Show {event}"}} if event else {}
    items = {"items": [{"ticket_type": "Standing", "quantity": q, "price": 10} for q in quantities]} \
        if event and quantities else {}
    return {"customer": {"email": email}, "type": "purchase",
            "properties": {"order_total": total, "order_id": order_id, **named, **items}}


orders = st.tuples(st.integers(0, 2), st.sampled_from([None, "evt-1", "evt-2", "evt-3"]),
                   st.lists(st.integers(1, 4), max_size=2), st.integers(0, 500))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(known=st.booleans(), single=st.lists(orders, max_size=5), batched=st.lists(orders, max_size=8),
       retried=st.booleans(), erase=st.sampled_from([None, 0, 1]))
def test_the_rollup_says_what_the_raw_purchases_and_items_say(api, api_b, tenant_a, tenant_b, known, single,
                                                              batched, retried, erase):
    for model in (CustomerActivity, Event):
        db.session.execute(delete(model).where(model.tenant_id.in_([tenant_a.id, tenant_b.id])))
    db.session.commit()
    if known:  # an event the platform announced before selling it
        assert api.post("/events", json={"external_id": "evt-1", "name": "Announced"}).status_code == 201
    # Another tenant sells an event of the same platform id.
    assert api_b.post("/activities", json=purchase("b@x.com", "b-1", "evt-1", [5], 99)).status_code == 201
    sent = []
    for n, (who, event, quantities, total) in enumerate(single):
        sent.append(purchase(f"p{who}@x.com", f"s-{n}", event, quantities, total))
        assert api.post("/activities", json=sent[-1]).status_code == 201
    items = [purchase(f"p{who}@x.com", f"b-{n}", event, quantities, total)
             for n, (who, event, quantities, total) in enumerate(batched)]
    if items:
        results = api.post("/activities/batch", json={"activities": items}).get_json()["results"]
        assert {r["status"] for r in results} == {201}, results
    if retried and sent + items:
        assert api.post("/activities/batch", json={"activities": (sent + items)[:3]}).status_code == 200
    if erase is not None:
        customer_id = db.session.scalar(select(Customer.id).where(Customer.tenant_id == tenant_a.id,
                                                                  Customer.email == f"p{erase}@x.com"))
        if customer_id is not None:
            delete_customer(tenant_a.id, customer_id)

    assert rolled_sales(tenant_a.id) == raw_sales(tenant_a.id)
    assert rolled_sales(tenant_b.id) == raw_sales(tenant_b.id) == {"evt-1": (5, 1, 1, Decimal(99))}


def test_batches_racing_for_the_same_new_buyers_count_each_buyer_once(app, api, tenant_a, run_in_threads):
    """Three batches at once, each with the same five first-time buyers of one event (and one
    buyer of their own): the rollup's buyers, orders and tickets are the raw rows' (the set-based
    apply on PostgreSQL, the row triggers on SQLite)."""
    assert api.post("/events", json={"external_id": "evt-9", "name": "On sale"}).status_code == 201

    def send(i: int) -> int:
        items = [purchase(f"p{n}@x.com", f"r{i}-{n}", "evt-9", [2], 30) for n in range(5)]
        items.append(purchase(f"own{i}@x.com", f"r{i}-own", "evt-9", [1], 15))
        response = app.test_client().post("/api/crm/activities/batch", json={"activities": items},
                                          headers={"Authorization": f"Bearer {tenant_a.token}"})
        return response.status_code

    assert run_in_threads(app, 3, send) == [200, 200, 200]
    db.session.remove()
    assert rolled_sales(tenant_a.id) == raw_sales(tenant_a.id) == {"evt-9": (33, 8, 18, Decimal(495))}
