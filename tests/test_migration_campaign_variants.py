"""Migration 0022_campaign_variants: an existing campaign and its recipients come through
with no test (no variants, no settings, no variant per row); variants attach to campaigns
one per position; the way back drops them and keeps the campaign."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.migration_support import app_before, insert_row
from webapp.extensions import db

BEFORE = "0021_workflow_paths"
REVISION = "0022_campaign_variants"

old_app = app_before(BEFORE)


def test_campaigns_come_through_untested_and_variants_are_one_per_position(old_app):
    with db.engine.begin() as conn:
        tenant = insert_row(conn, "tenants", name="Alpha", slug="alpha", timezone="UTC")
        customer = insert_row(conn, "customers", tenant_id=tenant, email="ava@example.com", total_spent=0)
        campaign = insert_row(conn, "email_campaigns", tenant_id=tenant, name="Old", subject="S",
                              html_content="<p>x</p>", status="sent")
        insert_row(conn, "campaign_recipients", campaign_id=campaign, tenant_id=tenant, customer_id=customer,
                   email="ava@example.com", status="sent", token="t" * 32)

    upgrade(revision=REVISION)

    with db.engine.begin() as conn:
        row = conn.execute(sa.text("SELECT ab_share_percent, ab_winner FROM email_campaigns")).one()
        assert tuple(row) == (None, None)
        assert conn.execute(sa.text("SELECT variant FROM campaign_recipients")).scalar() is None
        insert_row(conn, "campaign_variants", campaign_id=campaign, tenant_id=tenant, position=0)
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
        insert_row(conn, "campaign_variants", campaign_id=campaign, tenant_id=tenant, position=0)

    downgrade(revision=BEFORE)
    assert "campaign_variants" not in set(sa.inspect(db.engine).get_table_names())
    columns = {c["name"] for c in sa.inspect(db.engine).get_columns("email_campaigns")}
    assert not {c for c in columns if c.startswith("ab_")}
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM email_campaigns")).scalar() == 1
