"""Migration 0015_provider_webhooks on a database with sending domains and sent mail: domains
keep their rows with no DKIM key, the new tables start empty, and the way back drops it all."""

from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.migration_support import app_before, insert_row
from webapp.extensions import db

BEFORE = "0014_topics_consent"
REVISION = "0015_provider_webhooks"

old_app = app_before(BEFORE)


def columns(table: str) -> set[str]:
    return {column["name"] for column in sa.inspect(db.engine).get_columns(table)}


def test_domains_keep_their_rows_without_a_key_and_the_way_back_drops_the_new_parts(old_app):
    with db.engine.begin() as conn:
        tenant = insert_row(conn, "tenants", name="Alpha", slug="alpha")
        domain = insert_row(conn, "sending_domains", tenant_id=tenant, domain="alpha.example.com",
                            verification_token="t", status="verified")

    upgrade(revision=REVISION)

    with db.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT domain, status, dkim_selector, dkim_private_key FROM sending_domains "
                                   "WHERE id = :id"), {"id": domain}).one()
        assert tuple(row) == ("alpha.example.com", "verified", None, None)
        assert conn.execute(sa.text("SELECT count(*) FROM provider_events")).scalar() == 0
        keys = conn.execute(sa.text("SELECT tenant_id, key FROM provider_webhook_settings")).all()
        assert [tenant_id for tenant_id, _ in keys] == [tenant] and len(keys[0][1]) == 40
    indexes = {index["name"] for index in sa.inspect(db.engine).get_indexes("campaign_recipients")}
    assert "ix_campaign_recipients_message_id" in indexes

    downgrade(revision=BEFORE)
    assert not {"dkim_selector", "dkim_private_key", "dkim_public_key", "dkim_created_at"} & columns("sending_domains")
    assert not {"provider_events", "provider_webhook_settings"} & set(sa.inspect(db.engine).get_table_names())
