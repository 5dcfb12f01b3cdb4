"""Migration 0038_step_executions_passed: the step executions' step index gains the
enrollment (a workflow's page counts passes from the index alone), on both databases, with
the trace rows kept; the way back restores the two-column index."""

from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.migration_support import app_before, insert_row, tenant_with_workflow
from webapp.extensions import db

BEFORE = "0037_enrollment_dedupe_partial"
REVISION = "0038_step_executions_passed"
NAME = "ix_automation_step_executions_step"

old_app = app_before(BEFORE)


def _columns() -> list[str]:
    indexes = {i["name"]: i for i in sa.inspect(db.engine).get_indexes("automation_step_executions")}
    return indexes[NAME]["column_names"]


def test_the_step_index_gains_the_enrollment_and_the_way_back_drops_it(old_app):
    assert _columns() == ["step_id", "outcome"]
    with db.engine.begin() as conn:
        tenant, customer, flow = tenant_with_workflow(conn)
        step = insert_row(conn, "automation_steps", workflow_id=flow, tenant_id=tenant, type="add_tag", position=0,
                          config={})
        enrollment = insert_row(conn, "automation_enrollments", tenant_id=tenant, workflow_id=flow,
                                customer_id=customer, status="completed", trigger_type="purchase",
                                trigger_payload={}, attempts=0)
        for outcome in ("done", "done", "waiting"):
            insert_row(conn, "automation_step_executions", tenant_id=tenant, enrollment_id=enrollment, step_id=step,
                       step_type="add_tag", outcome=outcome)

    upgrade(revision=REVISION)
    assert _columns() == ["step_id", "outcome", "enrollment_id"]
    with db.engine.connect() as conn:
        passed = conn.execute(sa.text(
            "SELECT step_id, count(DISTINCT enrollment_id) FROM automation_step_executions "
            "WHERE outcome IN ('done', 'skipped', 'jumped') GROUP BY step_id")).all()
    assert passed == [(step, 1)]

    downgrade(revision=BEFORE)
    assert _columns() == ["step_id", "outcome"]
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM automation_step_executions")).scalar() == 3
