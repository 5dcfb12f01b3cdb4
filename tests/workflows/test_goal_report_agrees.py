"""A workflow's goal report counts what its trace says: per step, the enrollments that reached
it and, of them, those that converted after first reaching it; treated against held out among
the enrollments a holdout draw saw (the workflow's holdout steps, or one deleted since). Checked
against the same counts made in Python over random traces, with another workflow and another
tenant's traces beside them (goal_report reads the step index, not the whole trace)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import AutomationEnrollment, AutomationStepExecution
from webapp.services import workflows
from webapp.services.customers import upsert_customer
from webapp.services.workflows.goal_report import _per_step, holdout_comparison

STEPS = [{"type": "holdout", "config": {"percent": 50}}, {"type": "wait", "config": {"days": 1}},
         {"type": "add_tag", "config": {"tag": "x"}}]
OUTCOMES = ["done", "waiting", "skipped", "failed", "retry"]
# An execution: (which step: 0-2 the workflow's, None a deleted one; outcome; hours after entry)
executions = st.lists(st.tuples(st.sampled_from([0, 1, 2, None]), st.sampled_from(OUTCOMES), st.integers(0, 6)),
                      max_size=5)
enrollment = st.tuples(st.booleans(), st.none() | st.integers(0, 6), executions)  # held out, converted after (h)


def _workflow(tenant_id: int, name: str) -> tuple[int, list[int]]:
    flow = workflows.create_workflow(tenant_id, {"name": name, "trigger_type": "custom", "steps": STEPS})
    return flow.id, [step.id for step in workflows.steps_of(flow.id)]


def _store(tenant_id: int, workflow_id: int, step_ids: list[int], customers: list[int], rows) -> list:
    """The enrollments and their traces; returns them as (held out, converted_at, [(step id, type, outcome, at)])."""
    entered = utcnow() - timedelta(days=10)
    stored = []
    for customer_id, (held_out, converted_after, trace) in zip(customers, rows, strict=False):
        converted_at = entered + timedelta(hours=converted_after) if converted_after is not None else None
        e = AutomationEnrollment(tenant_id=tenant_id, workflow_id=workflow_id, customer_id=customer_id,
                                 status="completed", trigger_type="custom", trigger_payload={}, enrolled_at=entered,
                                 held_out=held_out, converted_at=converted_at)
        db.session.add(e)
        db.session.flush()
        steps = []
        for position, outcome, hours in trace:
            step_id = step_ids[position] if position is not None else None
            step_type = STEPS[position]["type"] if position is not None else "holdout"  # a deleted holdout
            db.session.add(AutomationStepExecution(tenant_id=tenant_id, enrollment_id=e.id, step_id=step_id,
                                                   step_type=step_type, outcome=outcome,
                                                   started_at=entered + timedelta(hours=hours)))
            steps.append((step_id, step_type, outcome, entered + timedelta(hours=hours)))
        stored.append((held_out, converted_at, steps))
    db.session.commit()
    return stored


def _expected(stored) -> tuple[dict, dict]:
    per_step: dict[int, dict[str, int]] = {}
    groups: dict[bool, list[int]] = {}
    for held_out, converted_at, steps in stored:
        first: dict[int, object] = {}
        for step_id, _, _, at in steps:
            if step_id is not None:
                first[step_id] = min(first.get(step_id, at), at)
        for step_id, at in first.items():
            counts = per_step.setdefault(step_id, {"reached": 0, "converted": 0})
            counts["reached"] += 1
            counts["converted"] += converted_at is not None and converted_at >= at
        if any(step_type == "holdout" and outcome == "done" for _, step_type, outcome, _ in steps):
            n, c = groups.get(held_out, [0, 0])
            groups[held_out] = [n + 1, c + (converted_at is not None)]
    return per_step, groups


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(mine=st.lists(enrollment, max_size=8), others=st.lists(enrollment, max_size=4))
def test_the_report_counts_what_the_trace_says(tenant_a, tenant_b, mine, others):
    customers_a = [upsert_customer(tenant_a.id, {"email": f"g{i}@x.com"})[0].id for i in range(8)]
    customers_b = [upsert_customer(tenant_b.id, {"email": f"g{i}@x.com"})[0].id for i in range(4)]
    flow, steps = _workflow(tenant_a.id, "Measured")
    other, other_steps = _workflow(tenant_a.id, "Beside it")
    elsewhere, elsewhere_steps = _workflow(tenant_b.id, "Another tenant's")
    stored = _store(tenant_a.id, flow, steps, customers_a, mine)
    _store(tenant_a.id, other, other_steps, customers_a, others)
    _store(tenant_b.id, elsewhere, elsewhere_steps, customers_b, others)
    try:
        per_step, groups = _expected(stored)
        assert _per_step(flow) == per_step
        compared = holdout_comparison(flow)
        if not groups:
            assert compared is None
        else:
            assert (compared.treated, compared.treated_converted, compared.held_out,
                    compared.held_out_converted) == (*groups.get(False, [0, 0]), *groups.get(True, [0, 0]))
    finally:
        db.session.rollback()
        for workflow_id in (flow, other, elsewhere):
            db.session.execute(delete(AutomationEnrollment).where(AutomationEnrollment.workflow_id == workflow_id))
        db.session.commit()
