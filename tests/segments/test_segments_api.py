"""Segments through the API: definitions, validation, calculation, members, preview."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import CustomerActivity, CustomerSegmentMember

SEED = [{"type": "total_spent", "operator": ">=", "value": 100},
        {"type": "orders_count", "operator": ">=", "value": 3},
        {"type": "tag", "value": "vip"}]


def make_customer(api, email, *, spent=0, orders=0, tags=()):
    body = {"email": email, "total_spent": spent, "orders_count": orders, "tags": list(tags)}
    response = api.post("/customers", json=body)
    assert response.status_code == 201, response.json
    return response.json["id"]


def member_ids(segment_id):
    return set(db.session.scalars(select(CustomerSegmentMember.customer_id)
                                  .where(CustomerSegmentMember.segment_id == segment_id)))


def test_seed_conditions_work_exactly_as_written(api):
    both = make_customer(api, "both@example.com", spent=150, orders=3, tags=["vip"])
    make_customer(api, "poor@example.com", spent=50, orders=5, tags=["vip"])
    make_customer(api, "untagged@example.com", spent=500, orders=4)
    response = api.post("/segments", json={"name": "High value", "conditions": SEED})
    assert response.status_code == 201, response.json
    assert response.json["member_count"] == 1
    assert member_ids(response.json["id"]) == {both}


def test_invalid_operator_is_rejected_naming_the_item(api):
    conditions = [{"type": "total_spent", "operator": ">=", "value": 100},
                  {"type": "orders_count", "operator": ">>", "value": 3}]
    response = api.post("/segments", json={"name": "Bad", "conditions": conditions})
    assert response.status_code == 422
    assert response.json["error"]["message"] == (
        "conditions[1].operator: '>>' is not one of '=', '!=', '>', '>=', '<', '<='")
    assert response.json["error"]["details"][0]["field"] == "conditions[1].operator"
    assert api.get("/segments").json["data"] == []


@pytest.mark.parametrize("conditions, field", [
    ([{"type": "spent", "value": 1}], "conditions[0].type"),
    ([{"type": "total_spent", "operator": ">=", "value": "100"}], "conditions[0].value"),
    ([{"type": "tag"}], "conditions[0].value"),
    ([{"match": "any", "conditions": [{"type": "tag", "value": "a"}, {"type": "created_at",
                                                                       "operator": "before", "value": "soon"}]}],
     "conditions[0].conditions[1].value"),
    ([{"match": "any", "conditions": [{"match": "all", "conditions": [{"match": "any", "conditions": [
        {"match": "all", "conditions": [{"type": "tag", "value": "x"}]}]}]}]}],
     "conditions[0].conditions[0].conditions[0].conditions[0]"),
    ([{"type": "attribute", "key": "a b", "operator": "=", "value": 1}], "conditions[0].key"),
    ([{"type": "activity", "operator": "at_least", "value": 1}], "conditions[0].activity_type"),
])
def test_invalid_definitions_point_at_the_offending_item(api, conditions, field):
    response = api.post("/segments/preview", json={"conditions": conditions})
    assert response.status_code == 422, response.json
    assert response.json["error"]["details"][0]["field"] == field


def test_calculate_applies_the_diff_and_logs_entered_and_exited(api, tenant_a):
    a = make_customer(api, "a@example.com", tags=["vip"])
    b = make_customer(api, "b@example.com")
    seg = api.post("/segments", json={"name": "VIP", "conditions": [{"type": "tag", "value": "vip"}]}).json
    assert member_ids(seg["id"]) == {a}
    # Change data behind the real-time path's back, then recalculate from scratch.
    from webapp.models import CustomerTag
    db.session.execute(CustomerTag.__table__.delete().where(CustomerTag.customer_id == a))
    db.session.execute(CustomerTag.__table__.insert().values(customer_id=b, tenant_id=tenant_a.id, tag="vip"))
    db.session.commit()
    response = api.post(f"/segments/{seg['id']}/calculate")
    assert response.status_code == 200
    body = response.json
    assert (body["id"], body["member_count"], body["added"], body["removed"]) == (seg["id"], 1, 1, 1)
    assert body["calculated_at"]
    assert member_ids(seg["id"]) == {b}
    kinds = dict(db.session.execute(select(CustomerActivity.customer_id, CustomerActivity.type).where(
        CustomerActivity.type == "segment_exited")).all())
    assert kinds == {a: "segment_exited"}
    entered = set(db.session.scalars(select(CustomerActivity.customer_id).where(
        CustomerActivity.type == "segment_entered")))
    assert entered == {a, b}
    again = api.post(f"/segments/{seg['id']}/calculate").json
    assert (again["added"], again["removed"], again["member_count"]) == (0, 0, 1)


def test_purchase_moves_customer_into_segment_in_real_time(api):
    customer = make_customer(api, "buyer@example.com", tags=["vip"])
    seg = api.post("/segments", json={"name": "Big spenders", "conditions": SEED[:1]}).json
    assert seg["member_count"] == 0
    response = api.post("/activities", json={"customer_id": customer, "type": "purchase",
                                             "properties": {"order_total": 120, "order_id": "o-1"}})
    assert response.status_code == 201
    assert api.get(f"/segments/{seg['id']}").json["member_count"] == 1
    timeline = api.get(f"/customers/{customer}/timeline?type=segment_entered").json["data"]
    assert [t["properties"]["segment_id"] for t in timeline] == [seg["id"]]


def test_members_coming_and_going_are_not_edits_of_the_segment(api):
    """Counts move with every member in and out; the segment's updated_at (when it was last
    edited, and the version its real-time probe is cached by) stays."""
    from webapp.models import CustomerSegment

    customer = make_customer(api, "buyer@example.com", tags=["vip"])
    seg = api.post("/segments", json={"name": "Big spenders", "conditions": SEED[:1]}).json
    edited = db.session.get(CustomerSegment, seg["id"]).updated_at
    for n in range(2):
        response = api.post("/activities", json={"customer_id": customer, "type": "purchase",
                                                 "properties": {"order_total": 120, "order_id": f"o-{n}"}})
        assert response.status_code == 201
    assert api.delete(f"/customers/{customer}").status_code in (200, 204)
    db.session.expire_all()
    segment = db.session.get(CustomerSegment, seg["id"])
    assert (segment.member_count, segment.updated_at) == (0, edited)


def test_tag_removal_and_erasure_move_customers_out(api):
    a = make_customer(api, "a@example.com", tags=["vip"])
    b = make_customer(api, "b@example.com", tags=["vip"])
    seg = api.post("/segments", json={"name": "VIP", "conditions": [{"type": "tag", "value": "vip"}]}).json
    assert seg["member_count"] == 2
    assert api.patch(f"/customers/{a}", json={"tags": []}).status_code == 200
    assert api.get(f"/segments/{seg['id']}").json["member_count"] == 1
    assert api.delete(f"/customers/{b}").status_code == 204
    assert api.get(f"/segments/{seg['id']}").json["member_count"] == 0
    assert member_ids(seg["id"]) == set()


def test_update_recalculates_and_members_are_paginated(api):
    ids = {make_customer(api, f"c{i}@example.com", spent=i * 10) for i in range(7)}
    seg = api.post("/segments", json={"name": "Any", "conditions": [{"type": "total_spent", "operator": ">",
                                                                     "value": 1000}]}).json
    assert seg["member_count"] == 0
    patched = api.patch(f"/segments/{seg['id']}", json={"conditions": [
        {"type": "total_spent", "operator": ">=", "value": 0}]})
    assert patched.status_code == 200 and patched.json["member_count"] == 7
    seen, cursor = [], None
    while True:
        page = api.get(f"/segments/{seg['id']}/members?limit=3" + (f"&cursor={cursor}" if cursor else "")).json
        seen += [c["id"] for c in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 7


def test_preview_counts_and_samples_without_saving(api):
    make_customer(api, "a@example.com", spent=200)
    make_customer(api, "b@example.com", spent=20)
    response = api.post("/segments/preview", json={"conditions": [{"type": "total_spent", "operator": ">",
                                                                   "value": 100}]})
    assert response.status_code == 200
    assert response.json["count"] == 1
    assert [c["email"] for c in response.json["sample"]] == ["a@example.com"]
    assert api.get("/segments").json["data"] == []


def test_other_tenants_customers_never_match(api, api_b):
    make_customer(api, "a@example.com", tags=["vip"])
    make_customer(api_b, "b@example.com", tags=["vip"])
    seg = api.post("/segments", json={"name": "VIP", "conditions": [{"type": "tag", "value": "vip"}]}).json
    assert seg["member_count"] == 1
    assert api_b.get(f"/segments/{seg['id']}").status_code == 404
    assert api_b.post(f"/segments/{seg['id']}/calculate").status_code == 404
    assert api_b.get(f"/segments/{seg['id']}/members").status_code == 404


def test_concurrent_calculations_do_not_corrupt_membership(run_in_threads, app, api, tenant_a):
    for i in range(30):
        make_customer(api, f"c{i}@example.com", tags=["vip"] if i % 2 else [])
    seg = api.post("/segments", json={"name": "VIP", "conditions": [{"type": "tag", "value": "vip"}]}).json
    db.session.execute(CustomerSegmentMember.__table__.delete())
    db.session.commit()
    from webapp.services.segments import calculate_segment

    results = run_in_threads(app, 4, lambda i: calculate_segment(tenant_a.id, seg["id"]))
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert len(member_ids(seg["id"])) == 15
    assert api.get(f"/segments/{seg['id']}").json["member_count"] == 15
    entered = db.session.scalar(select(func.count()).select_from(CustomerActivity).where(
        CustomerActivity.type == "segment_entered"))
    assert entered == 15 + 15  # once at creation, once after the rows were wiped; never per thread


def test_crm_service_creates_a_segment_like_the_specification(app, tenant_a, api):
    from webapp.services.crm import CRMService

    make_customer(api, "rich@example.com", spent=900)
    segment = CRMService().create_segment({"tenant_id": tenant_a.id, "name": "High Value",
                                           "conditions": [{"type": "total_spent", "operator": ">=", "value": 500}]})
    assert segment.member_count == 1


def test_time_relative_segments_are_recalculated_by_the_periodic_job(app, api, tenant_a, runner, redis_server):
    from redis import Redis

    from webapp.tasks.schedule import enqueue_due, periodic_jobs

    customer = make_customer(api, "a@example.com")
    seg = api.post("/segments", json={"name": "Recent", "conditions": [
        {"type": "created_at", "operator": "within_last_days", "value": 1}]}).json
    assert seg["time_relative"] is True and seg["member_count"] == 1
    db.session.execute(CustomerSegmentMember.__table__.delete())
    db.session.commit()
    assert "segments-time-relative" in enqueue_due(Redis.from_url(redis_server.url), periodic_jobs())
    result = runner.invoke(args=["crm", "worker", "--burst", "--no-scheduler"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert member_ids(seg["id"]) == {customer}
