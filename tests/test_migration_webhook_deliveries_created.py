"""Migration 0039_webhook_deliveries_created: webhook deliveries gain an index on created_at
(the pruning of finished ones finds the oldest by it), on both databases, with the rows kept;
the way back drops it."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from tests.migration_support import app_before, insert_row
from webapp.extensions import db

BEFORE = "0038_step_executions_passed"
REVISION = "0039_webhook_deliveries_created"
NAME = "ix_webhook_deliveries_created"

old_app = app_before(BEFORE)


def _indexes() -> dict[str, list[str]]:
    return {i["name"]: i["column_names"] for i in sa.inspect(db.engine).get_indexes("webhook_deliveries")}


def test_deliveries_gain_an_index_on_created_at_and_the_way_back_drops_it(old_app):
    assert NAME not in _indexes()
    with db.engine.begin() as conn:
        tenant = insert_row(conn, "tenants", name="Arena", slug="arena", timezone="UTC")
        endpoint = insert_row(conn, "webhook_endpoints", tenant_id=tenant, url="https://example.com/hook",
                              event_types=["email.sent"], secret="whsec_x", enabled=True)
        for n in range(3):
            insert_row(conn, "webhook_deliveries", tenant_id=tenant, endpoint_id=endpoint, event_type="email.sent",
                       msg_id=f"msg_{n}", payload={"n": n}, status="succeeded", attempts=1)

    upgrade(revision=REVISION)
    assert _indexes()[NAME] == ["created_at"]
    with db.engine.connect() as conn:  # the model says what the migration made
        assert [d for d in compare_metadata(MigrationContext.configure(conn), db.metadata)
                if "webhook_deliveries" in repr(d)] == []
    downgrade(revision=BEFORE)
    assert NAME not in _indexes()
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM webhook_deliveries")).scalar() == 3
