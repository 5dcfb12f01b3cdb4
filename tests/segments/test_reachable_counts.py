"""A segment's reachable count (members who can be emailed) is kept by the database's triggers
as deltas (migration 0033) and read as their sum: whatever two tenants go through (customers
created with any status, segments made, recalculated and deleted, purchases and tag changes
moving members in real time, statuses changed one at a time and in batches, erasures,
rolled-back work, folds of the deltas), every segment's kept count equals a count of its
members who can be emailed, and one tenant's work never moves the other's counts."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, text

from webapp.extensions import db
from webapp.models import Customer, CustomerSegment, CustomerSegmentMember, SegmentReachableCount
from webapp.services import customers, segments
from webapp.services.kept_counts import fold
from webapp.services.rollups import rebuild_rollups
from webapp.services.segment_counts import reachable_counts

EMAILS = [f"fan{n}@example.com" for n in range(6)]
STATUSES = ["subscribed", "unsubscribed", "bounced", "complained"]
DEFINITIONS = [
    [{"type": "total_spent", "operator": ">=", "value": 10}],
    [{"type": "tag", "operator": "has", "value": "vip"}],
    # Membership and reachability move in the same statement when the status changes.
    [{"type": "email_status", "operator": "in", "value": ["subscribed", "bounced"]}],
    [{"type": "orders_count", "operator": ">=", "value": 0}],
]

operation = st.one_of(
    st.tuples(st.just("create"), st.sampled_from(EMAILS), st.sampled_from(STATUSES), st.booleans()),
    st.tuples(st.just("segment"), st.sampled_from(range(len(DEFINITIONS)))),
    st.tuples(st.just("calculate"), st.integers(0, 5)),
    st.tuples(st.just("purchase"), st.sampled_from(EMAILS), st.sampled_from([4, 11])),
    st.tuples(st.just("tags"), st.sampled_from(EMAILS), st.booleans()),
    st.tuples(st.just("status"), st.sampled_from(EMAILS), st.sampled_from(STATUSES)),
    st.tuples(st.just("batch status"), st.lists(st.sampled_from(EMAILS), min_size=1, max_size=4, unique=True),
              st.sampled_from(STATUSES)),
    st.tuples(st.just("erase"), st.sampled_from(EMAILS)),
    st.tuples(st.just("delete segment"), st.integers(0, 5)),
    st.tuples(st.just("rolled back"), st.sampled_from(EMAILS), st.sampled_from(STATUSES)),
    st.tuples(st.just("fold")),
)


def _customer_id(api, email: str) -> int | None:
    found = api.get(f"/customers?q={email}").get_json()["data"]
    return found[0]["id"] if found else None


def _segment_id(api, n: int) -> int | None:
    found = api.get("/segments").get_json()["data"]
    return found[n % len(found)]["id"] if found else None


def _run(api, app, step) -> None:  # noqa: C901  one branch per kind of step
    kind, *what = step
    if kind == "create":
        email, status, vip = what
        response = api.post("/customers", json={"email": email, "email_status": status, "tags": ["vip"] if vip else []})
        assert response.status_code in (200, 201), response.get_json()
    elif kind == "segment":
        response = api.post("/segments", json={"name": f"Segment {what[0]}", "conditions": DEFINITIONS[what[0]]})
        assert response.status_code == 201, response.get_json()
    elif kind == "calculate" and (segment_id := _segment_id(api, what[0])) is not None:
        assert api.post(f"/segments/{segment_id}/calculate").status_code == 200
    elif kind == "purchase":
        response = api.post("/activities", json={"type": "purchase", "customer": {"email": what[0]},
                                                 "properties": {"order_total": what[1]}})
        assert response.status_code in (200, 201), response.get_json()
    elif kind == "tags" and (customer_id := _customer_id(api, what[0])) is not None:
        assert api.patch(f"/customers/{customer_id}", json={"tags": ["vip"] if what[1] else []}).status_code == 200
    elif kind == "status" and (customer_id := _customer_id(api, what[0])) is not None:
        assert api.patch(f"/customers/{customer_id}", json={"email_status": what[1]}).status_code == 200
    elif kind == "batch status":
        emails, status = what
        response = api.post("/customers/batch", json={"customers": [{"email": e, "email_status": status}
                                                                    for e in emails]})
        assert response.status_code == 200, response.get_json()
    elif kind == "erase" and (customer_id := _customer_id(api, what[0])) is not None:
        assert api.delete(f"/customers/{customer_id}").status_code == 204
    elif kind == "delete segment" and (segment_id := _segment_id(api, what[0])) is not None:
        assert api.delete(f"/segments/{segment_id}").status_code == 204
    elif kind == "rolled back":
        with app.app_context():
            customer, _ = customers.upsert_customer(api.tenant.id, {"email": what[0], "email_status": what[1]},
                                                    commit=False)
            db.session.flush()
            for segment in segments.list_segments(api.tenant.id):
                db.session.merge(CustomerSegmentMember(segment_id=segment.id, customer_id=customer.id,
                                                       tenant_id=api.tenant.id))
            db.session.flush()
            db.session.rollback()
    elif kind == "fold":
        with app.app_context():
            fold("segment_reachable_counts")


def _counted(tenant_id: int) -> dict[int, int]:
    """Each segment's members who can be emailed, counted."""
    member = CustomerSegmentMember
    rows = db.session.execute(
        select(CustomerSegment.id, func.count(Customer.id))
        .outerjoin(member, member.segment_id == CustomerSegment.id)
        .outerjoin(Customer, (Customer.id == member.customer_id) & Customer.is_reachable)
        .where(CustomerSegment.tenant_id == tenant_id).group_by(CustomerSegment.id))
    return dict(rows.all())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.booleans(), operation), min_size=1, max_size=12))
