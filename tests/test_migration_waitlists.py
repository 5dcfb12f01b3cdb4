"""Migration 0019_waitlists: the crossing, waitlist and entry tables arrive with the unique
place per customer while waiting or offered (a partial index on both backends), and the
way back drops them and keeps the events."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.migration_support import app_before, insert_row
from webapp.extensions import db

BEFORE = "0018_events"
REVISION = "0019_waitlists"

old_app = app_before(BEFORE)


def test_waitlists_arrive_with_one_active_place_per_customer_and_leave_the_events_behind(old_app):
    with db.engine.begin() as conn:
        tenant = insert_row(conn, "tenants", name="Alpha", slug="alpha", timezone="UTC")
        customer = insert_row(conn, "customers", tenant_id=tenant, email="ava@example.com", total_spent=0)
        event = insert_row(conn, "events", tenant_id=tenant, external_id="e1", name="Jazz")

    upgrade(revision=REVISION)

    entry = {"tenant_id": tenant, "event_id": event, "customer_id": customer, "quantity": 1, "source": "api",
             "joined_at": "2027-01-01 00:00:00"}
    insert = sa.text("INSERT INTO waitlist_entries (tenant_id, event_id, customer_id, status, quantity, source, "
                     "joined_at) VALUES (:tenant_id, :event_id, :customer_id, :status, :quantity, :source, :joined_at)")
    with db.engine.begin() as conn:
        conn.execute(insert, {**entry, "status": "expired"})
        conn.execute(insert, {**entry, "status": "waiting"})
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
        conn.execute(insert, {**entry, "status": "offered"})

    downgrade(revision=BEFORE)
    tables = set(sa.inspect(db.engine).get_table_names())
    assert not {"inventory_crossings", "event_waitlists", "waitlist_entries"} & tables
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM events")).scalar() == 1
