"""POST /api/crm/activities/batch and /customers/batch: one result per item, the single path's meaning."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.campaigns.campaign_support import ready_tenant
from webapp.extensions import db
from webapp.models import AutomationEnrollment, Customer, CustomerActivity, CustomerSegmentMember


@pytest.fixture
def ready(tenant_a):
    ready_tenant(tenant_a.id)
    return tenant_a


def batch(api, items, what="activities"):
    response = api.post(f"/{what}/batch", json={what: items})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["results"]


def new_customer(api, email: str) -> int:
    response = api.post("/customers", json={"email": email})
    assert response.status_code == 201
    return response.get_json()["id"]


def buy(customer, total, **properties):
    ref = {"customer_id": customer} if isinstance(customer, int) else {"customer": customer}
    return {**ref, "type": "purchase", "properties": {"order_total": total, **properties}}


def count(model, **where) -> int:
    stmt = select(func.count()).select_from(model)
    for name, value in where.items():
        stmt = stmt.where(getattr(model, name) == value)
    return db.session.scalar(stmt)


def aggregates(tenant_id: int) -> dict:
    rows = db.session.execute(select(Customer.email, Customer.total_spent, Customer.orders_count,
                                     Customer.last_order_at).where(Customer.tenant_id == tenant_id)).all()
    return {r.email: (r.total_spent, r.orders_count, r.last_order_at) for r in rows}


def test_results_come_back_in_request_order_with_their_status(api):
    ann = new_customer(api, "ann@x.com")
    results = batch(api, [
        buy(ann, 10, order_id="o-1"),
        {"customer_id": ann, "type": "note_added"},
        buy({"email": "new@x.com", "first_name": "Nia"}, 5),
        {"customer_id": ann, "type": "signup", "idempotency_key": "k-1"},
    ])
    assert [r["index"] for r in results] == [0, 1, 2, 3]
    assert [r["status"] for r in results] == [201, 201, 201, 201]
    ids = [r["id"] for r in results]
    assert len(set(ids)) == 4
    stored = {a.id: a for a in db.session.scalars(select(CustomerActivity).where(CustomerActivity.id.in_(ids)))}
    assert [stored[i].type for i in ids] == ["purchase", "note_added", "purchase", "signup"]
    nia = db.session.scalar(select(Customer).where(Customer.email == "new@x.com"))
    assert nia.first_name == "Nia" and float(nia.total_spent) == 5 and nia.orders_count == 1
    assert stored[ids[2]].customer_id == nia.id


def test_one_bad_item_never_fails_the_others_and_writes_nothing(api, tenant_a):
    ann = new_customer(api, "ann@x.com")
    results = batch(api, [
        buy(ann, 10, order_id="good-1"),
        buy(ann, -5, order_id="bad-1"),
        {"customer_id": ann, "type": "Not Snake"},
        {"customer": {"external_id": "nobody"}, "type": "signup"},
        buy({"email": "not-an-email"}, 3),
        "not an object",
        buy(ann, 2, order_id="good-2"),
    ])
    assert [r["status"] for r in results] == [201, 422, 422, 404, 422, 422, 201]
    assert results[1]["error"]["details"][0]["field"].startswith("properties.order_total")
    assert results[2]["error"]["details"][0]["field"] == "type"
    assert results[3]["error"]["code"] == "not_found"
    assert count(CustomerActivity, order_id="bad-1") == 0
    assert count(Customer, tenant_id=tenant_a.id) == 1  # the bad email created nobody
    assert aggregates(tenant_a.id)["ann@x.com"][:2] == (pytest.approx(12), 2)


def test_repeats_count_once_within_and_across_batches(api, tenant_a):
    ann = new_customer(api, "ann@x.com")
    first = batch(api, [buy(ann, 10, order_id="o-1"), buy(ann, 10, order_id="o-1"),
                        {"customer_id": ann, "type": "signup", "idempotency_key": "s-1"},
                        {"customer_id": ann, "type": "signup", "idempotency_key": "s-1"}])
    assert [r["status"] for r in first] == [201, 200, 201, 200]
    assert first[1]["id"] == first[0]["id"] and first[3]["id"] == first[2]["id"]
    again = batch(api, [buy(ann, 10, order_id="o-1"), {"customer_id": ann, "type": "signup",
                                                       "idempotency_key": "s-1"}])
    assert [(r["status"], r["id"]) for r in again] == [(200, first[0]["id"]), (200, first[2]["id"])]
    single = api.post("/activities", json=buy(ann, 10, order_id="o-1"))
    assert (single.status_code, single.get_json()["id"]) == (200, first[0]["id"])
    assert aggregates(tenant_a.id)["ann@x.com"][:2] == (pytest.approx(10), 1)


def test_another_tenants_customer_is_a_404_per_item(api, api_b, tenant_b):
    theirs = new_customer(api_b, "bee@x.com")
    mine = new_customer(api, "ann@x.com")
    results = batch(api, [buy(theirs, 10), buy(mine, 10), buy(999_999, 1)])
    assert [r["status"] for r in results] == [404, 201, 404]
    assert aggregates(tenant_b.id)["bee@x.com"][:2] == (0, 0)


def test_aggregates_match_the_single_path(api, api_b, tenant_a, tenant_b):
    """The same purchases through the batch for tenant A and one at a time for tenant B."""
    items = []
    for n in range(30):
        who = {"email": f"c{n % 7}@x.com"} if n % 3 else {"external_id": f"ext-{n % 4}", "email": f"e{n % 4}@x.com"}
        items.append({**buy(who, round(3.5 * n + 0.25, 2), order_id=f"o-{n % 25}"),
                      "occurred_at": f"2026-0{1 + n % 9}-1{n % 10}T10:00:00+02:00"})
    items.append({"customer": {"email": "c1@x.com"}, "type": "signup", "idempotency_key": "s"})
    results = batch(api, items)
    singles = [api_b.post("/activities", json=item) for item in items]
    assert [r["status"] for r in results] == [s.status_code for s in singles]
    assert aggregates(tenant_a.id) == aggregates(tenant_b.id)
    assert count(CustomerActivity, tenant_id=tenant_a.id) == count(CustomerActivity, tenant_id=tenant_b.id)


def test_a_purchase_past_max_money_is_refused_alone(api, tenant_a):
    ann = new_customer(api, "ann@x.com")
    results = batch(api, [buy(ann, 999_999_999_998), buy(ann, 5), buy(ann, 1)])
    assert [r["status"] for r in results] == [201, 422, 201]
    assert results[1]["error"]["details"][0]["field"] == "properties.order_total"
    assert aggregates(tenant_a.id)["ann@x.com"][:2] == (pytest.approx(999_999_999_999), 2)


def test_segments_and_purchase_workflows_follow_as_on_the_single_path(api, api_b, ready, tenant_b):
    ready_tenant(tenant_b.id)
    for client in (api, api_b):
        segment = client.post("/segments", json={"name": "Big", "conditions": [
            {"type": "total_spent", "operator": ">=", "value": 100}]})
        assert segment.status_code == 201
        workflow = client.post("/workflows", json={
            "name": "Thanks", "trigger_type": "purchase",
            "steps": [{"type": "send_email", "config": {"subject": "Thanks", "content": "<p>x</p>"}}]}).get_json()
        toggled = client.post(f"/workflows/{workflow['id']}/toggle", json={"active": True})
        assert toggled.status_code == 200, toggled.get_json()
    items = [buy({"email": f"c{n % 4}@x.com"}, 40 * (n % 3), order_id=f"o-{n}") for n in range(10)]
    batch(api, items)
    for item in items:
        api_b.post("/activities", json=item)

    def state(tenant_id):
        members = db.session.execute(select(Customer.email).join(
            CustomerSegmentMember, CustomerSegmentMember.customer_id == Customer.id)
            .where(Customer.tenant_id == tenant_id)).scalars().all()
        enrolled = db.session.scalar(select(func.count()).select_from(AutomationEnrollment)
                                     .where(AutomationEnrollment.tenant_id == tenant_id))
        entered = count(CustomerActivity, tenant_id=tenant_id, type="segment_entered")
        return sorted(members), enrolled, entered

    mine, theirs = state(api.tenant.id), state(tenant_b.id)
    assert mine == theirs
    assert mine[0] and mine[1] == 4  # once per customer: the workflow takes nobody twice


def test_413_past_a_thousand_items_and_past_the_body_limit(api):
    too_many = api.post("/activities/batch", json={"activities": [{"type": "x"}] * 1001})
    assert too_many.status_code == 413
    assert too_many.get_json()["error"]["code"] == "payload_too_large"
    huge = json.dumps({"activities": [{"type": "note", "customer_id": 1, "properties": {"t": "x" * 9_000}}] * 999})
    too_big = api.post("/activities/batch", data=huge, content_type="application/json")
    assert too_big.status_code == 413
    assert too_big.get_json()["error"]["code"] == "payload_too_large"
    # 2 MiB is fine here, past the 1 MiB of other routes.
    medium = json.dumps({"activities": [{"type": "note", "customer_id": 1, "properties": {"t": "x" * 2_000}}] * 999})
    assert api.post("/activities/batch", data=medium, content_type="application/json").status_code == 200


@pytest.mark.parametrize("body, field", [
    ({}, "activities"), ({"activities": {}}, "activities"), ({"activities": [], "extra": 1}, "extra"),
])
def test_a_body_that_is_not_a_list_of_activities_is_a_422_naming_the_field(api, body, field):
    response = api.post("/activities/batch", json=body)
    assert response.status_code == 422
    assert response.get_json()["error"]["details"][0]["field"] == field
    assert api.post("/activities/batch", json=[1]).status_code == 422


def test_customers_batch_creates_updates_and_refuses_per_item(api, api_b, tenant_a):
    theirs = new_customer(api_b, "bee@x.com")
    results = batch(api, [
        {"email": "ann@x.com", "external_id": "a-1", "tags": ["vip"]},
        {"email": "ann@x.com", "first_name": "Ann"},
        {"external_id": "nobody"},
        {"email": "bob@x.com", "total_spent": 150, "signup": True},
        {"email": "bee@x.com", "topics": [10**9]},
        {"email": "cat@x.com", "bogus": 1},
    ], what="customers")
    assert [r["status"] for r in results] == [201, 200, 422, 201, 422, 422]
    assert results[1]["id"] == results[0]["id"]
    assert results[5]["error"]["details"][0]["field"] == "bogus"
    ann = db.session.get(Customer, results[0]["id"])
    assert (ann.first_name, ann.external_id) == ("Ann", "a-1")
    assert count(Customer, tenant_id=tenant_a.id) == 2  # nothing for the refused items
    assert db.session.get(Customer, theirs).tenant_id != tenant_a.id
    assert count(CustomerActivity, tenant_id=tenant_a.id, type="signup") == 1


def test_customers_batch_moves_segments_in_and_out_with_their_counts(api):
    segment = api.post("/segments", json={"name": "VIP", "conditions": [{"type": "tag", "value": "vip"}]}).get_json()
    results = batch(api, [{"email": f"c{n}@x.com", "tags": ["vip"] if n % 2 else []} for n in range(6)],
                    what="customers")
    members = set(db.session.scalars(select(CustomerSegmentMember.customer_id)))
    assert members == {r["id"] for r in results[1::2]}
    assert count(CustomerActivity, type="segment_entered") == 3
    assert api.get(f"/segments/{segment['id']}").get_json()["member_count"] == 3
    # Tags only add in an upsert: a PATCH takes one out, then a batch brings in two more.
    api.patch(f"/customers/{results[1]['id']}", json={"tags": []})
    batch(api, [{"email": "c0@x.com", "tags": ["vip"]}, {"email": "c2@x.com", "tags": ["vip"]}], what="customers")
    assert api.get(f"/segments/{segment['id']}").get_json()["member_count"] == 4
    recalculated = api.post(f"/segments/{segment['id']}/calculate").get_json()
    assert (recalculated["member_count"], recalculated["added"], recalculated["removed"]) == (4, 0, 0)


def test_customers_batch_413_past_a_thousand(api):
    assert api.post("/customers/batch", json={"customers": [{}] * 1001}).status_code == 413


def test_purchases_with_an_event_and_ticket_scans_give_the_single_paths_result(api, api_b, tenant_a, tenant_b):
    items = [{**buy({"email": "ann@x.com"}, 30, order_id="o-ev",
                    event={"id": "ev-1", "name": "Gala", "starts_at": "2027-02-01T19:00:00+01:00"}),
              "occurred_at": "2026-12-01T10:00:00+00:00"},
             buy({"email": "ann@x.com"}, 30, order_id="o-ev"),
             {"customer": {"email": "ann@x.com"}, "type": "ticket_scanned",
              "properties": {"event": {"external_id": "ev-1"}, "ticket": "T-1"},
              "occurred_at": "2027-02-01T19:30:00+01:00"},
             {"customer": {"email": "ann@x.com"}, "type": "ticket_scanned",
              "properties": {"event": {"external_id": "nope"}, "ticket": "T-2"}}]
    results = batch(api, items)
    singles = [api_b.post("/activities", json=item) for item in items]
    assert [r["status"] for r in results] == [s.status_code for s in singles] == [201, 200, 201, 422]
    assert results[1]["id"] == results[0]["id"]

    def shape(tenant_id):
        rows = db.session.execute(select(CustomerActivity.type, CustomerActivity.event_id, CustomerActivity.event_name)
                                  .where(CustomerActivity.tenant_id == tenant_id)
                                  .order_by(CustomerActivity.id)).all()
        return [tuple(r) for r in rows]

    assert shape(tenant_a.id) == shape(tenant_b.id)
    assert aggregates(tenant_a.id) == aggregates(tenant_b.id)


def test_the_same_batch_sent_twice_at_once_counts_each_purchase_once(app, tenant_a):
    """Two deliveries racing: new customers and new orders meet on the unique keys
    (ON CONFLICT DO NOTHING), and the loser answers with the winner's rows."""
    import threading

    items = [buy({"email": f"race{n % 5}@x.com"}, 10, order_id=f"race-{n}") for n in range(40)]
    answers: list = [None, None]
    start = threading.Barrier(2)

    def send(slot: int) -> None:
        with app.app_context():
            client = app.test_client()
            start.wait()
            answers[slot] = client.post("/api/crm/activities/batch", json={"activities": items},
                                        headers={"Authorization": f"Bearer {tenant_a.token}"})

    threads = [threading.Thread(target=send, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first, second = (a.get_json()["results"] for a in answers)
    assert all(a.status_code == 200 for a in answers)
    assert [r["id"] for r in first] == [r["id"] for r in second]
    statuses = sorted(r["status"] for r in first + second)
    assert statuses == [200] * 40 + [201] * 40
    db.session.remove()
    totals = aggregates(tenant_a.id)
    assert sorted(totals) == [f"race{n}@x.com" for n in range(5)]
    assert all((float(spent), count) == (80.0, 8) for spent, count, _ in totals.values())


def test_a_customers_batch_moves_customers_out_of_segments_too(api):
    segment = api.post("/segments", json={"name": "Keen", "conditions": [
        {"type": "attribute", "key": "level", "operator": ">=", "value": 2}]}).get_json()
    batch(api, [{"email": f"k{n}@x.com", "attributes": {"level": 3}} for n in range(4)], what="customers")
    assert api.get(f"/segments/{segment['id']}").get_json()["member_count"] == 4
    results = batch(api, [{"email": f"k{n}@x.com", "attributes": {"level": 1}} for n in range(3)], what="customers")
    assert [r["status"] for r in results] == [200, 200, 200]
    assert api.get(f"/segments/{segment['id']}").get_json()["member_count"] == 1
    assert count(CustomerActivity, type="segment_exited") == 3
    recalculated = api.post(f"/segments/{segment['id']}/calculate").get_json()
    assert (recalculated["member_count"], recalculated["added"], recalculated["removed"]) == (1, 0, 0)


def _flows(client) -> None:
    """Purchase workflows of every re-entry policy, a threshold, an opening wait and a goal."""
    specs = [("Always", "always", {}, [{"type": "wait", "config": {"days": 2}}]),
             ("Once", "once", {"min_order_total": 50}, [{"type": "add_tag", "config": {"tag": "big"}}]),
             ("One at a time", "one_at_a_time", {}, [{"type": "wait", "config": {"hours": 3}},
                                                    {"type": "add_tag", "config": {"tag": "x"}}]),
             ("Never matches", "always", {"min_order_total": 10_000}, [{"type": "add_tag", "config": {"tag": "n"}}])]
    for name, reentry, config, steps in specs:
        body = {"name": name, "trigger_type": "purchase", "reentry": reentry, "trigger_config": config,
                "steps": steps}
        if name == "Always":
            body["goal"] = {"conditions": [{"type": "orders_count", "operator": ">=", "value": 2}]}
        created = client.post("/workflows", json=body)
        assert created.status_code == 201, created.get_json()
        toggled = client.post(f"/workflows/{created.get_json()['id']}/toggle", json={"active": True})
        assert toggled.status_code == 200, toggled.get_json()


def _enrollments(tenant_id: int) -> list:
    from webapp.models import AutomationStepExecution, AutomationWorkflow

    rows = db.session.execute(
        select(AutomationWorkflow.name, Customer.email, AutomationEnrollment.status, AutomationEnrollment.reentry_key,
               AutomationEnrollment.trigger_payload, AutomationEnrollment.next_run_at,
               AutomationEnrollment.enrolled_at, AutomationEnrollment.goal_met_at_entry,
               select(func.count()).where(AutomationStepExecution.enrollment_id == AutomationEnrollment.id)
               .scalar_subquery())
        .join(AutomationWorkflow, AutomationWorkflow.id == AutomationEnrollment.workflow_id)
        .join(Customer, Customer.id == AutomationEnrollment.customer_id)
        .where(AutomationEnrollment.tenant_id == tenant_id)).all()
    return sorted((name, email, status, key, payload["order_id"], None if due is None else due - at, met, traces)
                  for name, email, status, key, payload, due, at, met, traces in rows)


def _enrolled_timeline(tenant_id: int) -> list:
    from webapp.models import AutomationWorkflow

    names = dict(db.session.execute(select(AutomationWorkflow.id, AutomationWorkflow.name)
                                    .where(AutomationWorkflow.tenant_id == tenant_id)).all())
    rows = db.session.execute(select(Customer.email, CustomerActivity.properties)
                              .join(Customer, Customer.id == CustomerActivity.customer_id)
                              .where(CustomerActivity.tenant_id == tenant_id,
                                     CustomerActivity.type == "workflow_enrolled")).all()
    return sorted((email, tuple(names[w] for w in props["workflow_ids"]), len(props["enrollment_ids"]),
                   props["trigger"]) for email, props in rows)


def test_enrollments_waits_and_goals_from_a_batch_are_the_single_paths(api, api_b, tenant_a, tenant_b):
    """Four purchase workflows (always with an opening wait and a goal, once above a
    threshold, one at a time, one that matches nothing): a batch with customers buying
    twice gives the same enrollments, traces and timeline rows as one request each."""
    for client in (api, api_b):
        _flows(client)
    items = [buy({"email": f"c{n % 5}@x.com"}, [20, 60, 75][n % 3], order_id=f"o-{n}") for n in range(12)]
    results = batch(api, items)
    assert [r["status"] for r in results] == [201] * 12
    for item in items:
        assert api_b.post("/activities", json=item).status_code == 201
    mine = _enrollments(tenant_a.id)
    assert mine == _enrollments(tenant_b.id)
    assert _enrolled_timeline(tenant_a.id) == _enrolled_timeline(tenant_b.id)
    by_flow = {name: sum(1 for row in mine if row[0] == name) for name in ("Always", "Once", "One at a time")}
    assert by_flow == {"Always": 12, "Once": 5, "One at a time": 5}
    assert not any(row[0] == "Never matches" for row in mine)


def _tickets(tenant_id: int) -> dict:
    from webapp.models import ConsentRecord, Event, PurchaseItem

    events = db.session.execute(select(Event.external_id, Event.name, Event.starts_at, Event.venue_name, Event.url)
                                .where(Event.tenant_id == tenant_id)).all()
    lines = db.session.execute(
        select(CustomerActivity.order_id, Event.external_id, PurchaseItem.ticket_type, PurchaseItem.tier,
               PurchaseItem.seat, PurchaseItem.quantity, PurchaseItem.price, PurchaseItem.attendee_email,
               Customer.email)
        .join(CustomerActivity, CustomerActivity.id == PurchaseItem.activity_id)
        .outerjoin(Event, Event.id == PurchaseItem.event_id)
        .outerjoin(Customer, Customer.id == PurchaseItem.attendee_customer_id)
        .where(PurchaseItem.tenant_id == tenant_id)).all()
    people = db.session.execute(select(Customer.email, Customer.email_status).where(Customer.tenant_id == tenant_id)
                                ).all()
    consents = db.session.execute(select(Customer.email, ConsentRecord.source, ConsentRecord.granted)
                                  .join(Customer, Customer.id == ConsentRecord.customer_id)
                                  .where(ConsentRecord.tenant_id == tenant_id)).all()
    return {"events": sorted(map(tuple, events)), "lines": sorted(map(tuple, lines), key=repr),
            "people": sorted(map(tuple, people)), "consents": sorted(map(tuple, consents))}


def test_purchases_with_events_line_items_and_guests_match_the_single_path(api, api_b, tenant_a, tenant_b):
    """Events named by id or external_id (one unknown, created; its empty fields filled by a
    later purchase), line items with tiers and seats, a count of tickets without items, a
    guest with marketing consent (a new subscribed customer with the record), one without
    (no customer), one already known; a ticket segment follows the guests too."""
    gala = {"id": "ev-1", "name": "Gala", "starts_at": "2027-02-01T19:00:00+01:00"}
    items = [
        buy({"email": "ann@x.com"}, 90, order_id="o1", event=gala, items=[
            {"ticket_type": "Stalls", "tier": "A", "seat": "F12", "price": 45},
            {"ticket_type": "Stalls", "tier": "A", "seat": "F13", "price": 45,
             "attendee": {"email": "Guest@X.com", "first_name": "Gus", "marketing_consent": True}}]),
        buy({"email": "bob@x.com"}, 20, order_id="o2", event={"external_id": "ev-2"}, tickets=3),
        buy({"email": "cy@x.com"}, 40, order_id="o3", event={"external_id": "ev-2", "name": "Later name",
                                                             "url": "https://tickets.example.com/ev-2"},
            items=[{"ticket_type": "Standing", "quantity": 2,
                    "attendee": {"email": "nobody@x.com", "marketing_consent": False}}]),
        buy({"email": "dee@x.com"}, 10, order_id="o4", event=gala, items=[
            {"ticket_type": "Balcony", "attendee": {"email": "ann@x.com"}}]),
        buy({"email": "eve@x.com"}, 5, order_id="o5"),
    ]
    for client in (api, api_b):
        made = client.post("/segments", json={"name": "Stalls buyers", "conditions": [
            {"type": "ticket", "operator": "bought", "ticket_type": "Stalls"}]})
        assert made.status_code == 201, made.get_json()
    results = batch(api, items)
    singles = [api_b.post("/activities", json=item) for item in items]
    assert [r["status"] for r in results] == [s.status_code for s in singles] == [201] * 5
    mine, theirs = _tickets(tenant_a.id), _tickets(tenant_b.id)
    assert mine == theirs
    assert ("guest@x.com", "subscribed") in mine["people"] and not any(p[0] == "nobody@x.com" for p in mine["people"])
    assert len(mine["events"]) == 2 and len(mine["lines"]) == 5
    assert {k: v[:2] for k, v in aggregates(tenant_a.id).items()} == \
        {k: v[:2] for k, v in aggregates(tenant_b.id).items()}
    members = [sorted(db.session.scalars(select(Customer.email).join(
        CustomerSegmentMember, CustomerSegmentMember.customer_id == Customer.id)
        .where(Customer.tenant_id == t))) for t in (tenant_a.id, tenant_b.id)]
    assert members[0] == members[1] == ["ann@x.com"]
