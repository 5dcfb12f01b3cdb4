"""`flask crm doctor`: rows that earlier versions accepted are found, reported, and with
--repair mended, so the tenant works again."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from webapp.extensions import db
from webapp.models import AutomationStep, AutomationWorkflow, Customer, CustomerSegment


def store_json(table: str, column: str, row_id: int, document: str) -> None:
    """Write a JSON document as an older version (or another program) left it, bypassing
    today's checks."""
    value = "CAST(:doc AS jsonb)" if db.engine.dialect.name == "postgresql" else ":doc"
    db.session.execute(text(f"UPDATE {table} SET {column} = {value} WHERE id = :id"), {"doc": document, "id": row_id})
    db.session.commit()


@pytest.fixture
def legacy(api):
    """A tenant carrying the damage the issue found: a number past 64 bits (NaN too, where
    the backend could hold it), a segment 'on 9999-12-31', a switched-on purchase workflow
    waiting until 9999, and one whose step no version can read."""
    customer = api.post("/customers", json={"email": "ann@alpha.example.com"}).get_json()["id"]
    nan = ', "mood": NaN' if db.engine.dialect.name == "sqlite" else ""
    store_json("customers", "attributes", customer, '{"score": 100000000000000000000, "plan": "gold"' + nan + "}")
    segment = api.post("/segments", json={"name": "Buyers", "conditions": [
        {"type": "last_order_at", "operator": "on", "value": "2026-01-01"}]}).get_json()["id"]
    store_json("customer_segments", "conditions", segment,
               json.dumps([{"type": "last_order_at", "operator": "on", "value": "9999-12-31"}]))
    ids = {}
    for name, config in (("waits", {"at": "9999-12-31T23:59:59-01:00"}), ("broken", {"days": "two"})):
        workflow = api.post("/workflows", json={"name": name, "trigger_type": "purchase", "steps": [
            {"type": "wait", "config": {"days": 1}}]}).get_json()
        api.post(f"/workflows/{workflow['id']}/toggle", json={"active": True})
        step = db.session.get(AutomationStep, workflow["steps"][0]["id"])
        step.type = "wait_until" if name == "waits" else "wait"
        db.session.commit()
        store_json("automation_steps", "config", step.id, json.dumps(config))
        ids[name] = workflow["id"]
    return {"customer": customer, "segment": segment, **ids}


def doctor(runner, *args: str):
    db.session.commit()
    result = runner.invoke(args=["crm", "doctor", *args])
    db.session.expire_all()
    return result


def test_doctor_reports_without_changing_anything(runner, legacy):
    result = doctor(runner)

    assert result.exit_code == 1, result.output
    assert f"customers #{legacy['customer']}" in result.output
    assert "attributes.score" in result.output
    assert "9999-12-31 -> 2999-12-31" in result.output
    assert "run with --repair" in result.output
    assert db.session.get(Customer, legacy["customer"]).attributes["plan"] == "gold"
    assert db.session.get(AutomationWorkflow, legacy["broken"]).active is True
    assert db.session.get(CustomerSegment, legacy["segment"]).conditions[0]["value"] == "9999-12-31"


def test_doctor_repair_mends_every_finding_and_the_tenant_works_again(runner, api, legacy):
    result = doctor(runner, "--repair")

    assert result.exit_code == 0, result.output
    attributes = db.session.get(Customer, legacy["customer"]).attributes
    assert attributes["score"] is None and attributes["plan"] == "gold"
    assert attributes.get("mood") is None
    assert db.session.get(CustomerSegment, legacy["segment"]).conditions[0]["value"] == "2999-12-31"
    step = db.session.scalar(select(AutomationStep).where(AutomationStep.workflow_id == legacy["waits"]))
    assert step.config["at"] == "2999-12-31T00:00:00+00:00"
    assert db.session.get(AutomationWorkflow, legacy["waits"]).active is True
    assert db.session.get(AutomationWorkflow, legacy["broken"]).active is False
    assert "switched off" in result.output

    assert api.post(f"/segments/{legacy['segment']}/calculate").status_code == 200
    text_ = api.get(f"/customers/{legacy['customer']}").get_data(as_text=True)
    json.loads(text_, parse_constant=lambda c: pytest.fail(f"{c} in a response"))
    purchase = api.post("/activities", json={"customer_id": legacy["customer"], "type": "purchase",
                                             "properties": {"order_total": 10, "order_id": "o-9"}})
    assert purchase.status_code == 201
    again = doctor(runner)
    assert again.exit_code == 0 and "0 problem(s) found" in again.output, again.output


def test_doctor_finds_nothing_in_a_healthy_tenant(runner, api):
    api.post("/customers", json={"email": "bo@alpha.example.com", "attributes": {"score": 12.5, "n": 2**62}})
    result = doctor(runner)
    assert result.exit_code == 0 and "0 problem(s) found" in result.output, result.output
