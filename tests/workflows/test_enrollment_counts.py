"""A workflow's enrollments per status are kept by the database's triggers as deltas
(migration 0035) and read as their sum: whatever two tenants go through (workflows made,
switched off and on, deleted; purchases one at a time and in batches enrolling buyers; the
runner moving enrollments through waits to the end; erasures; rolled-back work; folds of the
deltas), every workflow's kept counts equal a count of its enrollments, and one tenant's work
never moves the other's counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, text

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import AutomationEnrollment, AutomationWorkflow, Tenant, WorkflowEnrollmentCount
from webapp.models.workflow import OPEN_STATUSES
from webapp.services import workflows
from webapp.services.kept_counts import fold
from webapp.services.rollups import rebuild_rollups
from webapp.services.workflows.engine import run_due

EMAILS = [f"fan{n}@example.com" for n in range(5)]
SHAPES = [  # (steps, re-entry)
    ([{"type": "add_tag", "config": {"tag": "thanks"}}], "always"),
    ([{"type": "wait", "config": {"days": 1}}, {"type": "add_tag", "config": {"tag": "later"}}], "one_at_a_time"),
    ([{"type": "add_tag", "config": {"tag": "x"}}, {"type": "wait", "config": {"days": 3}}], "once"),
]

operation = st.one_of(
    st.tuples(st.just("flow"), st.sampled_from(range(len(SHAPES)))),
    st.tuples(st.just("purchase"), st.sampled_from(EMAILS)),
    st.tuples(st.just("batch"), st.lists(st.sampled_from(EMAILS), min_size=1, max_size=4)),
    st.tuples(st.just("run"), st.sampled_from([0, 2, 5])),
    st.tuples(st.just("toggle"), st.integers(0, 3)),
    st.tuples(st.just("delete flow"), st.integers(0, 3)),
    st.tuples(st.just("erase"), st.sampled_from(EMAILS)),
    st.tuples(st.just("rolled back"), st.sampled_from(EMAILS)),
    st.tuples(st.just("fold")),
)


def _buy(email: str, n: int) -> dict:
    return {"type": "purchase", "customer": {"email": email}, "properties": {"order_total": 5, "order_id": f"o-{n}"}}


def _flow_id(tenant_id: int, n: int) -> int | None:
    ids = list(db.session.scalars(select(AutomationWorkflow.id).where(AutomationWorkflow.tenant_id == tenant_id)
                                  .order_by(AutomationWorkflow.id)))
    return ids[n % len(ids)] if ids else None


def _run(api, app, step, orders) -> None:  # noqa: C901  one branch per kind of step
    kind, *what = step
    tenant_id = api.tenant.id
    with app.app_context():
        if kind == "flow":
            steps, reentry = SHAPES[what[0]]
            flow = workflows.create_workflow(tenant_id, {"name": f"Flow {what[0]}", "trigger_type": "purchase",
                                                         "reentry": reentry, "steps": steps})
            workflows.set_active(tenant_id, flow.id, True)
        elif kind == "purchase":
            response = api.post("/activities", json=_buy(what[0], next(orders)))
            assert response.status_code in (200, 201), response.get_json()
        elif kind == "batch":
            response = api.post("/activities/batch", json={"activities": [_buy(e, next(orders)) for e in what[0]]})
            assert response.status_code == 200, response.get_json()
        elif kind == "run":
            run_due(now=utcnow() + timedelta(days=what[0]))
        elif kind == "toggle" and (flow_id := _flow_id(tenant_id, what[0])) is not None:
            workflows.set_active(tenant_id, flow_id)
        elif kind == "delete flow" and (flow_id := _flow_id(tenant_id, what[0])) is not None:
            workflows.delete_workflow(tenant_id, flow_id, force=True)
        elif kind == "erase":
            found = api.get(f"/customers?q={what[0]}").get_json()["data"]
            if found:
                assert api.delete(f"/customers/{found[0]['id']}").status_code == 204
        elif kind == "rolled back":
            found = api.get(f"/customers?q={what[0]}").get_json()["data"]
            if found:
                workflows.process_trigger(tenant_id, "purchase", found[0]["id"], {"order_total": 1})
                db.session.flush()
                db.session.rollback()
        elif kind == "fold":
            fold("workflow_enrollment_counts")


def _counted(tenant_id: int) -> dict[int, dict[str, int]]:
    """Each workflow's enrollments per status, counted, in enrollment_counts' shape."""
    ids = db.session.scalars(select(AutomationWorkflow.id).where(AutomationWorkflow.tenant_id == tenant_id))
    out = {wid: {"enrolled": 0, "active": 0, "completed": 0, "exited": 0, "failed": 0, "converted": 0} for wid in ids}
    for wid, status, n in db.session.execute(
            select(AutomationEnrollment.workflow_id, AutomationEnrollment.status, func.count())
            .where(AutomationEnrollment.tenant_id == tenant_id)
            .group_by(AutomationEnrollment.workflow_id, AutomationEnrollment.status)):
        out[wid]["enrolled"] += n
        out[wid]["active" if status in OPEN_STATUSES else status] += n
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.booleans(), operation), min_size=1, max_size=12))
def test_kept_enrollment_counts_equal_counted_enrollments_per_tenant(api, api_b, app, steps):
    orders = iter(range(10**6))
    for second, step in steps:
        _run(api_b if second else api, app, step, orders)
    with app.app_context():
        for tenant in (api.tenant, api_b.tenant):
            counted = _counted(tenant.id)
            assert workflows.enrollment_counts(list(counted)) == counted
        # No delta row of one tenant points at the other's workflow.
        strays = db.session.scalar(select(func.count()).select_from(WorkflowEnrollmentCount).join(
            AutomationWorkflow, AutomationWorkflow.id == WorkflowEnrollmentCount.workflow_id).where(
            AutomationWorkflow.tenant_id != WorkflowEnrollmentCount.tenant_id))
        assert strays == 0


def _setup(api, app, shape: int = 1) -> int:
    with app.app_context():
        steps, reentry = SHAPES[shape]
        flow = workflows.create_workflow(api.tenant.id, {"name": "Flow", "trigger_type": "purchase",
                                                         "reentry": reentry, "steps": steps})
        workflows.set_active(api.tenant.id, flow.id, True)
        return flow.id


def test_folding_leaves_one_row_per_status_and_the_same_counts(api, app):
    flow_id = _setup(api, app, shape=0)
    for n, email in enumerate(["ada@example.com", "bo@example.com", "ada@example.com"]):
        api.post("/activities", json=_buy(email, n))
        with app.app_context():
            run_due(now=utcnow())
    with app.app_context():
        before = workflows.enrollment_counts([flow_id])
        rows = db.session.scalar(select(func.count()).select_from(WorkflowEnrollmentCount))
        folded = fold("workflow_enrollment_counts")
        after_rows = db.session.scalar(select(func.count()).select_from(WorkflowEnrollmentCount))
        assert workflows.enrollment_counts([flow_id]) == before == _counted(api.tenant.id)
        assert before[flow_id]["enrolled"] == before[flow_id]["completed"] == 3
        if db.engine.dialect.name == "postgresql":
            assert rows > 2 and folded == 1 and after_rows == 1
            # Vacuumed and analyzed after the fold: the planner counts the live row, not the dead ones.
            assert db.session.scalar(text("SELECT reltuples FROM pg_class "
                                          "WHERE relname = 'workflow_enrollment_counts'")) == 1
        else:  # SQLite's triggers keep one row per workflow and status (active, now 0, and completed)
            assert rows == after_rows == 2 and folded == 0


def test_a_batch_and_the_runner_move_the_counts_as_they_move_enrollments(api, app):
    flow_id = _setup(api, app, shape=1)  # a one-day wait, then a tag
    api.post("/activities/batch", json={"activities": [_buy(f"fan{n}@example.com", n) for n in range(3)]})
    with app.app_context():
        assert workflows.enrollment_counts([flow_id])[flow_id] == {
            "enrolled": 3, "active": 3, "completed": 0, "exited": 0, "failed": 0, "converted": 0}
        run_due(now=utcnow() + timedelta(days=2))
        assert workflows.enrollment_counts([flow_id])[flow_id] == {
            "enrolled": 3, "active": 0, "completed": 3, "exited": 0, "failed": 0, "converted": 0}
        assert workflows.enrollment_counts([flow_id]) == _counted(api.tenant.id)


def test_another_tenants_workflow_ids_read_as_nothing(api, api_b, app):
    flow_id = _setup(api, app, shape=0)
    api.post("/activities", json=_buy("ada@example.com", 1))
    with app.app_context():
        run_due(now=utcnow())
    assert api.get(f"/workflows/{flow_id}").get_json()["counts"]["enrolled"] == 1
    assert api_b.get(f"/workflows/{flow_id}").status_code == 404
    with app.app_context():
        assert workflows.enrollment_counts([flow_id])[flow_id]["enrolled"] == 1


def test_deleting_a_tenant_or_a_workflow_takes_its_counts_along(api, api_b, app):
    """SQLite's foreign keys delete the rows with their workflow; PostgreSQL's table has none
    (migration 0036) and the fold deletes them. A workflow made afterwards counts from zero."""
    mine, theirs = _setup(api, app, shape=0), _setup(api_b, app, shape=0)
    for client in (api, api_b):
        client.post("/activities", json=_buy("ada@example.com", 1))
    with app.app_context():
        run_due(now=utcnow())
        kept = select(func.count()).select_from(WorkflowEnrollmentCount)
        for flow_id in (mine, theirs):
            assert db.session.scalar(kept.where(WorkflowEnrollmentCount.workflow_id == flow_id)) > 0
        workflows.delete_workflow(api.tenant.id, mine, force=True)
        db.session.execute(delete(Tenant).where(Tenant.id == api_b.tenant.id))  # the database's cascades
        db.session.commit()
        fold("workflow_enrollment_counts")
        assert db.session.scalar(kept) == 0
    fresh = _setup(api, app, shape=0)
    with app.app_context():
        assert workflows.enrollment_counts([fresh])[fresh]["enrolled"] == 0


def test_the_rollups_rebuild_counts_afresh(api, app):
    """After a bulk load with the triggers off (the demo seeder's), the rebuild counts them again."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the bulk load and its rebuild are PostgreSQL's")
    flow_id = _setup(api, app, shape=0)
    api.post("/activities", json=_buy("ada@example.com", 1))
    with app.app_context():
        run_due(now=utcnow())
        db.session.execute(delete(WorkflowEnrollmentCount))
        db.session.execute(WorkflowEnrollmentCount.__table__.insert().values(
            workflow_id=flow_id, tenant_id=api.tenant.id, status="failed", enrollments=7))
        rebuild_rollups(db.session)
        db.session.commit()
        assert workflows.enrollment_counts([flow_id]) == _counted(api.tenant.id)
        assert workflows.enrollment_counts([flow_id])[flow_id]["enrolled"] == 1


def test_concurrent_runners_finishing_enrollments_of_one_workflow_never_wait_for_one_another(api, app):
    """Two transactions finishing enrollments of the same workflow, and a fold, run side by side:
    none waits for another's row lock (each only inserts its deltas), and once all commit the
    count is right."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite writes one transaction at a time: no row locks")
    flow_id = _setup(api, app, shape=0)
    ids = [api.post("/customers", json={"email": f"{n}@example.com"}).get_json()["id"] for n in ("ada", "bo")]
    api.post("/activities", json=_buy("cy@example.com", 1))
    with app.app_context():
        run_due(now=utcnow())
        first, second = db.engine.connect(), db.engine.connect()
        try:
            for conn, customer_id in zip((first, second), ids, strict=True):
                conn.execute(text("SET LOCAL lock_timeout = '1s'"))
                conn.execute(text(
                    "INSERT INTO automation_enrollments (tenant_id, workflow_id, customer_id, status, "
                    "trigger_type, trigger_payload, attempts, enrolled_at, goal_met_at_entry, held_out) "
                    "VALUES (:t, :w, :c, 'completed', 'purchase', '{}', 0, now(), false, false)"),
                    {"t": api.tenant.id, "w": flow_id, "c": customer_id})
            db.session.execute(text("SET LOCAL lock_timeout = '1s'"))  # a wait would raise
            assert workflows.enrollment_counts([flow_id])[flow_id]["enrolled"] == 1  # neither committed yet
            fold("workflow_enrollment_counts")
            first.commit()
            second.commit()
        finally:
            first.close()
            second.close()
        fold("workflow_enrollment_counts")
        assert workflows.enrollment_counts([flow_id]) == _counted(api.tenant.id)
        assert workflows.enrollment_counts([flow_id])[flow_id]["enrolled"] == 3


def _vacuums() -> int:
    with db.engine.connect() as conn:  # a new transaction: the statistics as they are now
        return conn.execute(text("SELECT vacuum_count FROM pg_stat_user_tables "
                                 "WHERE relname = 'workflow_enrollment_counts'")).scalar()


def test_a_fold_vacuums_the_table_only_when_it_deleted_rows(app, tenant_a):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps one row per key: there is no fold")
    fold("workflow_enrollment_counts")
    quiet = _vacuums()
    assert fold("workflow_enrollment_counts") == 0
    assert _vacuums() == quiet  # nothing folded, nothing deleted: no vacuum
    # Two deltas of a workflow that no longer exists: deleted, none written back, vacuumed.
    db.session.execute(text("INSERT INTO workflow_enrollment_counts (workflow_id, status, tenant_id, enrollments) "
                            "VALUES (424242, 'active', :t, 1), (424242, 'active', :t, 1)"), {"t": tenant_a.id})
    db.session.commit()
    assert fold("workflow_enrollment_counts") == 0
    assert db.session.scalar(text("SELECT count(*) FROM workflow_enrollment_counts")) == 0
    assert _vacuums() == quiet + 1
