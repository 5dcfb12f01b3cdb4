"""Migrations 0027_campaign_agent_hits and 0028_campaign_recipient_counts: the rows already
there are summed into the new rollups (hits per user agent, keyed as the hit writer keys
them; recipients per status and engagement), the triggers count what comes after, and the
way back drops both."""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.migration_support import app_before, insert_row
from webapp.extensions import db
from webapp.services.tracking.batches import agent_key

BEFORE = "0026_event_sales"
REVISION = "0028_campaign_recipient_counts"

old_app = app_before(BEFORE)

LONG_AGENT = "漢" * 1000  # 3,000 bytes: longer than a PostgreSQL index entry may be
AGENTS = [None, "", "Mozilla/5.0 (iPhone) Mobile/15E148", LONG_AGENT, "Mozilla/5.0 (iPhone) Mobile/15E148"]
# (status, opens, human_opens, clicks, human_clicks) of each recipient
RECIPIENTS = [("sent", 2, 1, 1, 1), ("sent", 1, 0, 0, 0), ("sent", 0, 0, 0, 0), ("failed", 0, 0, 0, 0),
              ("sent", 3, 2, 0, 0), ("pending", 0, 0, 0, 0)]


def _rows(sql: str) -> list:
    with db.engine.connect() as conn:
        return list(conn.execute(sa.text(sql)))


def test_existing_hits_and_recipients_are_summed_and_new_ones_counted(old_app):
    with db.engine.begin() as conn:
        tenant = insert_row(conn, "tenants", name="Alpha", slug="alpha", timezone="UTC")
        campaign = insert_row(conn, "email_campaigns", tenant_id=tenant, name="Old", subject="S",
                              html_content="<p>x</p>", status="sent")
        rows = []
        for n, (status, opens, human_opens, clicks, human_clicks) in enumerate(RECIPIENTS):
            person = insert_row(conn, "customers", tenant_id=tenant, email=f"p{n}@example.com", attributes={},
                                total_spent=0, orders_count=0)
            rows.append(insert_row(conn, "campaign_recipients", campaign_id=campaign, tenant_id=tenant,
                                   customer_id=person, email=f"p{n}@example.com", status=status, token=f"t{n}" * 8,
                                   opens=opens, human_opens=human_opens, clicks=clicks, human_clicks=human_clicks))
        for n, agent in enumerate(AGENTS):
            insert_row(conn, "tracking_hits", stream_id=f"{n}-0", tenant_id=tenant, campaign_id=campaign,
                       recipient_id=rows[0], customer_id=1, kind="open", is_machine=n == 2, user_agent=agent)

    upgrade(revision=REVISION)

    agents = {(kind, bool(machine), key): (user_agent, hits) for kind, machine, key, user_agent, hits in _rows(
        "SELECT kind, is_machine, agent_key, user_agent, hits FROM campaign_agent_hits")}
    iphone = "Mozilla/5.0 (iPhone) Mobile/15E148"
    assert agents == {("open", False, ""): (None, 2),  # no agent and an empty one: one key
                      ("open", True, agent_key(iphone)): (iphone, 1),
                      ("open", False, agent_key(LONG_AGENT)): (LONG_AGENT, 1),
                      ("open", False, agent_key(iphone)): (iphone, 1)}
    counts = Counter({(s, bool(o), bool(c), bool(t)): n for s, o, c, t, n in _rows(
        "SELECT status, opened, clicked, touched, recipients FROM campaign_recipient_counts")})
    assert counts == Counter({("sent", True, True, True): 1, ("sent", False, False, True): 1,
                              ("sent", False, False, False): 1, ("failed", False, False, False): 1,
                              ("sent", True, False, True): 1, ("pending", False, False, False): 1})

    with db.engine.begin() as conn:  # from now on the triggers count
        conn.execute(sa.text("UPDATE campaign_recipients SET status = 'sent' WHERE status = 'pending'"))
    assert _rows("SELECT recipients FROM campaign_recipient_counts WHERE status = 'pending'") == [(0,)]
    assert _rows("SELECT recipients FROM campaign_recipient_counts WHERE status = 'sent' AND NOT opened "
                 "AND NOT touched") == [(2,)]

    downgrade(revision=BEFORE)
    tables = set(sa.inspect(db.engine).get_table_names())
    assert not {"campaign_agent_hits", "campaign_recipient_counts"} & tables
    with db.engine.begin() as conn:  # no trigger is left behind to write into a dropped table
        conn.execute(sa.text("UPDATE campaign_recipients SET status = 'failed'"))
    upgrade(revision=REVISION)
    assert _rows("SELECT sum(recipients) FROM campaign_recipient_counts WHERE status = 'failed'") == [(6,)]
