"""Migration 0031_batch_rollups (PostgreSQL): the purchase rollups' insert triggers pass over
the rows of a transaction that said it applies them itself, and roll up every other; the way
back makes them roll up every row again."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.migration_support import app_before, insert_row
from webapp.extensions import db
from webapp.services import rollups

BEFORE = "0030_ingest_followups"
REVISION = "0031_batch_rollups"

old_app = app_before(BEFORE)


def _purchase(tenant: int, customer: int, order: str, *, left: bool) -> None:
    with db.session.begin():
        with rollups.left_to_caller(db.session) if left else contextlib.nullcontext():
            activity = insert_row(db.session.connection(), "customer_activities", tenant_id=tenant,
                                  customer_id=customer, type="purchase", properties={}, order_id=order, amount=10,
                                  event_id="e-1", occurred_at=datetime(2026, 12, 1, 20, tzinfo=UTC))
            insert_row(db.session.connection(), "purchase_items", tenant_id=tenant, activity_id=activity,
                       customer_id=customer, event_id=_event(), ticket_type="Standing", quantity=2,
                       occurred_at=datetime(2026, 12, 1, 20, tzinfo=UTC))


def _event() -> int:
    return db.session.execute(sa.text("SELECT id FROM events")).scalar_one()


def _rolled() -> tuple:
    with db.engine.connect() as conn:
        hours = conn.execute(sa.text("SELECT coalesce(sum(orders), 0) FROM purchase_hours")).scalar_one()
        sales = conn.execute(sa.text("SELECT orders, buyers, tickets FROM event_sales")).one_or_none()
    return hours, tuple(sales) if sales else None


def test_the_insert_triggers_leave_a_callers_rows_to_it_and_roll_up_the_rest(old_app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps its row triggers: the migration changes nothing there")
    with db.engine.begin() as conn:
        tenant = insert_row(conn, "tenants", name="Alpha", slug="alpha", timezone="UTC")
        customer = insert_row(conn, "customers", tenant_id=tenant, email="a@example.com", attributes={},
                              total_spent=0, orders_count=0)
        insert_row(conn, "events", tenant_id=tenant, external_id="e-1", name="Show", status="scheduled")
    upgrade(revision=REVISION)
    _purchase(tenant, customer, "o-1", left=True)
    assert _rolled() == (0, None)  # left to the caller, who did not apply them
    _purchase(tenant, customer, "o-2", left=False)
    assert _rolled() == (1, (1, 1, 2))

    downgrade(revision=BEFORE)
    _purchase(tenant, customer, "o-3", left=True)  # the old triggers know no caller
    assert _rolled() == (2, (2, 1, 4))
