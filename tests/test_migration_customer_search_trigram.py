"""Migration 0024_customer_search_trigram: on PostgreSQL pg_trgm and the two GIN trigram
indexes arrive, built over the rows already there, with the expressions the search uses, and
autogenerate (through migrations/env.py) proposes nothing about them; the way back drops
them. On SQLite both ways change nothing."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from tests.migration_support import app_before, insert_row
from webapp.extensions import db
from webapp.models.customer import SEARCH_TRIGRAM_INDEXES

BEFORE = "0023_webhook_endpoints"
REVISION = "0024_customer_search_trigram"

old_app = app_before(BEFORE)


def _customer_indexes() -> dict[str, str]:
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            rows = conn.execute(sa.text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'customers'"))
        else:
            rows = conn.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                        "AND tbl_name = 'customers'"))
        return {name: definition or "" for name, definition in rows}


def _autogenerate_diff_on_customers() -> list:
    # The include_object rule of migrations/env.py, which `flask db migrate` runs with.
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": (
            lambda obj, name, type_, reflected, compare_to:
            not (type_ == "index" and reflected and name in SEARCH_TRIGRAM_INDEXES))})
        # Index operations only: later revisions add columns to customers, which this
        # revision's schema rightly lacks.
        return [d for d in compare_metadata(context, db.metadata) if "customers" in repr(d)
                and "customer_" not in repr(d) and d[0] in ("add_index", "remove_index")]


def test_trigram_indexes_arrive_on_postgresql_over_existing_rows_and_leave(old_app):
    before = _customer_indexes()
    with db.engine.begin() as conn:
        tenant = insert_row(conn, "tenants", name="Alpha", slug="alpha", timezone="UTC")
        insert_row(conn, "customers", tenant_id=tenant, email="emile.zola@novel.example.com",
                   first_name="Émile", last_name="Zola", attributes={}, email_status="subscribed",
                   total_spent=0, orders_count=0)

    upgrade(revision=REVISION)

    after = _customer_indexes()
    if db.engine.dialect.name != "postgresql":
        assert after == before
        downgrade(revision=BEFORE)
        assert _customer_indexes() == before
        return
    assert set(after) - set(before) == set(SEARCH_TRIGRAM_INDEXES)
    assert "USING gin (email gin_trgm_ops)" in after["ix_customers_email_trgm"]
    assert "gin_trgm_ops" in after["ix_customers_name_trgm"]
    assert _autogenerate_diff_on_customers() == []
    with db.engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.execute(sa.text(
            "EXPLAIN SELECT id FROM customers WHERE lower(coalesce(first_name, '') || ' ' "
            "|| coalesce(last_name, '')) LIKE '%mile zo%'")))
        found = conn.execute(sa.text("SELECT email FROM customers WHERE lower(coalesce(first_name, '') || ' ' "
                                     "|| coalesce(last_name, '')) LIKE '%mile zo%'")).scalars().all()
    assert "ix_customers_name_trgm" in plan
    assert found == ["emile.zola@novel.example.com"]

    downgrade(revision=BEFORE)

    assert _customer_indexes() == before
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM customers")).scalar() == 1
