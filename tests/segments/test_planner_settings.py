"""PostgreSQL plans the per-purchase statements well however fresh its statistics are: the
app's connections never JIT-compile (a probe planned on stale statistics spent 235 ms
compiling to run for 1 ms), and a calculation that moved a large share of the members table
analyzes it at once rather than when autovacuum gets to it."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from webapp.extensions import db
from webapp.services import segments
from webapp.services.customers import upsert_customer


@pytest.fixture(autouse=True)
def _postgres_only(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no JIT and no planner statistics to keep")


def test_every_connection_of_the_pool_has_jit_off(app):
    assert db.session.scalar(text("SHOW jit")) == "off"
    db.session.remove()
    db.engine.dispose()  # the next connection is a new one
    assert db.session.scalar(text("SHOW jit")) == "off"
    with db.engine.connect() as conn:
        assert conn.scalar(text("SHOW jit")) == "off"


def _members_known() -> float:
    return db.session.scalar(text("SELECT reltuples FROM pg_class WHERE oid = 'customer_segment_members'::regclass"))


def test_a_calculation_that_moves_a_large_share_analyzes_the_members_table(tenant_a, monkeypatch):
    monkeypatch.setattr(segments, "ANALYZE_AFTER_MOVES", 20)
    for n in range(30):
        upsert_customer(tenant_a.id, {"email": f"fan{n}@example.com", "tags": ["vip"]})
    db.session.commit()
    db.session.execute(text("ANALYZE customer_segment_members"))  # the table as it is: empty
    db.session.commit()
    known_before = _members_known()
    segment = segments.create_segment(tenant_a.id, "VIPs", [{"type": "tag", "operator": "has", "value": "vip"}])
    result = segments.calculate_segment(tenant_a.id, segment.id)
    assert result.member_count == 30
    assert known_before <= 0 and _members_known() == 30  # counted now, not at autovacuum's next round


def test_a_calculation_that_moves_a_small_share_leaves_the_statistics_to_autovacuum(tenant_a, monkeypatch):
    monkeypatch.setattr(segments, "ANALYZE_AFTER_MOVES", 20)
    for n in range(40):
        upsert_customer(tenant_a.id, {"email": f"fan{n}@example.com", "tags": ["vip"] if n < 38 else ["new"]})
    db.session.commit()
    vip = segments.create_segment(tenant_a.id, "VIPs", [{"type": "tag", "operator": "has", "value": "vip"}])
    segments.calculate_segment(tenant_a.id, vip.id)
    db.session.execute(text("ANALYZE customer_segment_members"))
    db.session.commit()
    assert _members_known() == 38
    newcomers = segments.create_segment(tenant_a.id, "New", [{"type": "tag", "operator": "has", "value": "new"}])
    assert segments.calculate_segment(tenant_a.id, newcomers.id).member_count == 2
    assert _members_known() == 38  # two moves: below the threshold, not analyzed again
