"""Migration 0034_enrollment_event_ref: the enrollments already stored get the event their
payload names (the same rule new enrollments are written with, for any payload), the
partial index arrives, and the way back drops both."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.migration_support import app_before, insert_row, tenant_with_workflow
from webapp.extensions import db
from webapp.models.workflow import event_reference

BEFORE = "0033_segment_reachable_counts"
REVISION = "0034_enrollment_event_ref"

old_app = app_before(BEFORE)

_spec = importlib.util.spec_from_file_location(
    "event_ref_migration", Path(__file__).parents[1] / "migrations" / "versions" / f"{REVISION}.py")
migration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(migration)

PAYLOADS = [
    {"event": {"id": "evt-1", "name": "Berlin"}},  # an event trigger's payload
    {"order_total": 5, "event": {"external_id": "evt-2", "id": "ignored"}},  # a purchase naming both
    {"event": {"external_id": None, "id": "evt-3"}},
    {"event": {"id": 42}},
    {"event": {"id": "  evt-4 \t"}},
    {"event": {"id": True}},
    {"event": {"id": 4.5}},
    {"event": {"id": ""}},
    {"event": {"id": "x" * 201}},
    {"event": {"external_id": {"deep": 1}, "id": "evt-5"}},
    {"event": "evt-6"},
    {"tag": "vip"},
    {},
]


def _enroll(conn, tenant: int, customer: int, workflow: int, payload, table="automation_enrollments") -> int:
    return insert_row(conn, table, tenant_id=tenant, workflow_id=workflow, customer_id=customer,
                      status="completed", trigger_type="purchase", trigger_payload=payload, attempts=0)


def _refs(conn) -> dict[int, str | None]:
    return dict(conn.execute(sa.text("SELECT id, event_ref FROM automation_enrollments")).all())


def test_existing_enrollments_get_their_event_and_the_way_back_drops_it(old_app):
    with db.engine.begin() as conn:
        tenant, customer, workflow = tenant_with_workflow(conn)
        ids = [_enroll(conn, tenant, customer, workflow, payload) for payload in PAYLOADS]

    upgrade(revision=REVISION)

    with db.engine.connect() as conn:
        assert _refs(conn) == dict(zip(ids, [
            "evt-1", "evt-2", "evt-3", "42", "evt-4", None, None, None, None, None, None, None, None], strict=True))
    indexes = {i["name"]: i for i in sa.inspect(db.engine).get_indexes("automation_enrollments")}
    assert indexes["ix_automation_enrollments_event"]["column_names"] == ["tenant_id", "event_ref", "workflow_id"]

    downgrade(revision=BEFORE)
    columns = {c["name"] for c in sa.inspect(db.engine).get_columns("automation_enrollments")}
    assert "event_ref" not in columns
    assert "ix_automation_enrollments_event" not in {
        i["name"] for i in sa.inspect(db.engine).get_indexes("automation_enrollments")}
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM automation_enrollments")).scalar() == len(PAYLOADS)


# Strings half the time (white space at either end is what trimming has to agree on),
# anything else JSON holds the other half.
_ids = st.one_of(st.text(st.sampled_from("ab1-é \t\n\r\x0b\x0c"), max_size=6),
                 st.one_of(st.none(), st.booleans(), st.integers(-10**15, 10**15),
                           st.floats(allow_nan=False, allow_infinity=False),
                           st.sampled_from(["x" * 200, " x" * 100 + " ", "x" * 201]), st.just({"a": 1}),
                           st.just([1])))
_events = st.one_of(st.fixed_dictionaries({"id": _ids}, optional={"external_id": _ids, "name": st.text(max_size=3)}),
                    st.fixed_dictionaries({"external_id": _ids}), _ids)
_payloads = st.fixed_dictionaries({"event": _events}, optional={"order_total": st.integers(0, 9)})


def test_the_backfill_reads_any_payload_as_new_enrollments_are_written(old_app):
    """The backfill's SQL and the rule every new enrollment is written with agree on any
    payload: ids as strings, whole numbers, floats, booleans, objects, blanks, too long."""
    upgrade(revision=REVISION)
    postgres = db.engine.dialect.name == "postgresql"
    with db.engine.begin() as conn:
        tenant, customer, workflow = tenant_with_workflow(conn)
        enrollments = sa.Table("automation_enrollments", sa.MetaData(), autoload_with=conn)

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(payloads=st.lists(_payloads, min_size=1, max_size=6))
    def backfilled(payloads):
        with db.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM automation_enrollments"))
            ids = [_enroll(conn, tenant, customer, workflow, payload, enrollments)
                   for payload in [*payloads, {"tag": "vip"}, []]]
            conn.execute(sa.text(migration.POSTGRES_BACKFILL if postgres else migration.SQLITE_BACKFILL))
            if not postgres:
                conn.execute(sa.text("UPDATE automation_enrollments SET event_ref = NULL "
                                     "WHERE event_ref = '' OR length(event_ref) > 200"))
            stored = conn.execute(sa.text("SELECT id, trigger_payload, event_ref FROM automation_enrollments")).all()
        assert sorted(i for i, _, _ in stored) == sorted(ids) and len(ids) == len(payloads) + 2
        # As stored: PostgreSQL keeps 1e2 as the number 100, which reads back as a whole number.
        assert {i: ref for i, _, ref in stored} == {
            i: event_reference(json.loads(p) if isinstance(p, str) else p) for i, p, _ in stored}

    backfilled()
