"""Migration 0020_workflow_goals: workflows get goal and exit_conditions, enrollments
converted_at, goal_met_at_entry and held_out (false for the rows already there); the
migrated schema matches the models; the way back drops them and keeps the rows."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from tests.migration_support import app_before, insert_row
from webapp.extensions import db

BEFORE = "0019_waitlists"
REVISION = "0020_workflow_goals"

old_app = app_before(BEFORE)
NEW_COLUMNS = {"automation_workflows": {"goal", "exit_conditions"},
               "automation_enrollments": {"converted_at", "goal_met_at_entry", "held_out"}}


def _columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(db.engine).get_columns(table)}


def test_goal_columns_arrive_with_old_enrollments_unconverted_and_leave_on_the_way_back(old_app):
    with db.engine.begin() as conn:
        tenant = insert_row(conn, "tenants", name="Alpha", slug="alpha", timezone="UTC")
        customer = insert_row(conn, "customers", tenant_id=tenant, email="ava@example.com", total_spent=0)
        flow = insert_row(conn, "automation_workflows", tenant_id=tenant, name="W", trigger_type="custom",
                          trigger_config={}, active=False, reentry="always", version=1)
        insert_row(conn, "automation_enrollments", tenant_id=tenant, workflow_id=flow, customer_id=customer,
                   status="completed", trigger_type="custom", trigger_payload={}, attempts=0)

    upgrade(revision=REVISION)

    with db.engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT converted_at, goal_met_at_entry, held_out FROM automation_enrollments")).one()
        assert (row[0], bool(row[1]), bool(row[2])) == (None, False, False)
        assert conn.execute(sa.text("SELECT goal FROM automation_workflows")).scalar() is None
    with db.engine.connect() as conn:
        differences = [d for d in compare_metadata(MigrationContext.configure(conn), db.metadata)
                       if any(name in repr(d) for names in NEW_COLUMNS.values() for name in names)]
    assert differences == []  # the models say what the migration made

    downgrade(revision=BEFORE)
    for table, names in NEW_COLUMNS.items():
        assert not names & _columns(table)
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM automation_enrollments")).scalar() == 1
