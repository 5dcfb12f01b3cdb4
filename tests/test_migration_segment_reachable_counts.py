"""Migration 0033_segment_reachable_counts: the members already stored who can be emailed are
counted per segment, the triggers keep the count from then on (a membership added or removed,
a status moving into or out of "subscribed"), and the way back drops the table, its triggers
and functions."""

from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.migration_support import app_before, insert_row
from webapp.extensions import db

BEFORE = "0032_customer_counts"
REVISION = "0033_segment_reachable_counts"

old_app = app_before(BEFORE)


def _kept(conn) -> dict[int, int]:
    return {segment_id: int(total) for segment_id, total in conn.execute(sa.text(
        "SELECT segment_id, sum(reachable) FROM segment_reachable_counts GROUP BY segment_id")).all()}


def _customer(conn, tenant: int, email: str, status: str) -> int:
    return insert_row(conn, "customers", tenant_id=tenant, email=email, attributes={}, total_spent=0, orders_count=0,
                      email_status=status)


def _segment(conn, tenant: int, name: str) -> int:
    return insert_row(conn, "customer_segments", tenant_id=tenant, name=name, conditions=[], match="all",
                      time_relative=False, member_count=0)


def _member(conn, tenant: int, segment: int, customer: int) -> None:
    insert_row(conn, "customer_segment_members", tenant_id=tenant, segment_id=segment, customer_id=customer)


def test_existing_members_are_counted_and_the_triggers_keep_the_count(old_app):
    with db.engine.begin() as conn:
        alpha = insert_row(conn, "tenants", name="Alpha", slug="alpha", timezone="UTC")
        beta = insert_row(conn, "tenants", name="Beta", slug="beta", timezone="UTC")
        ada = _customer(conn, alpha, "ada@example.com", "subscribed")
        bo = _customer(conn, alpha, "bo@example.com", "unsubscribed")
        cy = _customer(conn, alpha, "cy@example.com", "subscribed")
        eve = _customer(conn, beta, "eve@example.com", "subscribed")
        fans, nobody = _segment(conn, alpha, "Fans"), _segment(conn, alpha, "Nobody reachable")
        others = _segment(conn, beta, "Others")
        for customer in (ada, bo, cy):
            _member(conn, alpha, fans, customer)
        _member(conn, alpha, nobody, bo)
        _member(conn, beta, others, eve)

    upgrade(revision=REVISION)

    with db.engine.connect() as conn:
        assert _kept(conn) == {fans: 2, others: 1}  # a segment nobody in it can be emailed has no row: 0
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE customers SET email_status = 'subscribed' WHERE id = :id"), {"id": bo})
        conn.execute(sa.text("UPDATE customers SET email_status = 'bounced' WHERE id = :id"), {"id": ada})
        conn.execute(sa.text("UPDATE customers SET email_status = 'complained' WHERE id = :id"), {"id": ada})
        conn.execute(sa.text("UPDATE customers SET first_name = 'Cy' WHERE id = :id"), {"id": cy})
        conn.execute(sa.text("DELETE FROM customer_segment_members WHERE customer_id = :id"), {"id": cy})
        _member(conn, beta, others, _customer(conn, beta, "fay@example.com", "subscribed"))
    with db.engine.connect() as conn:
        assert _kept(conn) == {fans: 1, nobody: 1, others: 2}

    downgrade(revision=BEFORE)
    assert "segment_reachable_counts" not in sa.inspect(db.engine).get_table_names()
    with db.engine.begin() as conn:  # no trigger left behind to write into a missing table
        conn.execute(sa.text("UPDATE customers SET email_status = 'unsubscribed' WHERE id = :id"), {"id": bo})
        _member(conn, alpha, fans, cy)
        conn.execute(sa.text("DELETE FROM customer_segment_members WHERE customer_id = :id"), {"id": ada})
        if conn.dialect.name == "postgresql":
            assert conn.scalar(sa.text("SELECT count(*) FROM pg_proc WHERE proname LIKE 'segment_reachable%'")) == 0
            assert conn.scalar(sa.text(
                "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_customers_unreachable'")) == 0
