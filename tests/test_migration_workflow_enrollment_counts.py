"""Migration 0035_workflow_enrollment_counts: the enrollments already stored are counted per
workflow and status, the triggers keep the counts from then on (an enrollment added, moved to
another status, left alone by an update of another column, removed, or gone with its
workflow), and the way back drops the table, its triggers and functions."""

from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.migration_support import app_before, insert_row
from webapp.extensions import db

BEFORE = "0034_enrollment_event_ref"
REVISION = "0035_workflow_enrollment_counts"

old_app = app_before(BEFORE)


def _kept(conn) -> dict[tuple[int, str], int]:
    return {(w, s): int(n) for w, s, n in conn.execute(sa.text(
        "SELECT workflow_id, status, sum(enrollments) FROM workflow_enrollment_counts "
        "GROUP BY workflow_id, status HAVING sum(enrollments) <> 0")).all()}


def _enroll(conn, tenant: int, workflow: int, customer: int, status: str) -> int:
    return insert_row(conn, "automation_enrollments", tenant_id=tenant, workflow_id=workflow, customer_id=customer,
                      status=status, trigger_type="purchase", trigger_payload={}, attempts=0)


def test_existing_enrollments_are_counted_and_the_triggers_keep_the_counts(old_app):
    with db.engine.begin() as conn:
        tenant = insert_row(conn, "tenants", name="Alpha", slug="alpha", timezone="UTC")
        ada = insert_row(conn, "customers", tenant_id=tenant, email="ada@example.com", total_spent=0)
        bo = insert_row(conn, "customers", tenant_id=tenant, email="bo@example.com", total_spent=0)
        flows = [insert_row(conn, "automation_workflows", tenant_id=tenant, name=f"Flow {n}",
                            trigger_type="purchase", trigger_config={}, active=True, reentry="always", version=1)
                 for n in range(2)]
        _enroll(conn, tenant, flows[0], ada, "completed")
        _enroll(conn, tenant, flows[0], bo, "completed")
        moving = _enroll(conn, tenant, flows[0], ada, "waiting")
        _enroll(conn, tenant, flows[1], bo, "failed")

    upgrade(revision=REVISION)

    with db.engine.begin() as conn:
        assert _kept(conn) == {(flows[0], "completed"): 2, (flows[0], "waiting"): 1, (flows[1], "failed"): 1}
        conn.execute(sa.text("UPDATE automation_enrollments SET status = 'active' WHERE id = :id"), {"id": moving})
        conn.execute(sa.text("UPDATE automation_enrollments SET attempts = 3"))  # no status moves
        _enroll(conn, tenant, flows[1], ada, "active")
        assert _kept(conn) == {(flows[0], "completed"): 2, (flows[0], "active"): 1, (flows[1], "failed"): 1,
                               (flows[1], "active"): 1}
        conn.execute(sa.text("UPDATE automation_enrollments SET status = 'exited' WHERE id = :id"), {"id": moving})
        conn.execute(sa.text("UPDATE automation_enrollments SET status = 'completed' WHERE status = 'failed'"))
        conn.execute(sa.text("DELETE FROM automation_enrollments WHERE workflow_id = :id AND status = 'active'"),
                     {"id": flows[1]})
        assert _kept(conn) == {(flows[0], "completed"): 2, (flows[0], "exited"): 1, (flows[1], "completed"): 1}
        conn.execute(sa.text("DELETE FROM automation_workflows WHERE id = :id"), {"id": flows[0]})  # cascades
        assert _kept(conn) == {(flows[1], "completed"): 1}

    downgrade(revision=BEFORE)
    assert "workflow_enrollment_counts" not in sa.inspect(db.engine).get_table_names()
    with db.engine.begin() as conn:  # no trigger left to write into the dropped table
        _enroll(conn, tenant, flows[1], bo, "active")
        conn.execute(sa.text("UPDATE automation_enrollments SET status = 'completed'"))
        conn.execute(sa.text("DELETE FROM automation_enrollments"))
        if db.engine.dialect.name == "postgresql":
            assert conn.execute(sa.text(
                "SELECT count(*) FROM pg_proc WHERE proname = 'workflow_enrollment_counts_apply'")).scalar() == 0
