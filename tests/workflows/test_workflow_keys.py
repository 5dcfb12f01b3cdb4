"""The key of the tenant's workflows (what the trigger, goal and wait_for caches check) is
read once per transaction, and forgotten as soon as this session changes a workflow."""

from __future__ import annotations

from sqlalchemy import update

from tests.sql_support import sql_sent
from tests.workflows.workflow_support import customer
from webapp.extensions import db
from webapp.models import AutomationWorkflow
from webapp.services import workflows
from webapp.services.activities import record_activity
from webapp.services.enrollment import active_workflows, process_trigger
from webapp.services.enrollment.active import active_key


def _flow(tenant_id: int, name: str, *, goal: bool = False) -> int:
    body = {"name": name, "trigger_type": "purchase", "steps": [{"type": "wait", "config": {"days": 1}}]}
    if goal:
        body["goal"] = {"conditions": [{"type": "orders_count", "operator": ">=", "value": 3}]}
    created = workflows.create_workflow(tenant_id, body)
    workflows.set_active(tenant_id, created.id, True)
    return created.id


def _key_reads(run) -> int:
    with sql_sent() as statements:
        run()
    return len([s for s in statements if "FROM automation_workflows" in s and "count(" in s.lower()])


def test_a_purchase_reads_the_workflows_key_once_for_triggers_goals_and_waits(tenant):
    ada = customer(tenant)
    _flow(tenant, "Thanks", goal=True)
    db.session.commit()

    reads = _key_reads(lambda: record_activity(tenant, "purchase", customer_id=ada,
                                               properties={"order_total": 20}))

    assert reads == 1


def test_a_workflow_switched_on_in_the_same_transaction_takes_the_next_trigger(tenant):
    ada = customer(tenant)
    created = workflows.create_workflow(tenant, {"name": "Late", "trigger_type": "purchase",
                                                 "steps": [{"type": "wait", "config": {"days": 1}}]})
    before = active_key(tenant)
    assert active_workflows(tenant, "purchase") == []

    created.active = True  # an ORM change of this session, not yet flushed
    assert [w.id for w in active_workflows(tenant, "purchase")] == [created.id]
    assert active_key(tenant) != before
    assert len(process_trigger(tenant, "purchase", ada, {"order_total": 5})) == 1


def test_a_bulk_update_of_workflows_forgets_the_key(tenant):
    flow = _flow(tenant, "Thanks")
    db.session.commit()
    assert [w.id for w in active_workflows(tenant, "purchase")] == [flow]

    db.session.execute(update(AutomationWorkflow).where(AutomationWorkflow.id == flow).values(active=False))

    assert active_workflows(tenant, "purchase") == []


def test_another_transactions_change_is_seen_by_the_next_transaction(app, tenant):
    assert active_workflows(tenant, "purchase") == []
    db.session.commit()
    with app.app_context():  # another session, as another request
        flow = _flow(tenant, "Elsewhere")
        db.session.commit()
    assert [w.id for w in active_workflows(tenant, "purchase")] == [flow]
