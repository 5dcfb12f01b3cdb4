"""Migration 0017_send_windows on a database with a tenant and a sent campaign: no cap, no quiet
hours, nothing transactional, no waves (what the product did before), and the way back drops
the columns and keeps the rows."""

from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.migration_support import app_before, insert_row
from webapp.extensions import db

BEFORE = "0016_signup_forms"
REVISION = "0017_send_windows"
NEW = {"tenants": {"frequency_cap_emails", "frequency_cap_days", "quiet_hours_start", "quiet_hours_end"},
       "email_campaigns": {"local_send_time", "transactional"}, "campaign_recipients": {"wave_at"}}

old_app = app_before(BEFORE)


def columns(table: str) -> set[str]:
    return {column["name"] for column in sa.inspect(db.engine).get_columns(table)}


def test_existing_rows_get_no_cap_no_quiet_hours_and_no_waves_and_the_way_back_drops_them(old_app):
    with db.engine.begin() as conn:
        alpha = insert_row(conn, "tenants", name="Alpha", slug="alpha", timezone="UTC")
        campaign = insert_row(conn, "email_campaigns", tenant_id=alpha, name="c", subject="s", html_content="<p>x</p>",
                           status="sent", kind="campaign")

    upgrade(revision=REVISION)

    with db.engine.connect() as conn:
        tenant = conn.execute(sa.text("SELECT frequency_cap_emails, frequency_cap_days, quiet_hours_start, "
                                      "quiet_hours_end FROM tenants WHERE id = :id"), {"id": alpha}).one()
        sent = conn.execute(sa.text("SELECT local_send_time, transactional FROM email_campaigns WHERE id = :id"),
                            {"id": campaign}).one()
    assert tuple(tenant) == (None, None, None, None)
    assert (sent.local_send_time, bool(sent.transactional)) == (None, False)

    downgrade(revision=BEFORE)
    for table, added in NEW.items():
        assert not added & columns(table)
    with db.engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT name FROM email_campaigns WHERE id = :id"), {"id": campaign}).scalar()
    assert kept == "c"
