"""POST /api/crm/activities: purchases move aggregates once, customers are found or created."""

from __future__ import annotations

from decimal import Decimal

import pytest
from api_assertions import assert_error
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import SYSTEM_ACTIVITY_TYPES, Customer, CustomerActivity


def create_customer(api, **fields) -> dict:
    response = api.post("/customers", json={"email": "ann@x.com", **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def purchase(api, customer_id: int, total, **extra) -> object:
    properties = {"order_total": total, **extra.pop("properties", {})}
    return api.post("/activities", json={"customer_id": customer_id, "type": "purchase",
                                         "properties": properties, **extra})


def activity_count(**where) -> int:
    stmt = select(func.count()).select_from(CustomerActivity)
    for name, value in where.items():
        stmt = stmt.where(getattr(CustomerActivity, name) == value)
    return db.session.scalar(stmt)


# --- purchases and aggregates -----------------------------------------------------------

def test_purchase_moves_total_spent_orders_count_and_last_order_at(api):
    customer = create_customer(api)

    first = purchase(api, customer["id"], 49.9, occurred_at="2026-03-01T19:30:00+01:00",
                     properties={"order_id": "o-1", "currency": "EUR", "tickets": 2,
                                 "event": {"id": "ev-1", "name": "Jazz Night", "venue": "Hall A",
                                           "starts_at": "2026-04-01T20:00:00+02:00"}})
    second = purchase(api, customer["id"], 10, occurred_at="2026-03-05T10:00:00Z",
                      properties={"order_id": "o-2"})

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json["type"] == "purchase"
    assert first.json["properties"]["order_total"] == 49.9
    assert first.json["properties"]["event"]["name"] == "Jazz Night"
    body = api.get(f"/customers/{customer['id']}").json
    assert body["total_spent"] == pytest.approx(59.9)
    assert body["orders_count"] == 2
    assert body["last_order_at"].startswith("2026-03-05T10:00:00")
    assert db.session.get(Customer, customer["id"]).total_spent == Decimal("59.90")


def test_purchase_of_zero_counts_as_an_order(api):
    customer = create_customer(api)
    assert purchase(api, customer["id"], 0, properties={"order_id": "free-1"}).status_code == 201
    body = api.get(f"/customers/{customer['id']}").json
    assert (body["total_spent"], body["orders_count"]) == (0, 1)


def test_purchase_retry_with_the_same_order_id_does_not_double_count(api):
    customer = create_customer(api)

    first = purchase(api, customer["id"], 25, properties={"order_id": "o-1"})
    retry = purchase(api, customer["id"], 25, properties={"order_id": "o-1"})

    assert first.status_code == 201
    assert retry.status_code == 200
    assert retry.json == first.json
    body = api.get(f"/customers/{customer['id']}").json
    assert (body["total_spent"], body["orders_count"]) == (25, 1)
    assert activity_count(type="purchase") == 1


def test_numeric_and_string_order_ids_of_the_same_value_are_the_same_order(api):
    customer = create_customer(api)
    assert purchase(api, customer["id"], 5, properties={"order_id": 1001}).status_code == 201
    assert purchase(api, customer["id"], 5, properties={"order_id": "1001"}).status_code == 200
    assert api.get(f"/customers/{customer['id']}").json["orders_count"] == 1


def test_activity_retry_with_the_same_idempotency_key_is_stored_once(api):
    customer = create_customer(api)
    body = {"customer_id": customer["id"], "type": "page_view", "properties": {"path": "/tickets"},
            "idempotency_key": "delivery-7"}

    first = api.post("/activities", json=body)
    retry = api.post("/activities", json=body)

    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json["id"] == first.json["id"]
    assert retry.json["idempotency_key"] == "delivery-7"
    assert activity_count(idempotency_key="delivery-7") == 1


def test_purchase_retry_with_the_same_idempotency_key_does_not_double_count(api):
    customer = create_customer(api)
    for _ in range(2):
        purchase(api, customer["id"], 12.5, idempotency_key="k-1")
    body = api.get(f"/customers/{customer['id']}").json
    assert (body["total_spent"], body["orders_count"]) == (12.5, 1)


def test_idempotency_keys_are_per_tenant(api, api_b):
    a = create_customer(api)
    b = create_customer(api_b)
    assert purchase(api, a["id"], 5, idempotency_key="same", properties={"order_id": "o-1"}).status_code == 201
    assert purchase(api_b, b["id"], 7, idempotency_key="same", properties={"order_id": "o-1"}).status_code == 201
    assert api_b.get(f"/customers/{b['id']}").json["total_spent"] == 7


def test_last_order_at_keeps_the_latest_when_an_older_purchase_arrives_later(api):
    customer = create_customer(api)
    purchase(api, customer["id"], 10, occurred_at="2026-05-10T12:00:00+00:00", properties={"order_id": "new"})
    purchase(api, customer["id"], 10, occurred_at="2026-01-02T12:00:00+00:00", properties={"order_id": "old"})

    body = api.get(f"/customers/{customer['id']}").json
    assert body["last_order_at"].startswith("2026-05-10T12:00:00")
    assert body["orders_count"] == 2


def test_occurred_at_with_an_offset_is_stored_in_utc(api):
    customer = create_customer(api)
    response = api.post("/activities", json={"customer_id": customer["id"], "type": "signup",
                                             "occurred_at": "2026-05-01T19:30:00+02:00"})
    assert response.json["occurred_at"] == "2026-05-01T17:30:00+00:00"


def test_occurred_at_defaults_to_now(api):
    customer = create_customer(api)
    response = api.post("/activities", json={"customer_id": customer["id"], "type": "signup"})
    assert response.status_code == 201
    assert response.json["occurred_at"][:4] >= "2026"
    assert response.json["properties"] == {}


def test_purchase_other_properties_are_kept_as_sent(api):
    customer = create_customer(api)
    response = purchase(api, customer["id"], 30, properties={"order_id": "o-9", "channel": "box office",
                                                             "tickets": [{"seat": "A1"}]})
    assert response.json["properties"] == {"order_total": 30, "order_id": "o-9", "channel": "box office",
                                           "tickets": [{"seat": "A1"}]}


# --- naming the customer ------------------------------------------------------------------

def test_activity_names_the_customer_by_id(api):
    customer = create_customer(api)
    response = api.post("/activities", json={"customer_id": customer["id"], "type": "note",
                                             "properties": {"text": "called"}})
    assert response.status_code == 201
    assert response.json["customer_id"] == customer["id"]


def test_activity_names_the_customer_by_email_in_any_case(api):
    customer = create_customer(api, email="ann@x.com")
    response = api.post("/activities", json={"customer": {"email": "ANN@x.com"}, "type": "signup"})
    assert response.status_code == 201
    assert response.json["customer_id"] == customer["id"]
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 1


def test_activity_names_the_customer_by_external_id(api):
    customer = create_customer(api, external_id="tp-42")
    response = api.post("/activities", json={"customer": {"external_id": "tp-42"}, "type": "purchase",
                                             "properties": {"order_total": 15, "order_id": "o-1"}})
    assert response.status_code == 201
    assert response.json["customer_id"] == customer["id"]
    assert api.get(f"/customers/{customer['id']}").json["orders_count"] == 1


def test_activity_with_an_unknown_email_creates_the_customer(api):
    response = api.post("/activities", json={
        "customer": {"email": "New@X.com", "first_name": "Nia", "external_id": "tp-7"},
        "type": "purchase", "properties": {"order_total": 20, "order_id": "o-1"}})

    assert response.status_code == 201
    customer = api.get(f"/customers/{response.json['customer_id']}").json
    assert customer["email"] == "new@x.com"
    assert customer["first_name"] == "Nia"
    assert customer["external_id"] == "tp-7"
    assert (customer["orders_count"], customer["total_spent"]) == (1, 20)


def test_activity_with_an_unknown_external_id_and_no_email_is_a_404(api):
    assert_error(api.post("/activities", json={"customer": {"external_id": "ghost"}, "type": "signup"}),
                 404, code="not_found")
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 0
    assert activity_count() == 0


def test_activity_with_an_unknown_customer_id_is_a_404(api):
    assert_error(api.post("/activities", json={"customer_id": 999999, "type": "signup"}), 404)


def test_activity_without_any_customer_is_a_422_naming_customer_id(api):
    assert_error(api.post("/activities", json={"type": "signup"}), 422, field="customer_id")
    assert_error(api.post("/activities", json={"customer": {}, "type": "signup"}), 422, field="customer_id")


def test_activity_with_an_invalid_customer_email_is_a_422_naming_it(api):
    assert_error(api.post("/activities", json={"customer": {"email": "nope"}, "type": "signup"}),
                 422, field="customer.email")


# --- types and properties -----------------------------------------------------------------

def test_system_activity_types_are_refused(api):
    customer = create_customer(api)
    for system_type in sorted(SYSTEM_ACTIVITY_TYPES):
        assert_error(api.post("/activities", json={"customer_id": customer["id"], "type": system_type}),
                     422, field="type")
    assert activity_count() == 0


def test_activity_type_names_that_are_not_snake_case_are_refused(api):
    customer = create_customer(api)
    for bad_type in ["Purchase", "page-view", "page view", "1st_visit", "_hidden", "a" * 65, "", "späti",
                     "signup\n", " signup"]:
        assert_error(api.post("/activities", json={"customer_id": customer["id"], "type": bad_type}),
                     422, field="type", case=bad_type)
    assert activity_count() == 0


def test_custom_snake_case_types_are_accepted(api):
    customer = create_customer(api)
    for custom_type in ["page_view", "ticket_scan", "wishlist_added2", "x" * 64]:
        response = api.post("/activities", json={"customer_id": customer["id"], "type": custom_type})
        assert response.status_code == 201, (custom_type, response.json)
        assert response.json["type"] == custom_type


def test_purchase_with_a_bad_order_total_is_a_422_naming_properties_order_total(api):
    customer = create_customer(api)
    for properties in [{}, {"order_total": -1}, {"order_total": "12"}, {"order_total": None},
                       {"order_total": True}, {"order_total": 12.345}, {"order_total": [12]}]:
        response = api.post("/activities", json={"customer_id": customer["id"], "type": "purchase",
                                                 "properties": properties})
        assert_error(response, 422, field="properties.order_total", case=properties)
    assert activity_count() == 0
    assert api.get(f"/customers/{customer['id']}").json["orders_count"] == 0


def test_purchase_with_a_bad_currency_is_a_422_naming_it(api):
    customer = create_customer(api)
    assert_error(purchase(api, customer["id"], 5, properties={"currency": "euro"}), 422,
                 field="properties.currency")


def test_purchase_with_negative_tickets_is_a_422_naming_them(api):
    customer = create_customer(api)
    assert_error(purchase(api, customer["id"], 5, properties={"tickets": -2}), 422, field="properties.tickets")


def test_occurred_at_without_a_timezone_offset_is_a_422_naming_it(api):
    customer = create_customer(api)
    for occurred_at in ["2026-05-01T19:30:00", "2026-05-01 19:30", "yesterday", 1714590000]:
        response = api.post("/activities", json={"customer_id": customer["id"], "type": "signup",
                                                 "occurred_at": occurred_at})
        assert_error(response, 422, field="occurred_at", case=occurred_at)
    assert activity_count() == 0


def test_properties_must_be_an_object(api):
    customer = create_customer(api)
    assert_error(api.post("/activities", json={"customer_id": customer["id"], "type": "note",
                                               "properties": ["a"]}), 422, field="properties")


# --- concurrency ----------------------------------------------------------------------------



def test_twenty_concurrent_purchases_for_one_customer_are_all_counted(run_in_threads, app, tenant_a):
    with app.test_client() as setup:
        created = setup.post("/api/crm/customers", json={"email": "fan@x.com"}, headers=tenant_a.headers)
    customer_id = created.get_json()["id"]
    amounts = [Decimal(f"{10 + i}.{i:02d}") for i in range(20)]

    def buy(i: int) -> int:
        response = app.test_client().post("/api/crm/activities", headers=tenant_a.headers, json={
            "customer_id": customer_id, "type": "purchase",
            "occurred_at": f"2026-02-{i + 1:02d}T12:00:00+00:00",
            "properties": {"order_total": float(amounts[i]), "order_id": f"order-{i}"}})
        return response.status_code

    statuses = run_in_threads(app, 20, buy)

    assert statuses == [201] * 20, statuses
    db.session.expire_all()
    customer = db.session.get(Customer, customer_id)
    assert customer.orders_count == 20
    assert customer.total_spent == sum(amounts)
    assert customer.last_order_at.isoformat().startswith("2026-02-20T12:00:00")
    assert activity_count(type="purchase") == 20


def test_the_same_purchase_delivered_concurrently_is_counted_once(run_in_threads, app, tenant_a):
    from webapp.services.activities import record_activity

    with app.test_client() as setup:
        created = setup.post("/api/crm/customers", json={"email": "fan@x.com"}, headers=tenant_a.headers)
    customer_id = created.get_json()["id"]

    def deliver(_i: int):
        activity, was_created = record_activity(tenant_a.id, "purchase", customer_id=customer_id,
                                                properties={"order_total": 40, "order_id": "o-dup"})
        return activity.id, was_created

    results = run_in_threads(app, 8, deliver)

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert len({activity_id for activity_id, _ in results}) == 1
    assert sum(1 for _, was_created in results if was_created) == 1
    db.session.expire_all()
    customer = db.session.get(Customer, customer_id)
    assert (customer.orders_count, customer.total_spent) == (1, Decimal("40"))


def test_concurrent_first_activities_for_a_new_email_create_one_customer(run_in_threads, app, tenant_a):
    def first_purchase(i: int) -> int:
        response = app.test_client().post("/api/crm/activities", headers=tenant_a.headers, json={
            "customer": {"email": "Newcomer@X.com"}, "type": "purchase",
            "properties": {"order_total": 10, "order_id": f"first-{i}"}})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["customer_id"]

    results = run_in_threads(app, 6, first_purchase)

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert len(set(results)) == 1
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 1
    customer = db.session.get(Customer, results[0])
    assert (customer.orders_count, customer.total_spent) == (6, Decimal("60"))


def test_a_purchase_that_would_overflow_total_spent_is_a_422_and_changes_nothing(api):
    customer = create_customer(api)
    assert purchase(api, customer["id"], 600_000_000_000).status_code == 201
    before = activity_count()

    response = purchase(api, customer["id"], 500_000_000_000)

    assert_error(response, 422, field="properties.order_total")
    assert "999,999,999,999.99" in response.json["error"]["message"]
    assert activity_count() == before
    stored = api.get(f"/customers/{customer['id']}").json
    assert (stored["orders_count"], Decimal(str(stored["total_spent"]))) == (1, Decimal("600000000000"))


def test_a_retried_purchase_is_answered_with_the_stored_one_even_when_the_total_is_now_near_the_limit(api):
    """The buyer's aggregates move before the activity is stored: a retry of the purchase
    that brought the total near the limit would not fit again, and still gets its stored
    activity, not a 422."""
    customer = create_customer(api)
    first = purchase(api, customer["id"], 600_000_000_000, properties={"order_id": "big-1"})
    assert first.status_code == 201
    before = activity_count()

    again = purchase(api, customer["id"], 600_000_000_000, properties={"order_id": "big-1"})

    assert again.status_code == 200 and again.json["id"] == first.json["id"]
    assert activity_count() == before
    stored = api.get(f"/customers/{customer['id']}").json
    assert (stored["orders_count"], Decimal(str(stored["total_spent"]))) == (1, Decimal("600000000000"))


def test_one_purchase_takes_six_statements_with_segments_and_workflows_live(api):
    """The token (its own columns; the tenant row is not read), the customer found and its
    aggregates moved in one UPDATE ... RETURNING (whose row lock the segment refresh relies on), the INSERT ...
    ON CONFLICT DO NOTHING RETURNING (no savepoint, no check before it), no campaign credit
    lookup (no email ever reached this customer), the workflows' key with the segments'
    versions (one read, once for triggers, goals, wait_for and the probes), all the segments'
    probes with the current memberships (one statement), the enrollment (the workflow's
    re-entry policy keeps this customer out: nothing more). The stored row is answered
    without being read back. The second purchase is measured, after the token's once-a-minute last_used_at."""
    from tests.sql_support import sql_sent

    customer = create_customer(api)
    assert api.post("/segments", json={"name": "Any", "conditions": [
        {"type": "orders_count", "operator": ">=", "value": 1}]}).status_code == 201
    flow = api.post("/workflows", json={"name": "Later", "trigger_type": "purchase", "reentry": "once", "steps": [
        {"type": "wait", "config": {"days": 9}}]}).get_json()
    assert api.post(f"/workflows/{flow['id']}/toggle", json={"active": True}).status_code == 200
    assert purchase(api, customer["id"], 5, properties={"order_id": "first"}).status_code == 201
    with sql_sent() as sent:
        response = purchase(api, customer["id"], 7, properties={"order_id": "second"})
    statements = []
    for statement in sent:  # the verb, and the table it writes
        words = statement.split()
        table = {"INSERT": 2, "UPDATE": 1}.get(words[0])
        statements.append(f"{words[0]} {words[table]}" if table else words[0])

    assert response.status_code == 201 and response.get_json()["properties"]["order_id"] == "second"
    assert [s for s in statements if s.startswith(("SELECT", "UPDATE"))] == ["SELECT", "UPDATE customers"] + [
        "SELECT"] * 2, statements
    assert [s for s in statements if s.startswith("INSERT")] == ["INSERT customer_activities",
                                                                "INSERT automation_enrollments"]
    assert not [s for s in statements if s.startswith(("SAVEPOINT", "RELEASE"))]
