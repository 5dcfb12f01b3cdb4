"""Migration 0009_sending_domains on a database with data: every From address already saved
(tenant senders, campaigns' from_email) gets its domain as an unverified sending domain,
so nothing saved before the From rule existed becomes invalid."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.migration_support import app_before, insert_row
from webapp.extensions import db

BEFORE = "0008_user_sessions"

old_app = app_before(BEFORE)


def test_every_saved_from_address_gets_its_domain_as_an_unverified_sending_domain(old_app):
    with db.engine.begin() as conn:
        alpha = insert_row(conn, "tenants", name="Alpha", slug="alpha", timezone="UTC",
                        sender_email="hello@alpha.example.com")
        bravo = insert_row(conn, "tenants", name="Bravo", slug="bravo", timezone="UTC")
        insert_row(conn, "tenants", name="Charlie", slug="charlie", timezone="UTC")
        for tenant_id, from_email in ((alpha, "news@alpha.example.com"), (alpha, "tickets@mail.alpha.example.com"),
                                      (alpha, None), (bravo, "x@bravo.example.com"), (bravo, "y@bravo.example.com")):
            insert_row(conn, "email_campaigns", tenant_id=tenant_id, name="c", subject="s", html_content="<p>x</p>",
                    status="draft", kind="campaign", from_email=from_email)

    upgrade()

    with db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT tenant_id, domain, status, verified_at, verification_token "
                                    "FROM sending_domains ORDER BY tenant_id, domain")).all()
    assert [(r.tenant_id, r.domain, r.status, r.verified_at) for r in rows] == [
        (alpha, "alpha.example.com", "unverified", None), (alpha, "mail.alpha.example.com", "unverified", None),
        (bravo, "bravo.example.com", "unverified", None)]
    tokens = [r.verification_token for r in rows]
    assert len(set(tokens)) == 3 and all(re.fullmatch(r"[0-9a-f]{32}", t) for t in tokens)

    # What was saved still passes the From rule.
    from webapp.models import EmailCampaign, Tenant
    from webapp.services import campaigns, tenant_settings

    tenant = db.session.get(Tenant, alpha)
    tenant_settings.update_settings(tenant, {"sender_email": tenant.sender_email})
    for campaign in db.session.scalars(sa.select(EmailCampaign).where(EmailCampaign.from_email.is_not(None))):
        campaigns.update_campaign(campaign.tenant_id, campaign.id, {"from_email": campaign.from_email})

    downgrade(revision=BEFORE)
    assert "sending_domains" not in sa.inspect(db.engine).get_table_names()
