"""The customers list's total comes from customer_counts, which the database's triggers keep
(migration 0032): whatever mix of single creates, upserts of known customers, batches,
purchases naming a new buyer, erasures and rolled-back work two tenants go through, each
tenant's count is the number of its rows, and the other tenant's is untouched."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Customer
from webapp.services import customers

EMAILS = [f"fan{n}@example.com" for n in range(8)]

operation = st.one_of(
    st.tuples(st.just("create"), st.sampled_from(EMAILS)),  # a new customer, or an upsert of a known one
    st.tuples(st.just("batch"), st.lists(st.sampled_from(EMAILS), min_size=1, max_size=5)),
    st.tuples(st.just("purchase"), st.sampled_from(EMAILS)),  # the buyer upserted inline
    st.tuples(st.just("erase"), st.sampled_from(EMAILS)),
    st.tuples(st.just("rolled back"), st.sampled_from(EMAILS)),
)


def _stored(tenant_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Customer).where(Customer.tenant_id == tenant_id))


def _run(api, app, step) -> None:
    kind, what = step
    if kind == "create":
        assert api.post("/customers", json={"email": what}).status_code in (200, 201)
    elif kind == "batch":
        response = api.post("/customers/batch", json={"customers": [{"email": e} for e in what]})
        assert response.status_code == 200, response.get_json()
    elif kind == "purchase":
        response = api.post("/activities", json={"type": "purchase", "customer": {"email": what},
                                                 "properties": {"order_total": 5}})
        assert response.status_code in (200, 201), response.get_json()
    elif kind == "erase":
        found = api.get(f"/customers?q={what}").get_json()["data"]
        for customer in found:
            assert api.delete(f"/customers/{customer['id']}").status_code == 204
    else:
        with app.app_context():
            customers.upsert_customer(api.tenant.id, {"email": what})
            db.session.flush()
            db.session.rollback()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.booleans(), operation), min_size=1, max_size=8))
def test_the_count_is_the_number_of_rows_per_tenant(api, api_b, app, steps):
    for second, step in steps:
        _run(api_b if second else api, app, step)
    with app.app_context():
        for tenant in (api.tenant, api_b.tenant):
            assert customers.count_customers(tenant.id) == _stored(tenant.id)

