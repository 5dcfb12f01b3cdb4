"""Migration 0032_customer_counts: the customers already stored are counted per tenant, the
triggers keep the count from then on, and the way back drops the table and its triggers."""

from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.migration_support import app_before, insert_row
from webapp.extensions import db

BEFORE = "0031_batch_rollups"
REVISION = "0032_customer_counts"

old_app = app_before(BEFORE)


def _counts(conn) -> dict[int, int]:
    return dict(conn.execute(sa.text("SELECT tenant_id, customers FROM customer_counts")).all())


def test_existing_customers_are_counted_and_the_triggers_keep_the_count(old_app):
    with db.engine.begin() as conn:
        alpha = insert_row(conn, "tenants", name="Alpha", slug="alpha", timezone="UTC")
        beta = insert_row(conn, "tenants", name="Beta", slug="beta", timezone="UTC")
        insert_row(conn, "tenants", name="Empty", slug="empty", timezone="UTC")
        for n in range(3):
            insert_row(conn, "customers", tenant_id=alpha, email=f"a{n}@example.com", attributes={},
                       total_spent=0, orders_count=0)
        insert_row(conn, "customers", tenant_id=beta, email="b@example.com", attributes={}, total_spent=0,
                   orders_count=0)

    upgrade(revision=REVISION)

    with db.engine.connect() as conn:
        assert _counts(conn) == {alpha: 3, beta: 1}  # a tenant without customers has no row: 0
    with db.engine.begin() as conn:
        insert_row(conn, "customers", tenant_id=beta, email="b2@example.com", attributes={}, total_spent=0,
                   orders_count=0)
        conn.execute(sa.text("DELETE FROM customers WHERE email = 'a0@example.com'"))
    with db.engine.connect() as conn:
        assert _counts(conn) == {alpha: 2, beta: 2}

    downgrade(revision=BEFORE)
    assert "customer_counts" not in sa.inspect(db.engine).get_table_names()
    with db.engine.begin() as conn:  # no trigger left behind to write into a missing table
        insert_row(conn, "customers", tenant_id=alpha, email="a9@example.com", attributes={}, total_spent=0,
                   orders_count=0)
        conn.execute(sa.text("DELETE FROM customers WHERE email = 'a1@example.com'"))
