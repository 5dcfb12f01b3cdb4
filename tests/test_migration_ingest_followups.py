"""Migration 0030_ingest_followups: the table the models describe, and the way back drops it."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from tests.migration_support import app_before
from webapp.extensions import db

BEFORE = "0029_customer_last_touched"
REVISION = "0030_ingest_followups"

old_app = app_before(BEFORE)


def test_the_followups_table_is_what_the_models_say_and_the_way_back_drops_it(old_app):
    assert "ingest_followups" not in sa.inspect(db.engine).get_table_names()
    upgrade(revision=REVISION)
    assert "ingest_followups" in sa.inspect(db.engine).get_table_names()
    with db.engine.connect() as conn:
        differences = [d for d in compare_metadata(MigrationContext.configure(conn), db.metadata)
                       if "ingest_followups" in repr(d)]
    assert differences == []
    downgrade(revision=BEFORE)
    assert "ingest_followups" not in sa.inspect(db.engine).get_table_names()
