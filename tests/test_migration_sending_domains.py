"""Migration 0009_sending_domains on a database with data: every From address already saved
(tenant senders, campaigns' from_email) gets its domain as an unverified sending domain,
so nothing saved before the From rule existed becomes invalid."""

from __future__ import annotations

import os
import re
import tempfile

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from webapp import create_app
from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.testing import ThrowawayPostgres

BEFORE = "0008_user_sessions"


@pytest.fixture
def empty_database_url():
    server_url = os.environ.get("TEST_DATABASE_URL")
    if server_url:
        pg = ThrowawayPostgres(server_url).create()
        yield pg.url
        pg.drop()
    else:
        yield f"sqlite:///{tempfile.mkdtemp(prefix='crm-migration-')}/m.sqlite3"


@pytest.fixture
def old_app(empty_database_url, redis_server, app):
    # `app` first: the suite's app owns the current context; this one gets its own.
    other = create_app({"TESTING": True, "SECRET_KEY": "migration", "SQLALCHEMY_DATABASE_URI": empty_database_url,
                        "REDIS_URL": redis_server.url, "TRACKING_SPOOL_DIR": tempfile.mkdtemp()})
    with other.app_context():
        upgrade(revision=BEFORE)
        yield other
        db.session.remove()
        db.engine.dispose()


def _insert(conn, table_name: str, **values) -> int:
    """A row with `values` and something valid in every other required column."""
    table = sa.Table(table_name, sa.MetaData(), autoload_with=conn)
    row = dict(values)
    for column in table.columns:
        if column.name in row or column.nullable or column.server_default is not None or column.primary_key:
            continue
        kind = column.type.python_type if not isinstance(column.type, sa.JSON) else dict
        row[column.name] = {int: 0, str: "x", float: 0.0, bool: False, dict: {}}.get(kind, utcnow())
    return conn.execute(table.insert().values(row)).inserted_primary_key[0]


def test_every_saved_from_address_gets_its_domain_as_an_unverified_sending_domain(old_app):
    with db.engine.begin() as conn:
        alpha = _insert(conn, "tenants", name="Alpha", slug="alpha", timezone="UTC",
                        sender_email="hello@alpha.example.com")
        bravo = _insert(conn, "tenants", name="Bravo", slug="bravo", timezone="UTC")
        _insert(conn, "tenants", name="Charlie", slug="charlie", timezone="UTC")
        for tenant_id, from_email in ((alpha, "news@alpha.example.com"), (alpha, "tickets@mail.alpha.example.com"),
                                      (alpha, None), (bravo, "x@bravo.example.com"), (bravo, "y@bravo.example.com")):
            _insert(conn, "email_campaigns", tenant_id=tenant_id, name="c", subject="s", html_content="<p>x</p>",
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
