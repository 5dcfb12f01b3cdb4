"""Workflow goals, exit conditions and holdouts through the services: conversions in real
time on the customer's changes, goals true at entry not counted, windows, exits before a
step, the holdout's control group and its share."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.workflows.workflow_support import customer
from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.infra.types import utcnow
from webapp.models import AutomationEnrollment, AutomationStepExecution, CustomerActivity, OutboxMessage
from webapp.services import workflows
from webapp.services.activities import record_activity
from webapp.services.customers import change_tag, update_customer
from webapp.services.enrollment import process_trigger
from webapp.services.workflows.engine import run_due
from webapp.services.workflows.steps.holdout import held_out

SINCE_ENTRY = {"conditions": [{"type": "purchased_since_entry"}]}
EMAIL = ("send_email", {"subject": "Still thinking?", "content": "<p>Seats are going</p>"})


def workflow(tenant_id: int, steps, *, goal=None, exit_conditions=None):
    created = workflows.create_workflow(tenant_id, {
        "name": "Nudge", "trigger_type": "custom", "goal": goal, "exit_conditions": exit_conditions,
        "steps": [{"type": t, "config": c} for t, c in steps]})
    workflows.set_active(tenant_id, created.id, True)
    return created


def enroll(tenant_id: int, customer_id: int, *, now=None) -> AutomationEnrollment:
    [enrollment_id] = process_trigger(tenant_id, "custom", customer_id, {}, now=now)
    db.session.commit()
    return db.session.get(AutomationEnrollment, enrollment_id)


def fresh(enrollment_id: int) -> AutomationEnrollment:
    db.session.expire_all()
    return db.session.get(AutomationEnrollment, enrollment_id)


def trace(enrollment_id: int) -> list[tuple[str, str, str]]:
    return [(x.step_type, x.outcome, x.detail or "") for x in db.session.scalars(
        select(AutomationStepExecution).where(AutomationStepExecution.enrollment_id == enrollment_id)
        .order_by(AutomationStepExecution.id))]


def buy(tenant_id: int, customer_id: int, order_id: str, total: float = 40) -> None:
    record_activity(tenant_id, "purchase", customer_id=customer_id,
                    properties={"order_total": total, "order_id": order_id})


def timeline_types(customer_id: int) -> list[str]:
    return list(db.session.scalars(select(CustomerActivity.type).where(CustomerActivity.customer_id == customer_id)
                                   .order_by(CustomerActivity.id)))


def test_a_purchase_while_waiting_converts_at_once_and_the_next_step_never_runs(tenant):
    ada = customer(tenant)
    flow = workflow(tenant, [("wait", {"days": 2}), EMAIL], goal=SINCE_ENTRY)
    enrollment = enroll(tenant, ada)
    assert enrollment.status == "waiting" and not enrollment.goal_met_at_entry

    buy(tenant, ada, "o-1")

    converted = fresh(enrollment.id)
    assert converted.status == "converted" and converted.converted_at is not None
    assert converted.exit_reason == "goal met: made a purchase since entering"
    assert [(t, o) for t, o, _ in trace(enrollment.id)] == [("wait", "cancelled")]
    assert "workflow_converted" in timeline_types(ada)
    run_due(now=utcnow() + timedelta(days=3))
    assert fresh(enrollment.id).status == "converted"
    assert db.session.scalar(select(OutboxMessage.id)) is None  # no email sent
    assert workflows.enrollment_counts([flow.id])[flow.id]["converted"] == 1


def test_a_goal_true_at_entry_is_not_a_conversion_until_it_stops_and_becomes_true_again(tenant):
    ada = customer(tenant, tags=["vip"])
    workflow(tenant, [("wait", {"days": 2}), EMAIL], goal={"conditions": [{"type": "tag", "value": "vip"}]})
    enrollment = enroll(tenant, ada)
    assert enrollment.goal_met_at_entry is True

    change_tag(tenant, ada, "newsletter", add=True)  # a change, the goal still true as at entry
    db.session.commit()
    assert (fresh(enrollment.id).status, fresh(enrollment.id).converted_at) == ("waiting", None)

    change_tag(tenant, ada, "vip", add=False)
    db.session.commit()
    assert fresh(enrollment.id).goal_met_at_entry is False
    change_tag(tenant, ada, "vip", add=True)  # now the change makes it true
    db.session.commit()
    assert fresh(enrollment.id).status == "converted"


def test_the_triggering_purchase_is_not_a_conversion_of_a_purchase_workflow(tenant):
    ada = customer(tenant)
    flow = workflows.create_workflow(tenant, {"name": "Upsell", "trigger_type": "purchase", "goal": SINCE_ENTRY,
                                              "steps": [{"type": "wait", "config": {"days": 1}}]})
    workflows.set_active(tenant, flow.id, True)
    buy(tenant, ada, "o-1")
    [enrollment] = db.session.scalars(select(AutomationEnrollment).where(AutomationEnrollment.workflow_id == flow.id))
    assert (enrollment.status, enrollment.converted_at) == ("waiting", None)
    buy(tenant, ada, "o-2")  # the next one is
    assert fresh(enrollment.id).status == "converted"


def test_a_completed_enrollment_converts_within_the_window_and_keeps_its_status(tenant):
    ada, bob = customer(tenant), customer(tenant, "bob@example.com")
    workflow(tenant, [("add_tag", {"tag": "nudged"})], goal={**SINCE_ENTRY, "within_days": 7})
    recent = enroll(tenant, ada)
    old = enroll(tenant, bob, now=utcnow() - timedelta(days=8))
    run_due()
    assert fresh(recent.id).status == fresh(old.id).status == "completed"

    buy(tenant, ada, "o-1")
    buy(tenant, bob, "o-2")

    assert fresh(recent.id).status == "completed" and fresh(recent.id).converted_at is not None
    assert fresh(old.id).converted_at is None  # 8 days after entering: outside the 7-day window


def test_exited_enrollments_do_not_convert(tenant):
    ada = customer(tenant)
    workflow(tenant, [("condition", {"conditions": [{"type": "tag", "value": "vip"}]}), EMAIL], goal=SINCE_ENTRY)
    enrollment = enroll(tenant, ada)
    run_due()
    assert fresh(enrollment.id).status == "exited"
    buy(tenant, ada, "o-1")
    assert fresh(enrollment.id).converted_at is None


def test_exit_conditions_are_checked_before_a_step(tenant):
    ada = customer(tenant)
    workflow(tenant, [("add_tag", {"tag": "stop"}), EMAIL],
             exit_conditions={"conditions": [{"type": "tag", "value": "stop"}]})
    enrollment = enroll(tenant, ada)
    run_due()
    ended = fresh(enrollment.id)
    assert ended.status == "exited"
    assert ended.exit_reason == "exit condition met: has tag “stop”"
    assert [(t, o) for t, o, _ in trace(enrollment.id)] == [("add_tag", "done"), ("send_email", "exited")]
    assert trace(enrollment.id)[-1][2] == "exit condition met: has tag “stop”"
    assert db.session.scalar(select(OutboxMessage.id)) is None


def test_exit_conditions_end_a_wait_at_once_when_a_change_meets_them(tenant):
    ada = customer(tenant)
    workflow(tenant, [("wait", {"days": 2}), EMAIL],
             exit_conditions={"conditions": [{"type": "email_status", "operator": "=", "value": "unsubscribed"}]})
    enrollment = enroll(tenant, ada)
    change_tag(tenant, ada, "other", add=True)
    db.session.commit()
    assert fresh(enrollment.id).status == "waiting"

    update_customer(tenant, ada, {"email_status": "unsubscribed"})

    ended = fresh(enrollment.id)
    assert (ended.status, ended.next_run_at) == ("exited", None)
    assert ended.exit_reason.startswith("exit condition met: email status")
    assert [(t, o) for t, o, _ in trace(enrollment.id)] == [("wait", "exited")]
    assert "workflow_exited" in timeline_types(ada)


def test_a_goal_met_by_the_workflows_own_step_converts_and_stops_the_run(tenant):
    ada = customer(tenant)
    workflow(tenant, [("add_tag", {"tag": "vip"}), EMAIL], goal={"conditions": [{"type": "tag", "value": "vip"}]})
    enrollment = enroll(tenant, ada)
    run_due()
    ended = fresh(enrollment.id)
    assert ended.status == "converted" and ended.converted_at is not None
    assert [(t, o) for t, o, _ in trace(enrollment.id)] == [("add_tag", "done"), ("send_email", "cancelled")]
    assert db.session.scalar(select(OutboxMessage.id)) is None


def test_held_out_customers_get_nothing_more_and_still_convert(tenant, app, monkeypatch):
    monkeypatch.setitem(app.config, "HOLDOUT_SEED", "goals-test")
    flow = workflow(tenant, [("holdout", {"percent": 50}), EMAIL], goal=SINCE_ENTRY)
    people = [customer(tenant, f"p{i}@example.com") for i in range(12)]
    ids = [enroll(tenant, who).id for who in people]
    run_due()
    rows = [fresh(i) for i in ids]
    out = [e for e in rows if e.held_out]
    assert 0 < len(out) < len(rows)
    step_id = workflows.steps_of(flow.id)[0].id
    assert all(held_out("goals-test", e.id, step_id, 50) == e.held_out for e in rows)
    for e in out:
        assert e.status == "completed"
        assert trace(e.id) == [("holdout", "done", "held out: control group (50%)")]
    sent = db.session.scalars(select(OutboxMessage)).all()
    assert len(sent) == len(rows) - len(out)

    buy(tenant, out[0].customer_id, "o-1")
    assert fresh(out[0].id).converted_at is not None and fresh(out[0].id).status == "completed"


@pytest.mark.parametrize("percent", [10, 50])
def test_the_holdout_share_is_within_binomial_bounds_over_10000_enrollments(percent):
    n = 10_000
    held = sum(held_out("seeded", enrollment_id, 7, percent) for enrollment_id in range(1, n + 1))
    spread = 4 * math.sqrt(n * percent / 100 * (1 - percent / 100))  # 4 standard deviations
    assert abs(held - n * percent / 100) <= spread, held
    again = sum(held_out("seeded", enrollment_id, 7, percent) for enrollment_id in range(1, n + 1))
    assert again == held  # the same enrollment falls in the same group every time


@pytest.mark.parametrize(("goal", "field"), [
    ({"conditions": []}, "goal.conditions"),
    ({"conditions": [{"type": "nope"}]}, "goal.conditions[0].type"),
    ({"conditions": [{"type": "tag", "value": "vip"}], "within_days": 0}, "goal.within_days"),
    ({"conditions": [{"type": "tag", "value": "vip"}], "within_days": True}, "goal.within_days"),
    ({"conditions": [{"type": "tag", "value": "vip"}], "match": "some"}, "goal.match"),
    ({"conditions": [{"type": "purchased_since_entry", "value": 1}]}, "goal.conditions[0]"),
    ({"conditions": [{"type": "tag", "value": "vip"}], "window": 3}, "goal.window"),
    ("vip", "goal"),
])
def test_a_bad_goal_is_refused_naming_the_field(tenant, goal, field):
    with pytest.raises(ValidationFailed) as caught:
        workflows.create_workflow(tenant, {"name": "W", "trigger_type": "custom", "goal": goal})
    assert caught.value.field == field


def test_purchased_since_entry_is_for_goals_only(tenant):
    with pytest.raises(ValidationFailed) as caught:
        workflows.create_workflow(tenant, {"name": "W", "trigger_type": "custom", "exit_conditions": SINCE_ENTRY})
    assert caught.value.field == "exit_conditions.conditions[0].type"


def test_another_tenants_goal_never_converts_this_tenants_customers(tenant, tenant_b):
    workflow(tenant_b.id, [("wait", {"days": 1})], goal=SINCE_ENTRY)
    ada = customer(tenant)
    flow = workflow(tenant, [("wait", {"days": 1})])
    enrollment = enroll(tenant, ada)
    buy(tenant, ada, "o-1")
    assert fresh(enrollment.id).converted_at is None
    assert workflows.enrollment_counts([flow.id])[flow.id]["converted"] == 0


def test_purchased_since_entry_counts_from_this_enrollment_not_an_earlier_one(tenant):
    ada = customer(tenant)
    earlier = workflow(tenant, [("wait", {"days": 5})])
    enroll(tenant, ada, now=utcnow() - timedelta(hours=2))
    record_activity(tenant, "purchase", customer_id=ada, properties={"order_total": 10, "order_id": "o-0"},
                    occurred_at=utcnow() - timedelta(hours=1))
    workflows.set_active(tenant, earlier.id, False)
    workflow(tenant, [("wait", {"days": 2})], goal=SINCE_ENTRY)

    enrollment = enroll(tenant, ada)  # bought an hour ago: before this entry, after the earlier one

    assert fresh(enrollment.id).goal_met_at_entry is False
    buy(tenant, ada, "o-1")
    assert fresh(enrollment.id).status == "converted"


def test_the_kept_exit_check_reads_days_ago_from_the_clock_each_time_it_runs(tenant, monkeypatch):
    """check_customer's statement is built once while no workflow changes; its "more than 7
    days ago" is the clock's at each run, not the moment it was built."""
    import webapp.segments.compiler as compiler_module
    import webapp.services.enrollment.goals as goals_module

    ada = customer(tenant)
    record_activity(tenant, "purchase", customer_id=ada, properties={"order_total": 30, "order_id": "o-1"},
                    occurred_at=utcnow() - timedelta(days=5))
    workflow(tenant, [("wait", {"days": 30}), EMAIL],
             exit_conditions={"conditions": [{"type": "last_order_at", "operator": "more_than_days_ago",
                                              "value": 7}]})
    enrollment = enroll(tenant, ada)
    change_tag(tenant, ada, "seen", add=True)  # checked: the last order is 5 days old
    db.session.commit()
    assert fresh(enrollment.id).status == "waiting"

    later = utcnow() + timedelta(days=3)
    for module in (compiler_module, goals_module):
        monkeypatch.setattr(module, "utcnow", lambda: later)
    change_tag(tenant, ada, "seen-again", add=True)  # 8 days old by the clock now
    db.session.commit()

    assert fresh(enrollment.id).status == "exited"
