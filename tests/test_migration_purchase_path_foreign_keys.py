"""Migration 0036_purchase_path_foreign_keys: on PostgreSQL the tenant keys of enrollments and
step executions and both keys of workflow_enrollment_counts are gone, deleting a tenant still
deletes its enrollments and their trace (through the workflow's, customer's and enrollment's
keys), and the way back puts the keys back after deleting what they would have deleted. On
SQLite nothing changes."""

from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.migration_support import app_before, insert_row, tenant_with_workflow
from webapp.extensions import db

BEFORE = "0035_workflow_enrollment_counts"
REVISION = "0036_purchase_path_foreign_keys"
TABLES = ("automation_enrollments", "automation_step_executions", "workflow_enrollment_counts")

old_app = app_before(BEFORE)


def _keys() -> set[tuple[str, str]]:
    inspector = sa.inspect(db.engine)
    return {(table, key["constrained_columns"][0]) for table in TABLES for key in inspector.get_foreign_keys(table)}


def _count(conn, table: str) -> int:
    return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()


def _tenant_with_history(conn, slug: str) -> tuple[int, int]:
    """A tenant with a workflow, a customer enrolled in it and the enrollment's trace row."""
    tenant, customer, flow = tenant_with_workflow(conn, slug)
    enrollment = insert_row(conn, "automation_enrollments", tenant_id=tenant, workflow_id=flow, customer_id=customer,
                            status="waiting", trigger_type="purchase", trigger_payload={}, attempts=0)
    insert_row(conn, "automation_step_executions", tenant_id=tenant, enrollment_id=enrollment, step_type="wait",
               outcome="waiting")
    return tenant, flow


def test_the_keys_go_on_postgresql_and_a_tenant_still_takes_its_history_along(old_app):
    before = _keys()
    assert {("automation_enrollments", "tenant_id"), ("automation_step_executions", "tenant_id"),
            ("workflow_enrollment_counts", "workflow_id"), ("workflow_enrollment_counts", "tenant_id")} <= before

    upgrade(revision=REVISION)

    postgres = db.engine.dialect.name == "postgresql"
    kept = {("automation_enrollments", "workflow_id"), ("automation_enrollments", "customer_id"),
            ("automation_step_executions", "enrollment_id"), ("automation_step_executions", "step_id")}
    assert _keys() == (kept if postgres else before)
    with db.engine.begin() as conn:
        gone, _ = _tenant_with_history(conn, "alpha")
        _, other_flow = _tenant_with_history(conn, "beta")
    with db.engine.begin() as conn:
        if not postgres:
            conn.execute(sa.text("PRAGMA foreign_keys=ON"))
        conn.execute(sa.text("DELETE FROM tenants WHERE id = :id"), {"id": gone})
        # The other tenant's rows stay; the deleted one's enrollment and trace went by cascade.
        assert _count(conn, "automation_enrollments") == _count(conn, "automation_step_executions") == 1
        counted = conn.execute(sa.text("SELECT DISTINCT workflow_id FROM workflow_enrollment_counts")).scalars().all()
        # Without keys the deleted workflow's counts stay until the fold (kept_counts) deletes them.
        assert (set(counted) - {other_flow} != set()) is postgres

    downgrade(revision=BEFORE)
    assert _keys() == before
    with db.engine.begin() as conn:  # what the keys would have deleted went before they came back
        assert conn.execute(sa.text("SELECT DISTINCT workflow_id FROM workflow_enrollment_counts")).scalars().all() \
            == [other_flow]
