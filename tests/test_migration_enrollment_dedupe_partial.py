"""Migration 0037_enrollment_dedupe_partial: on PostgreSQL the dedupe key is unique through a
partial index over the enrollments that have a key, which refuses what the constraint
refused (a second enrollment of a customer into a workflow for the same key) and lets any
number without a key through, and the way back restores the constraint. On SQLite nothing
changes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.migration_support import app_before, insert_row, tenant_with_workflow
from webapp.extensions import db

BEFORE = "0036_purchase_path_foreign_keys"
REVISION = "0037_enrollment_dedupe_partial"
NAME = "uq_automation_enrollments_dedupe"

old_app = app_before(BEFORE)


def _dedupe_kind() -> str:
    """'constraint', 'partial index' or 'missing': what holds the dedupe key unique."""
    inspector = sa.inspect(db.engine)
    if NAME in {c["name"] for c in inspector.get_unique_constraints("automation_enrollments")}:
        return "constraint"
    for index in inspector.get_indexes("automation_enrollments"):
        if index["name"] == NAME and index["unique"]:
            assert index["column_names"] == ["customer_id", "workflow_id", "dedupe_key"]
            where = index.get("dialect_options", {}).get("postgresql_where")
            return "partial index" if where is not None and "dedupe_key IS NOT NULL" in str(where) else "whole index"
    return "missing"


def _enroll(conn, tenant: int, customer: int, flow: int, key: str | None) -> None:
    insert_row(conn, "automation_enrollments", tenant_id=tenant, workflow_id=flow, customer_id=customer,
               status="completed", trigger_type="event_day", trigger_payload={}, attempts=0, dedupe_key=key)


def test_the_key_is_unique_where_there_is_one_before_and_after(old_app):
    assert _dedupe_kind() == "constraint"
    with db.engine.begin() as conn:
        tenant, customer, flow = tenant_with_workflow(conn, trigger_type="event_day")
        _enroll(conn, tenant, customer, flow, "event:1")  # a row from before, with a key

    upgrade(revision=REVISION)
    postgres = db.engine.dialect.name == "postgresql"
    assert _dedupe_kind() == ("partial index" if postgres else "constraint")
    with db.engine.begin() as conn:
        for _ in range(3):  # no key: any number
            _enroll(conn, tenant, customer, flow, None)
        _enroll(conn, tenant, customer, flow, "event:2")  # another key: its own
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
        _enroll(conn, tenant, customer, flow, "event:1")  # the key from before the migration
    with db.engine.connect() as conn:
        assert dict(conn.execute(sa.text("SELECT dedupe_key, count(*) FROM automation_enrollments "
                                         "GROUP BY dedupe_key")).all()) == {"event:1": 1, "event:2": 1, None: 3}

    downgrade(revision=BEFORE)
    assert _dedupe_kind() == "constraint"
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
        _enroll(conn, tenant, customer, flow, "event:2")
