"""Regressions of hostile input that once reached a 500 or left a tenant broken: each names
the class of input, where it is refused, and that nothing was stored."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from api_assertions import assert_error
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import (
    AutomationEnrollment,
    AutomationStep,
    AutomationStepExecution,
    AutomationWorkflow,
    Customer,
    CustomerActivity,
    CustomerSegment,
    Event,
)

HERE = "@@literal@@"


def with_literal(body: dict, literal: str) -> str:
    """`body` as JSON text with the raw `literal` (NaN, 1e400...) where HERE stands."""
    return json.dumps(body).replace(json.dumps(HERE), literal)


def raw(api, method: str, path: str, text: str):
    return api._call(method, path, data=text, content_type="application/json")


def count(model) -> int:
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def customer_id(api) -> int:
    return api.post("/customers", json={"email": "ann@alpha.example.com"}).get_json()["id"]


# --- NaN, Infinity and numbers past 64 bits in free-form JSON ------------------------------

@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "1e20", str(2**63), str(-(2**64))])
def test_non_finite_or_oversized_numbers_in_attributes_are_a_422_naming_the_key(api, literal):
    response = raw(api, "POST", "/customers", with_literal({"email": "bo@alpha.example.com",
                                                            "attributes": {"score": HERE}}, literal))
    assert_error(response, 422, code="validation_error", field="attributes.score")
    assert count(Customer) == 0


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "1e400"])
def test_non_finite_numbers_in_properties_payloads_and_configs_are_refused(api, customer_id, literal):
    cases = [
        ("POST", "/activities", {"customer_id": customer_id, "type": "scan", "properties": {"gate": {"n": HERE}}},
         "properties.gate.n"),
        ("POST", "/triggers", {"type": "custom", "customer_id": customer_id, "payload": {"x": [HERE]}}, "payload.x[0]"),
        ("POST", "/workflows", {"name": "W", "trigger_type": "purchase", "trigger_config": {"min_order_total": HERE}},
         "trigger_config.min_order_total"),
        ("POST", "/segments", {"name": "S", "conditions": [{"type": "total_spent", "operator": ">", "value": HERE}]},
         "conditions[0].value"),
    ]
    for method, path, body, field in cases:
        assert_error(raw(api, method, path, with_literal(body, literal)), 422, field=field, case=path)
    assert (count(CustomerActivity), count(AutomationWorkflow), count(CustomerSegment)) == (0, 0, 0)


def test_a_response_is_always_strict_json(api, customer_id):
    # What once went in as NaN came back as NaN: a body no strict parser reads.
    raw(api, "PATCH", f"/customers/{customer_id}", '{"attributes": {"score": NaN}}')
    text = api.get(f"/customers/{customer_id}").get_data(as_text=True)
    json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in a response"))


# --- numbers past the columns --------------------------------------------------------------

@pytest.mark.parametrize("condition,field", [
    ({"type": "orders_count", "operator": ">=", "value": 10**30}, "conditions[0].value"),
    ({"type": "orders_count", "operator": ">=", "value": 2**31}, "conditions[0].value"),
    ({"type": "total_spent", "operator": ">=", "value": 10**13}, "conditions[0].value"),
    ({"type": "activity", "operator": "at_least", "activity_type": "purchase", "value": 2**40}, "conditions[0].value"),
    ({"type": "attribute", "operator": ">", "key": "score", "value": 10**30}, "conditions[0].value"),
    ({"type": "email_engagement", "operator": "opened", "campaign_id": 2**40}, "conditions[0].campaign_id"),
])
def test_condition_values_past_what_the_column_holds_are_a_422(api, condition, field):
    assert_error(api.post("/segments", json={"name": "S", "conditions": [condition]}), 422, field=field)
    assert_error(api.post("/segments/preview", json={"conditions": [condition]}), 422, field=field)
    assert count(CustomerSegment) == 0


@pytest.mark.parametrize("value", [10**30, 2**63, "1" * 40])
def test_a_cursor_holding_a_huge_number_is_a_422_naming_the_cursor(api, customer_id, value):
    cursor = base64.urlsafe_b64encode(json.dumps([value]).encode()).decode().rstrip("=")
    for path in ("/customers", "/segments", "/campaigns", "/workflows"):
        assert_error(api.get(path, query_string={"cursor": cursor}), 422, field="cursor", case=path)
    timeline = base64.urlsafe_b64encode(json.dumps(["2026-01-01T00:00:00+00:00", value]).encode()).decode()
    assert_error(api.get(f"/customers/{customer_id}/timeline", query_string={"cursor": timeline}), 422,
                 field="cursor")


def test_a_deeply_nested_cursor_is_a_422(api):
    cursor = base64.urlsafe_b64encode(("[" * 5000 + "]" * 5000).encode()).decode()
    assert_error(api.get("/customers", query_string={"cursor": cursor}), 422, field="cursor")


def test_an_empty_order_id_is_no_order_id(api, customer_id):
    for _ in range(2):
        response = api.post("/activities", json={"customer_id": customer_id, "type": "purchase",
                                                 "properties": {"order_total": 10, "order_id": ""}})
        assert response.status_code == 201
    assert api.get(f"/customers/{customer_id}").get_json()["orders_count"] == 2


# --- dates at the edge of the calendar -----------------------------------------------------

EDGES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1899-12-31T23:59:59+00:00",
         "3000-01-01T00:00:00+00:00"]


@pytest.mark.parametrize("edge", EDGES)
def test_moments_outside_the_calendar_are_a_422_naming_the_field(api, customer_id, edge):
    assert_error(api.post("/activities", json={"customer_id": customer_id, "type": "signup", "occurred_at": edge}),
                 422, field="occurred_at")
    assert_error(api.post("/activities", json={
        "customer_id": customer_id, "type": "purchase",
        "properties": {"order_total": 5, "event": {"id": "e1", "starts_at": edge}}}),
        422, field="properties.event.starts_at")
    for param in ("since", "until"):
        assert_error(api.get(f"/customers/{customer_id}/timeline", query_string={param: edge}), 422, field=param)
    campaign = api.post("/campaigns", json={"name": "C", "subject": "S", "content": "<p>x</p>"}).get_json()
    assert_error(api.post(f"/campaigns/{campaign['id']}/schedule", json={"send_at": edge}), 422, field="send_at")
    workflow = api.post("/workflows", json={"name": "W", "trigger_type": "purchase"}).get_json()
    assert_error(api.post(f"/workflows/{workflow['id']}/steps", json={"type": "wait_until", "config": {"at": edge}}),
                 422, field="config.at")
    assert count(CustomerActivity) == 0
    assert count(AutomationStep) == 0


@pytest.mark.parametrize("condition,field", [
    ({"type": "last_order_at", "operator": "on", "value": "9999-12-31"}, "conditions[0].value"),
    ({"type": "created_at", "operator": "before", "value": "0001-01-01T00:00:00+01:00"}, "conditions[0].value"),
    ({"type": "created_at", "operator": "between", "value": ["2026-01-01", "9999-12-31T23:59:59-01:00"]},
     "conditions[0].value[1]"),
    ({"type": "purchased_event", "operator": "id", "value": "e1", "to": "9999-12-31"}, "conditions[0].to"),
])
def test_segment_dates_outside_the_calendar_are_a_422(api, condition, field):
    assert_error(api.post("/segments", json={"name": "S", "conditions": [condition]}), 422, field=field)
    workflow = api.post("/workflows", json={"name": "W", "trigger_type": "purchase"}).get_json()
    assert_error(api.post(f"/workflows/{workflow['id']}/steps",
                          json={"type": "condition", "config": {"conditions": [condition]}}), 422,
                 field="config." + field)


def test_dates_inside_the_calendar_are_kept(api, customer_id):
    response = api.post("/activities", json={"customer_id": customer_id, "type": "signup",
                                             "occurred_at": "1900-01-01T00:30:00+00:00"})
    assert response.status_code == 201
    response = api.post("/segments", json={"name": "S", "conditions": [
        {"type": "created_at", "operator": "on", "value": "2999-12-30"}]})
    assert response.status_code == 201
    assert api.post(f"/segments/{response.get_json()['id']}/calculate").status_code == 200


# --- lasting damage: what an older version stored never breaks the tenant --------------------

def _purchase_workflow_with_stored_step(api, step_type: str, config: dict) -> int:
    """A switched-on purchase workflow whose first step holds `config` as an older version
    saved it (written to the row directly: today's API refuses it)."""
    workflow = api.post("/workflows", json={"name": "Legacy", "trigger_type": "purchase",
                                            "steps": [{"type": "add_tag", "config": {"tag": "legacy"}}]}).get_json()
    assert api.post(f"/workflows/{workflow['id']}/toggle", json={"active": True}).status_code == 200
    step = db.session.get(AutomationStep, workflow["steps"][0]["id"])
    step.type, step.config = step_type, config
    db.session.commit()
    return workflow["id"]


def test_a_stored_wait_until_the_end_of_the_calendar_does_not_fail_purchases(api, customer_id):
    legacy = _purchase_workflow_with_stored_step(api, "wait_until", {"at": "9999-12-31T23:59:59-01:00"})
    healthy = api.post("/workflows", json={"name": "Thanks", "trigger_type": "purchase",
                                           "steps": [{"type": "add_tag", "config": {"tag": "buyer"}}]}).get_json()
    api.post(f"/workflows/{healthy['id']}/toggle", json={"active": True})

    response = api.post("/activities", json={"customer_id": customer_id, "type": "purchase",
                                             "properties": {"order_total": 30, "order_id": "o-1"}})

    assert response.status_code == 201
    from webapp.services.workflows.engine import run_due

    run_due(now=datetime.now(UTC) + timedelta(minutes=1))
    db.session.expire_all()
    statuses = dict(db.session.execute(select(AutomationEnrollment.workflow_id, AutomationEnrollment.status)).all())
    assert statuses[healthy["id"]] == "completed"
    assert statuses[legacy] == "completed"  # the unusable wait is skipped, with its reason traced
    detail = db.session.scalar(select(AutomationStepExecution.detail).where(
        AutomationStepExecution.step_type == "wait_until"))
    assert "outside the calendar" in detail


def test_a_step_that_cannot_run_fails_only_its_enrollment_with_the_reason(api, customer_id):
    other = api.post("/customers", json={"email": "bo@alpha.example.com"}).get_json()["id"]
    legacy = _purchase_workflow_with_stored_step(api, "wait", {"days": "two"})  # a TypeError in the engine
    from webapp.services.workflows.engine import run_due

    for cid, order in ((customer_id, "o-1"), (other, "o-2")):
        response = api.post("/activities", json={"customer_id": cid, "type": "purchase",
                                                 "properties": {"order_total": 30, "order_id": order}})
        assert response.status_code == 201
    run_due(now=datetime.now(UTC) + timedelta(minutes=1))

    db.session.expire_all()
    rows = db.session.execute(select(AutomationEnrollment.status, AutomationEnrollment.last_error)
                              .where(AutomationEnrollment.workflow_id == legacy)).all()
    assert [r.status for r in rows] == ["failed", "failed"]  # both ran: one did not stop the other
    assert all("cannot run on its saved settings" in r.last_error for r in rows)


def test_the_event_day_sweep_survives_an_event_at_the_end_of_the_calendar(api, customer_id, app):
    from webapp.services.workflows import enroll_event_day

    workflow = api.post("/workflows", json={"name": "Doors", "trigger_type": "event_day",
                                            "trigger_config": {"offset_days": 0, "hour": 0},
                                            "steps": [{"type": "add_tag", "config": {"tag": "going"}}]}).get_json()
    api.post(f"/workflows/{workflow['id']}/toggle", json={"active": True})
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    # The API refuses such a start now; a row stored before it did must not stop the sweep.
    db.session.add(Event(tenant_id=api.tenant.id, external_id="far", name="Far",
                         starts_at=datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)))
    db.session.add(CustomerActivity(tenant_id=api.tenant.id, customer_id=customer_id, type="purchase", order_id="o-1",
                                    event_id="far", properties={"order_total": 1, "event": {"id": "far"}},
                                    occurred_at=datetime.now(UTC)))
    db.session.commit()
    soon = {"order_total": 1, "order_id": "o-2", "event": {"id": "soon", "starts_at": today.isoformat()}}
    assert api.post("/activities", json={"customer_id": customer_id, "type": "purchase",
                                         "properties": soon}).status_code == 201

    assert enroll_event_day(now=today) == 1


# --- templates nested past what Python compiles ------------------------------------------------

@pytest.mark.parametrize("content", [
    "<p>{{ " + " + ".join(["customer.first_name"] * 200) + " }}</p>",  # Python: too many nested parentheses
    "<p>{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}</p>",  # the parser's own recursion
    "{% if customer %}" * 300 + "x" + "{% endif %}" * 300,
])
def test_templates_nested_too_deeply_are_a_422_naming_the_field_and_quickly(api, content):
    import time

    started = time.monotonic()
    response = api.post("/campaigns", json={"name": "C", "subject": "S", "content": content})
    assert_error(response, 422, field="html_content")  # the API has always named the column here
    assert "nest more than" in response.get_json()["error"]["message"]
    workflow = api.post("/workflows", json={"name": "W", "trigger_type": "purchase"}).get_json()
    assert_error(api.post(f"/workflows/{workflow['id']}/steps", json={
        "type": "send_email", "config": {"subject": "Hi", "content": content}}), 422, field="config.content")
    assert time.monotonic() - started < 2
