"""Migration 0021_workflow_paths: steps get their path (parent_step_id, branch) and
enrollments their path taken, in place: existing steps stay on the main path and traces
keep their steps; deleting a split deletes its paths' steps in the database too; the way
back drops the paths' steps and the columns."""

from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.migration_support import app_before, insert_row
from webapp.extensions import db

BEFORE = "0020_workflow_goals"
REVISION = "0021_workflow_paths"

old_app = app_before(BEFORE)


def test_paths_arrive_in_place_cascade_from_their_split_and_leave_cleanly(old_app):
    with db.engine.begin() as conn:
        tenant = insert_row(conn, "tenants", name="Alpha", slug="alpha", timezone="UTC")
        customer = insert_row(conn, "customers", tenant_id=tenant, email="ava@example.com", total_spent=0)
        workflow = insert_row(conn, "automation_workflows", tenant_id=tenant, name="Flow", trigger_type="purchase",
                              trigger_config={}, active=False, reentry="always", version=1)
        step = insert_row(conn, "automation_steps", workflow_id=workflow, tenant_id=tenant, position=0,
                          type="add_tag", config={"tag": "x"})
        enrollment = insert_row(conn, "automation_enrollments", tenant_id=tenant, workflow_id=workflow,
                                customer_id=customer, status="completed", trigger_type="purchase",
                                trigger_payload={}, attempts=0)
        insert_row(conn, "automation_step_executions", tenant_id=tenant, enrollment_id=enrollment, step_id=step,
                   step_type="add_tag", outcome="done")

    upgrade(revision=REVISION)

    with db.engine.begin() as conn:
        assert conn.execute(sa.text("SELECT parent_step_id, branch FROM automation_steps")).one() == (None, None)
        assert conn.execute(sa.text("SELECT step_id FROM automation_step_executions")).scalar() == step
        assert conn.execute(sa.text("SELECT path FROM automation_enrollments")).scalar() is None
        split = insert_row(conn, "automation_steps", workflow_id=workflow, tenant_id=tenant, position=1,
                           type="split", config={"paths": [{"percent": 50}, {"percent": 50}]})
        insert_row(conn, "automation_steps", workflow_id=workflow, tenant_id=tenant, position=0, type="add_tag",
                   config={"tag": "b"}, parent_step_id=split, branch=1)
        conn.execute(sa.text("DELETE FROM automation_steps WHERE id = :id"), {"id": split})
        assert conn.execute(sa.text("SELECT count(*) FROM automation_steps")).scalar() == 1
        split = insert_row(conn, "automation_steps", workflow_id=workflow, tenant_id=tenant, position=1,
                           type="split", config={"paths": [{"percent": 50}, {"percent": 50}]})
        insert_row(conn, "automation_steps", workflow_id=workflow, tenant_id=tenant, position=0, type="add_tag",
                   config={"tag": "b"}, parent_step_id=split, branch=1)

    downgrade(revision=BEFORE)
    columns = {c["name"] for c in sa.inspect(db.engine).get_columns("automation_steps")}
    assert not {"parent_step_id", "branch"} & columns
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM automation_steps")).scalar() == 2
        assert conn.execute(sa.text("SELECT step_id FROM automation_step_executions")).scalar() == step
