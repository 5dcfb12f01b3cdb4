"""The timeline's JSON as PostgreSQL writes it (services/timeline.py, `as_json`) is the JSON
activity_dict gives for the same rows, for any properties, any moment (with and without
microseconds, the calendar's ends, any session time zone) and any page; on SQLite it is written
from activity_dict itself. The cursor of either form reads the same next page."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime

import pydantic_core
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, text

from webapp.extensions import db
from webapp.models import CustomerActivity
from webapp.services.customers import upsert_customer
from webapp.services.timeline import activity_dict, timeline

_emails = itertools.count()
_keys = itertools.count()
_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12)
_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | _text, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3), max_leaves=12)
# The product's calendar (every stored moment is in it; a cursor outside it is refused).
_moments = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2999, 12, 30), timezones=st.just(UTC))
_activities = st.lists(st.fixed_dictionaries({
    "type": st.sampled_from(["note", "page_view", "email_opened", "ticket_scan"]),
    # Dicts as the API stores them; None and other falsy or odd values as old rows might hold.
    "properties": st.dictionaries(_text, _values, max_size=4) | st.sampled_from([None, [], 0, 0.0, "", False, [1]]),
    "occurred_at": _moments | _moments.map(lambda m: m.replace(microsecond=0)),
    "created_at": _moments,
    "idempotency_key": st.none() | _text.map(lambda t: f"{t}·{next(_keys)}"),  # unique in the tenant
}), min_size=1, max_size=7)


def _pages(tenant_id: int, customer_id: int, as_json: bool, limit: int) -> list:
    items, cursor = [], None
    while True:
        page = timeline(tenant_id, customer_id, limit=limit, cursor=cursor, as_json=as_json)
        items += page.items
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_activities, limit=st.integers(1, 4), zone=st.sampled_from(["UTC", "Asia/Kolkata", "America/St_Johns"]))
def test_the_databases_json_is_activity_dicts_json(tenant_a, rows, limit, zone):
    customer, _ = upsert_customer(tenant_a.id, {"email": f"json{next(_emails)}@example.com"})
    db.session.execute(insert(CustomerActivity), [
        {**row, "tenant_id": tenant_a.id, "customer_id": customer.id} for row in rows])
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"SET TIME ZONE '{zone}'"))  # the driver's moments follow it; the JSON must not

    written = _pages(tenant_a.id, customer.id, True, limit)
    expected = [json.loads(pydantic_core.to_json(activity_dict(row))) for row in _pages(tenant_a.id, customer.id,
                                                                                         False, limit)]
    db.session.rollback()

    assert [json.loads(item) for item in written] == expected
    assert len(expected) == len(rows)
    assert {e["type"] for e in expected} == {r["type"] for r in rows}
