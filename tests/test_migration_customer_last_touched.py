"""Migration 0029_customer_last_touched: each customer's latest human open or click already
recorded sets the new column (machines' hits do not), and the way back drops it."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.migration_support import app_before, insert_row
from webapp.extensions import db

BEFORE = "0028_campaign_recipient_counts"
REVISION = "0029_customer_last_touched"

old_app = app_before(BEFORE)


def test_the_latest_human_hit_sets_last_touched_and_machines_do_not(old_app):
    moments = [datetime(2026, 11, day, 9, 30, tzinfo=UTC) for day in (1, 2, 3)]
    with db.engine.begin() as conn:
        tenant = insert_row(conn, "tenants", name="Alpha", slug="alpha", timezone="UTC")
        campaign = insert_row(conn, "email_campaigns", tenant_id=tenant, name="Old", subject="S",
                              html_content="<p>x</p>", status="sent")
        people = [insert_row(conn, "customers", tenant_id=tenant, email=f"p{n}@example.com", attributes={},
                             total_spent=0, orders_count=0) for n in range(3)]
        recipients = [insert_row(conn, "campaign_recipients", campaign_id=campaign, tenant_id=tenant, customer_id=p,
                                 email=f"p{n}@example.com", status="sent", token=f"t{n}" * 8)
                      for n, p in enumerate(people)]
        for n, (who, kind, at, machine) in enumerate([(0, "open", moments[0], False), (0, "click", moments[1], False),
                                                      (0, "open", moments[2], True), (1, "open", moments[2], True)]):
            insert_row(conn, "tracking_hits", stream_id=f"{n}-0", tenant_id=tenant, campaign_id=campaign,
                       recipient_id=recipients[who], customer_id=people[who], kind=kind, occurred_at=at,
                       is_machine=machine)

    upgrade(revision=REVISION)

    with db.engine.connect() as conn:
        found = dict(conn.execute(sa.text("SELECT id, last_touched_at FROM customers")).all())
    stored = found[people[0]]
    if isinstance(stored, str):  # SQLite keeps UTC moments as naive text
        stored = datetime.fromisoformat(stored).replace(tzinfo=UTC)
    assert stored == moments[1]  # the click, not the machine's later open
    assert found[people[1]] is None and found[people[2]] is None

    downgrade(revision=BEFORE)
    assert "last_touched_at" not in {c["name"] for c in sa.inspect(db.engine).get_columns("customers")}
