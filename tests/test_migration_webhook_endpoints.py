"""Migration 0023_webhook_endpoints: the endpoint, delivery and attempt tables arrive as the
models describe them (no difference left for autogenerate), deleting an endpoint takes its
deliveries and attempts with it, and the way back drops the three tables."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from tests.migration_support import app_before, insert_row
from webapp.extensions import db

BEFORE = "0022_campaign_variants"
REVISION = "0023_webhook_endpoints"
TABLES = {"webhook_endpoints", "webhook_deliveries", "webhook_attempts"}
LATER = ("ix_webhook_deliveries_created",)  # 0039 adds it; its own test compares it with the model

old_app = app_before(BEFORE)


def test_webhook_tables_arrive_as_modelled_cascade_and_leave(old_app):
    with db.engine.begin() as conn:
        tenant = insert_row(conn, "tenants", name="Alpha", slug="alpha", timezone="UTC")

    upgrade(revision=REVISION)

    with db.engine.connect() as conn:
        diff = [d for d in compare_metadata(MigrationContext.configure(conn), db.metadata)
                if any(t in repr(d) for t in TABLES) and not any(name in repr(d) for name in LATER)]
    assert diff == []
    with db.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        endpoint = insert_row(conn, "webhook_endpoints", tenant_id=tenant, url="https://h.example.com/",
                              event_types=["email.sent"], secret="v1:sealed")
        delivery = insert_row(conn, "webhook_deliveries", tenant_id=tenant, endpoint_id=endpoint,
                              event_type="email.sent", msg_id="msg_1", payload={"type": "email.sent"},
                              status="pending")
        insert_row(conn, "webhook_attempts", delivery_id=delivery, succeeded=False)
        conn.execute(sa.text("DELETE FROM webhook_endpoints WHERE id = :id"), {"id": endpoint})
        left = conn.execute(sa.text("SELECT (SELECT count(*) FROM webhook_deliveries) + "
                                    "(SELECT count(*) FROM webhook_attempts)")).scalar()
    assert left == 0

    downgrade(revision=BEFORE)
    assert not TABLES & set(sa.inspect(db.engine).get_table_names())