def test_kept_reachable_counts_equal_counted_members_per_tenant(api, api_b, app, steps):
    for second, step in steps:
        _run(api_b if second else api, app, step)
    with app.app_context():
        for tenant in (api.tenant, api_b.tenant):
            counted = _counted(tenant.id)
            assert reachable_counts(tenant.id, list(counted)) == counted
        # No delta row of one tenant points at the other's segment.
        strays = db.session.scalar(select(func.count()).select_from(SegmentReachableCount).join(
            CustomerSegment, CustomerSegment.id == SegmentReachableCount.segment_id).where(
            CustomerSegment.tenant_id != SegmentReachableCount.tenant_id))
        assert strays == 0


def test_another_tenants_segment_ids_read_as_nothing(api, api_b, app):
    api.post("/customers", json={"email": "ada@example.com", "tags": ["vip"]})
    segment_id = api.post("/segments", json={"name": "VIPs", "conditions": DEFINITIONS[1]}).get_json()["id"]
    with app.app_context():
        assert reachable_counts(api.tenant.id, [segment_id]) == {segment_id: 1}
        assert reachable_counts(api_b.tenant.id, [segment_id]) == {segment_id: 0}


def test_folding_leaves_one_row_per_segment_and_the_same_counts(api, app):
    for n, status in enumerate(["subscribed", "subscribed", "unsubscribed", "subscribed"]):
        api.post("/customers", json={"email": f"fan{n}@example.com", "email_status": status, "tags": ["vip"]})
    segment_id = api.post("/segments", json={"name": "VIPs", "conditions": DEFINITIONS[1]}).get_json()["id"]
    for n in range(4):  # each status change and each real-time move adds a delta row
        customer_id = _customer_id(api, f"fan{n}@example.com")
        api.patch(f"/customers/{customer_id}", json={"email_status": "bounced" if n % 2 else "subscribed"})
    with app.app_context():
        before = reachable_counts(api.tenant.id, [segment_id])
        rows = db.session.scalar(select(func.count()).select_from(SegmentReachableCount)
                                 .where(SegmentReachableCount.segment_id == segment_id))
        folded = fold("segment_reachable_counts")
        after_rows = db.session.scalar(select(func.count()).select_from(SegmentReachableCount)
                                       .where(SegmentReachableCount.segment_id == segment_id))
        assert reachable_counts(api.tenant.id, [segment_id]) == before == {segment_id: 2}
        if db.engine.dialect.name == "postgresql":
            assert rows > 1 and folded == 1 and after_rows == 1
        else:  # SQLite's triggers keep one row per segment
            assert rows == after_rows == 1 and folded == 0


def test_deleting_a_tenant_takes_its_counts_along(app, tenant_b):
    from webapp.models import Tenant
    from webapp.services.customers import upsert_customer

    with app.app_context():
        upsert_customer(tenant_b.id, {"email": "ada@example.com", "tags": ["vip"]})
        segment = segments.create_segment(tenant_b.id, "VIPs", DEFINITIONS[1])
        db.session.commit()
        assert reachable_counts(tenant_b.id, [segment.id]) == {segment.id: 1}
        db.session.execute(delete(Tenant).where(Tenant.id == tenant_b.id))  # the database's cascades
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(SegmentReachableCount)) == 0


def test_the_rollups_rebuild_sums_the_counts_afresh(api, app):
    """After a bulk load with the triggers off (the demo seeder's), the rebuild counts them again."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the bulk load and its rebuild are PostgreSQL's")
    for n, status in enumerate(["subscribed", "bounced", "subscribed"]):
        api.post("/customers", json={"email": f"fan{n}@example.com", "email_status": status, "tags": ["vip"]})
    segment_id = api.post("/segments", json={"name": "VIPs", "conditions": DEFINITIONS[1]}).get_json()["id"]
    with app.app_context():
        db.session.execute(delete(SegmentReachableCount))
        db.session.execute(SegmentReachableCount.__table__.insert().values(
            segment_id=segment_id, tenant_id=api.tenant.id, reachable=7))
        rebuild_rollups(db.session)
        db.session.commit()
        assert reachable_counts(api.tenant.id, [segment_id]) == {segment_id: 2} == _counted(api.tenant.id)


def test_concurrent_unsubscribes_and_a_fold_never_wait_for_one_another(api, app):
    """Two transactions unsubscribing members of the same segment, and a fold, run side by
    side: none waits for another's row lock (each only inserts its deltas), and once all
    commit the count is right."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite writes one transaction at a time: no row locks")
    for name in ("ada", "bo", "cy"):
        api.post("/customers", json={"email": f"{name}@example.com", "tags": ["vip"]})
    segment_id = api.post("/segments", json={"name": "VIPs", "conditions": DEFINITIONS[1]}).get_json()["id"]
    ada, bo = _customer_id(api, "ada@example.com"), _customer_id(api, "bo@example.com")
    with app.app_context():
        first, second = db.engine.connect(), db.engine.connect()
        try:
            for conn, customer_id in ((first, ada), (second, bo)):
                conn.execute(text("SET LOCAL lock_timeout = '1s'"))
                conn.execute(text("UPDATE customers SET email_status = 'unsubscribed' WHERE id = :id"),
                             {"id": customer_id})
            db.session.execute(text("SET LOCAL lock_timeout = '1s'"))  # a wait would raise
            assert reachable_counts(api.tenant.id, [segment_id]) == {segment_id: 3}  # neither committed yet
            fold("segment_reachable_counts")
            first.commit()
            second.commit()
        finally:
            first.close()
            second.close()
        fold("segment_reachable_counts")
        assert reachable_counts(api.tenant.id, [segment_id]) == {segment_id: 1} == _counted(api.tenant.id)
