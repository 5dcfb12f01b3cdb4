"""The builder's goal panel: goal and exit conditions saved with the condition rows (HTMX
and plain posts), refusals beside the form, the report (conversion, revenue, per step,
treated vs held out in words), the holdout step in "Add a step", tenant walls, viewers."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import update

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import AutomationEnrollment, AutomationStepExecution, AutomationWorkflow
from webapp.services import workflows
from webapp.services.activities import record_activity
from webapp.services.customers import upsert_customer
from webapp.services.enrollment import process_trigger
from webapp.services.workflows.goal_report import goal_report, holdout_comparison

VIP = [{"type": "tag", "operator": "has", "value": "vip"}]


@pytest.fixture
def flow(tenant_a) -> int:
    return workflows.create_workflow(tenant_a.id, {
        "name": "Nudge", "trigger_type": "custom", "steps": [{"type": "wait", "config": {"days": 1}}]}).id


def saved(workflow_id: int) -> AutomationWorkflow:
    db.session.expire_all()
    return db.session.get(AutomationWorkflow, workflow_id)


def test_the_builder_offers_an_empty_goal_panel_and_the_holdout_step(owner_a, flow):
    html = owner_a.get(f"/workflows/{flow}").get_data(as_text=True)
    assert "No goal yet. Set one to see whether this workflow works" in html
    assert 'data-testid="goal-form"' in html and 'data-testid="exit-form"' in html
    assert re.search(r'data-condition-builder data-input="goal-conditions" data-match="goal-match"', html)
    assert ">Holdout<" in html


def test_saving_a_goal_with_rows_purchase_since_entry_and_a_window(owner_a, flow):
    response = owner_a.hx_post(f"/workflows/{flow}/goal", {
        "goal_on": "yes", "goal_match": "any", "goal_conditions": json.dumps(VIP), "goal_since_entry": "yes",
        "within_days": "14"})
    assert response.status_code == 200
    assert saved(flow).goal == {"conditions": [*VIP, {"type": "purchased_since_entry"}], "match": "any",
                                "within_days": 14}
    html = response.get_data(as_text=True)
    assert "Goal saved." in html and "Converted when, within 14 days of entering, a customer has tag" in html
    shown = re.search(r'id="goal-conditions" name="goal_conditions" value="([^"]*)"', html).group(1)
    assert json.loads(unescape(shown)) == VIP  # the checkbox says purchased_since_entry, not a row

    owner_a.post(f"/workflows/{flow}/goal", {"goal_conditions": json.dumps(VIP)})  # unticked: removed
    assert saved(flow).goal is None


def test_a_refused_goal_says_why_beside_the_form_and_keeps_what_was_typed(owner_a, flow):
    bad = [{"type": "total_spent", "operator": ">=", "value": "lots"}]
    response = owner_a.hx_post(f"/workflows/{flow}/goal", {
        "goal_on": "yes", "goal_conditions": json.dumps(bad), "within_days": "500"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'data-error-field="conditions[0].value"' in html  # the rows mark the row it names
    assert 'class="field-error criteria-error" role="alert">Condition 1: ' in html
    assert json.loads(unescape(re.search(r'id="goal-conditions" name="goal_conditions" value="([^"]*)"',
                                         html).group(1))) == bad
    assert saved(flow).goal is None


def test_exit_conditions_are_saved_from_their_own_form(owner_a, flow):
    owner_a.hx_post(f"/workflows/{flow}/exit", {"exit_on": "yes", "exit_conditions": json.dumps(VIP)})
    assert saved(flow).exit_conditions == {"conditions": VIP, "match": "all"}


def test_another_tenant_and_a_viewer_cannot_change_the_goal(owner_b, viewer_a, flow):
    body = {"goal_on": "yes", "goal_conditions": json.dumps(VIP)}
    assert owner_b.post(f"/workflows/{flow}/goal", body).status_code == 404
    assert viewer_a.post(f"/workflows/{flow}/goal", body).status_code in (302, 403)
    assert saved(flow).goal is None


def _customers(tenant_id: int, n: int, prefix: str) -> list[int]:
    return [upsert_customer(tenant_id, {"email": f"{prefix}{i}@example.com"})[0].id for i in range(n)]


def test_the_report_counts_conversions_revenue_steps_and_compares_with_the_held_out(tenant_a):
    tenant = tenant_a.id
    flow = workflows.create_workflow(tenant, {
        "name": "Win back", "trigger_type": "custom", "goal": {"conditions": [{"type": "purchased_since_entry"}]},
        "steps": [{"type": "holdout", "config": {"percent": 50}}, {"type": "wait", "config": {"days": 1}}]})
    workflows.set_active(tenant, flow.id, True)
    people = _customers(tenant, 4, "r")
    for who in people:
        process_trigger(tenant, "custom", who, {}, now=utcnow() - timedelta(minutes=5))
    db.session.commit()
    rows = list(db.session.query(AutomationEnrollment).order_by(AutomationEnrollment.id))
    holdout_step = workflows.steps_of(flow.id)[0]
    # Two held out, two treated, as the draw would have made them.
    for i, e in enumerate(rows):
        db.session.add(AutomationStepExecution(tenant_id=tenant, enrollment_id=e.id, step_id=holdout_step.id,
                                               step_type="holdout", started_at=e.enrolled_at, outcome="done"))
        if i < 2:
            db.session.execute(update(AutomationEnrollment).where(AutomationEnrollment.id == e.id)
                               .values(held_out=True, status="completed"))
    db.session.commit()
    record_activity(tenant, "purchase", customer_id=people[0], properties={"order_total": 30, "order_id": "a"})
    record_activity(tenant, "purchase", customer_id=people[2], properties={"order_total": 50, "order_id": "b"})
    record_activity(tenant, "purchase", customer_id=people[2], properties={"order_total": 99, "order_id": "c"})

    report = goal_report(db.session.get(AutomationWorkflow, flow.id))
    assert (report["enrolled"], report["converted"], report["rate"]) == (4, 2, 0.5)
    assert report["revenue"] == 80.0  # up to the converting purchase; the later 99 is not attributed
    assert report["steps"][holdout_step.id] == {"reached": 4, "converted": 2}
    compared = report["holdout"]
    assert (compared.treated, compared.treated_converted, compared.held_out, compared.held_out_converted) == \
        (2, 1, 2, 1)
    assert compared.sentence == ("Customers who got the workflow converted at 50.0% vs 50.0% held out; no clear "
                                 "difference yet: too few people (at least 30 in each group).")


def test_a_clear_difference_is_said_with_its_probability(tenant_a):
    tenant = tenant_a.id
    flow = workflows.create_workflow(tenant, {"name": "W", "trigger_type": "custom",
                                              "goal": {"conditions": [{"type": "purchased_since_entry"}]},
                                              "steps": [{"type": "holdout", "config": {"percent": 50}}]})
    people = _customers(tenant, 200, "c")
    now = utcnow()
    for i, who in enumerate(people):
        treated = i % 2 == 0
        e = AutomationEnrollment(tenant_id=tenant, workflow_id=flow.id, customer_id=who, status="completed",
                                 trigger_type="custom", trigger_payload={}, enrolled_at=now, held_out=not treated,
                                 converted_at=now if (treated and i % 10 < 6) or (not treated and i % 10 == 1)
                                 else None)
        db.session.add(e)
        db.session.flush()
        db.session.add(AutomationStepExecution(tenant_id=tenant, enrollment_id=e.id, step_type="holdout",
                                               started_at=now, outcome="done"))
    db.session.commit()
    compared = holdout_comparison(flow.id)
    assert compared.clear and compared.probability_helps > 0.99
    assert compared.sentence == ("Customers who got the workflow converted at 60.0% vs 20.0% held out; "
                                 "100% probability the workflow helps.")


def test_the_panel_shows_the_report_in_words_and_bars(owner_a, tenant_a):
    flow = workflows.create_workflow(tenant_a.id, {
        "name": "W", "trigger_type": "custom", "goal": {"conditions": [{"type": "purchased_since_entry"}]},
        "steps": [{"type": "holdout", "config": {"percent": 10}}]})
    [who] = _customers(tenant_a.id, 1, "p")
    e = AutomationEnrollment(tenant_id=tenant_a.id, workflow_id=flow.id, customer_id=who, status="completed",
                             trigger_type="custom", trigger_payload={}, enrolled_at=utcnow())
    db.session.add(e)
    db.session.flush()
    db.session.add(AutomationStepExecution(tenant_id=tenant_a.id, enrollment_id=e.id, step_type="holdout",
                                           started_at=utcnow(), outcome="done"))
    db.session.commit()
    html = owner_a.get(f"/workflows/{flow.id}").get_data(as_text=True)
    assert "Conversion rate" in html and "Attributed revenue" in html
    assert 'data-testid="holdout-compare"' in html and "Customers who got the workflow converted at 0.0%" in html


def test_the_trace_says_when_the_customer_converted_and_why_the_workflow_ended(owner_a, tenant_a):
    flow = workflows.create_workflow(tenant_a.id, {
        "name": "W", "trigger_type": "custom", "goal": {"conditions": [{"type": "purchased_since_entry"}]},
        "steps": [{"type": "wait", "config": {"days": 2}}]})
    workflows.set_active(tenant_a.id, flow.id, True)
    [who] = _customers(tenant_a.id, 1, "t")
    [enrollment_id] = process_trigger(tenant_a.id, "custom", who, {})
    db.session.commit()
    record_activity(tenant_a.id, "purchase", customer_id=who, properties={"order_total": 30, "order_id": "t1"})

    html = owner_a.get(f"/workflows/{flow.id}/enrollments/{enrollment_id}").get_data(as_text=True)
    assert 'data-testid="converted-at"' in html
    assert "Goal met: made a purchase since entering" in html
    assert 'status status-cancelled">cancelled' in html
    assert "1 converted" in owner_a.get(f"/workflows/{flow.id}").get_data(as_text=True)
