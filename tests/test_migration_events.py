"""Migration 0018_events on a database whose events live only in purchases: each (tenant,
event id) becomes one events row, named and dated as its latest purchase says, and the way
back drops the tables and keeps the purchases."""

from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.migration_support import app_before, insert_row
from webapp.extensions import db

BEFORE = "0017_send_windows"
REVISION = "0018_events"

old_app = app_before(BEFORE)


def _purchase(conn, tenant: int, customer: int, order: str, event: dict) -> None:
    insert_row(conn, "customer_activities", tenant_id=tenant, customer_id=customer, type="purchase",
               order_id=order, event_id=event.get("id"), event_name=event.get("name"),
               properties={"order_total": 10, "event": event})


def test_events_named_by_purchases_become_rows_and_the_way_back_keeps_the_purchases(old_app):
    with db.engine.begin() as conn:
        alpha = insert_row(conn, "tenants", name="Alpha", slug="alpha", timezone="UTC")
        beta = insert_row(conn, "tenants", name="Beta", slug="beta", timezone="UTC")
        ava = insert_row(conn, "customers", tenant_id=alpha, email="ava@example.com", total_spent=0)
        bo = insert_row(conn, "customers", tenant_id=beta, email="bo@example.com", total_spent=0)
        _purchase(conn, alpha, ava, "o1", {"id": "e1", "name": "Jazz", "starts_at": "2027-01-01T20:00:00+01:00",
                                            "venue": "Quasimodo"})
        _purchase(conn, alpha, ava, "o2", {"id": "e1", "name": "Jazz", "starts_at": "not a date"})
        _purchase(conn, alpha, ava, "o3", {"id": "e2", "name": "Folk", "starts_at": "2027-02-01T20:00:00"})
        _purchase(conn, beta, bo, "o4", {"id": "e1", "name": "Beta's e1", "starts_at": "2027-03-01T19:00:00Z"})

    upgrade(revision=REVISION)

    with db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT tenant_id, external_id, name, starts_at, venue_name, status FROM events "
                                    "ORDER BY tenant_id, external_id")).all()
    assert [(r.tenant_id, r.external_id, r.name, r.status) for r in rows] == [
        (alpha, "e1", "Jazz", "on_sale"), (alpha, "e2", "Folk", "on_sale"), (beta, "e1", "Beta's e1", "on_sale")]
    # The latest purchase of e1 gave no readable start; e2's start had no offset: both unknown.
    assert [r.starts_at for r in rows[:2]] == [None, None]
    assert str(rows[2].starts_at).startswith("2027-03-01 19:00:00")

    downgrade(revision=BEFORE)
    tables = set(sa.inspect(db.engine).get_table_names())
    assert not {"events", "event_tags", "purchase_items", "event_attendance"} & tables
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM customer_activities")).scalar() == 4
