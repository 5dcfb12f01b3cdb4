"""What the migration tests share: an app on an empty database migrated only up to a
revision (SQLite, or a throwaway PostgreSQL database with TEST_DATABASE_URL), and rows
inserted the way the old schema takes them."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from webapp import create_app
from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.testing import ThrowawayPostgres


@contextmanager
def _empty_database_url() -> Iterator[str]:
    server_url = os.environ.get("TEST_DATABASE_URL")
    if server_url:
        pg = ThrowawayPostgres(server_url).create()
        try:
            yield pg.url
        finally:
            pg.drop()
    else:
        yield f"sqlite:///{tempfile.mkdtemp(prefix='crm-migration-')}/m.sqlite3"


def app_before(revision: str):
    """A pytest fixture: an app on an empty database migrated up to `revision`, in its own
    app context (requested after the suite's `app`, which owns the current one)."""

    @pytest.fixture
    def old_app(redis_server, app):
        with _empty_database_url() as url:
            other = create_app({"TESTING": True, "SECRET_KEY": "migration", "SQLALCHEMY_DATABASE_URI": url,
                                "REDIS_URL": redis_server.url, "TRACKING_SPOOL_DIR": tempfile.mkdtemp()})
            with other.app_context():
                upgrade(revision=revision)
                yield other
                db.session.remove()
                db.engine.dispose()

    return old_app


def insert_row(conn, table: str | sa.Table, **values) -> int:
    """A row with `values` and something valid in every other required column. `table` is a
    name (read from the database each call) or a table reflected once by the caller (a loop
    of inserts: reflecting took about 50 ms a call on PostgreSQL)."""
    if isinstance(table, str):
        table = sa.Table(table, sa.MetaData(), autoload_with=conn)
    row = dict(values)
    for column in table.columns:
        if column.name in row or column.nullable or column.server_default is not None or column.primary_key:
            continue
        kind = column.type.python_type if not isinstance(column.type, sa.JSON) else dict
        row[column.name] = {int: 0, str: "x", float: 0.0, bool: False, dict: {}}.get(kind, utcnow())
    return conn.execute(table.insert().values(row)).inserted_primary_key[0]


def tenant_with_workflow(conn, slug: str = "alpha", trigger_type: str = "purchase") -> tuple[int, int, int]:
    """(tenant, customer, workflow): a tenant with one customer and one active workflow, the
    start of the workflow migrations' tests."""
    tenant = insert_row(conn, "tenants", name=slug.title(), slug=slug, timezone="UTC")
    customer = insert_row(conn, "customers", tenant_id=tenant, email=f"ada@{slug}.example.com", total_spent=0)
    workflow = insert_row(conn, "automation_workflows", tenant_id=tenant, name="Flow", trigger_type=trigger_type,
                          trigger_config={}, active=True, reentry="always", version=1)
    return tenant, customer, workflow
