"""Migration 0012_tenant_locale on a database with tenants: each gets a currency and a locale
(GBP, en_GB: what the product showed before, and the demo's), and the way back drops them."""

from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.migration_support import app_before, insert_row
from webapp.extensions import db

BEFORE = "0011_campaign_test_sent"
REVISION = "0012_tenant_locale"

old_app = app_before(BEFORE)


def tenant_columns() -> set[str]:
    return {column["name"] for column in sa.inspect(db.engine).get_columns("tenants")}


def test_existing_tenants_get_pounds_in_british_english_and_new_ones_may_choose(old_app):
    with db.engine.begin() as conn:
        alpha = insert_row(conn, "tenants", name="Alpha", slug="alpha", timezone="Europe/Berlin")

    upgrade(revision=REVISION)

    with db.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT currency, locale FROM tenants WHERE id = :id"), {"id": alpha}).one()
    assert tuple(row) == ("GBP", "en_GB")
    upgrade()  # the models are today's: later revisions add tenant columns they read
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
