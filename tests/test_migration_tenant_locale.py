"""Migration 0012_tenant_locale on a database with tenants: each gets a currency and a locale
(GBP, en_GB: what the product showed before, and the demo's), and the way back drops them."""

from __future__ import annotations

import os
import tempfile

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.test_migration_sending_domains import _insert
from webapp import create_app
from webapp.extensions import db
from webapp.testing import ThrowawayPostgres

BEFORE = "0011_campaign_test_sent"
REVISION = "0012_tenant_locale"


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


def tenant_columns() -> set[str]:
    return {column["name"] for column in sa.inspect(db.engine).get_columns("tenants")}


def test_existing_tenants_get_pounds_in_british_english_and_new_ones_may_choose(old_app):
    with db.engine.begin() as conn:
        alpha = _insert(conn, "tenants", name="Alpha", slug="alpha", timezone="Europe/Berlin")

    upgrade(revision=REVISION)

    with db.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT currency, locale FROM tenants WHERE id = :id"), {"id": alpha}).one()
    assert tuple(row) == ("GBP", "en_GB")
    from webapp.models import Tenant
    from webapp.services import tenant_settings

    tenant = db.session.get(Tenant, alpha)
    tenant_settings.update_settings(tenant, {"currency": "EUR", "locale": "de_DE"})
    db.session.expire_all()
    assert (db.session.get(Tenant, alpha).currency, db.session.get(Tenant, alpha).locale) == ("EUR", "de_DE")
    db.session.rollback()  # PostgreSQL: the read's transaction would hold the table the downgrade alters

    downgrade(revision=BEFORE)
    assert not {"currency", "locale"} & tenant_columns()
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT name FROM tenants WHERE id = :id"), {"id": alpha}).scalar() == "Alpha"
