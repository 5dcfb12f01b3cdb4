"""The SQL building blocks shared by the services, on the test run's real backend."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.infra.sql import insert_ignoring_duplicates, savepoint
from webapp.models import CustomerTag
from webapp.services.customers import upsert_customer


def test_insert_ignoring_duplicates_skips_duplicates_and_is_compiled_once(tenant_a):
    ada = upsert_customer(tenant_a.id, {"email": "ada@example.com"})[0].id
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO customer_tags"):
            seen.append((statement, context.cache_hit))

    event.listen(db.engine, "after_cursor_execute", record)
    try:
        added = [db.session.execute(insert_ignoring_duplicates(CustomerTag.__table__).values(
            customer_id=ada, tenant_id=tenant_a.id, tag=tag)).rowcount for tag in ("vip", "vip", "fan")]
    finally:
        event.remove(db.engine, "after_cursor_execute", record)
    db.session.commit()

    assert added == [1, 0, 1]
    assert all("ON CONFLICT DO NOTHING" in statement for statement, _ in seen)
    # The dialects' own ON CONFLICT insert has no cache key and was compiled on every execution.
    assert [hit for _, hit in seen[1:]] == [db.engine.dialect.CACHE_HIT] * 2


def tag_count(customer_id: int) -> int:
    with db.engine.connect() as conn:  # another connection: sees only what is committed
        return conn.scalar(select(func.count()).select_from(CustomerTag).where(CustomerTag.customer_id == customer_id))


def test_a_savepoint_begun_before_any_write_is_undone_with_the_transaction(tenant_a):
    ada = upsert_customer(tenant_a.id, {"email": "ada@example.com"})[0].id
    db.session.commit()
    db.session.execute(select(CustomerTag.tag))  # reads only: no transaction on SQLite yet

    with savepoint():
        db.session.add(CustomerTag(customer_id=ada, tenant_id=tenant_a.id, tag="vip"))
    assert tag_count(ada) == 0  # leaving the savepoint committed nothing
    db.session.rollback()

    assert tag_count(ada) == 0
    assert db.session.scalar(select(func.count()).select_from(CustomerTag)) == 0


def test_a_failing_savepoint_undoes_only_its_own_writes(tenant_a):
    ada = upsert_customer(tenant_a.id, {"email": "ada@example.com"})[0].id
    db.session.commit()
    db.session.add(CustomerTag(customer_id=ada, tenant_id=tenant_a.id, tag="fan"))

    with pytest.raises(IntegrityError), savepoint():
        db.session.add(CustomerTag(customer_id=ada, tenant_id=tenant_a.id, tag="fan"))
    db.session.commit()

    assert tag_count(ada) == 1


def test_a_statement_compiled_for_the_driver_keeps_its_percent_signs_and_parameters(app):
    """for_driver/run_compiled (PostgreSQL): a literal percent sign stays one, a parameter
    used twice is one $n, the runtime parameter is the run's and the others keep their
    compile-time values, after their types' processing (a UTC moment here)."""
    if db.engine.dialect.name != "postgresql":
        return  # PostgreSQL's driver only
    from datetime import UTC, datetime

    from sqlalchemy import bindparam, literal, literal_column, select

    from webapp.infra.sql import for_driver, run_compiled
    from webapp.infra.types import UTCDateTime

    who = bindparam("who")
    at = datetime(2026, 12, 5, 8, 30, tzinfo=UTC)
    statement = select(literal_column("'50%'"), who, who + literal(1), bindparam("at", at, type_=UTCDateTime),
                       literal("a%(b)s"))
    compiled = for_driver(statement, who=0)
    assert len(compiled.names) == 4 and compiled.sql.count(b"$1 ") == 2
    assert b"%" not in compiled.sql.replace(b"50%", b"")
    assert run_compiled(compiled, who=41) == [("50%", 41, 42, at, "a%(b)s")]
    assert run_compiled(compiled, who=7)[0][1:3] == (7, 8)
