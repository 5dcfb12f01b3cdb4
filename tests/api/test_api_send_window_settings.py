"""The frequency cap and quiet hours as settings (GET/PATCH /api/crm/settings): their shapes,
their bounds (a 422 naming the part at fault, nothing saved), null to switch them off, the
audit log, and hostile input of any shape."""

from __future__ import annotations

import json

import pytest
from api_assertions import assert_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import AuditEvent, Tenant

CAP = {"max_emails": 3, "days": 7}
QUIET = {"start": "21:00", "end": "08:00"}


def stored(tenant_id: int) -> tuple:
    db.session.expire_all()
    tenant = db.session.get(Tenant, tenant_id)
    return (tenant.frequency_cap_emails, tenant.frequency_cap_days, tenant.quiet_hours_start, tenant.quiet_hours_end)


def test_the_cap_and_quiet_hours_are_set_read_back_and_switched_off_with_null(api, tenant_a):
    response = api.patch("/settings", json={"frequency_cap": CAP, "quiet_hours": QUIET})

    assert response.status_code == 200
    assert (response.get_json()["frequency_cap"], response.get_json()["quiet_hours"]) == (CAP, QUIET)
    assert api.get("/settings").get_json()["frequency_cap"] == CAP
    assert stored(tenant_a.id) == (3, 7, "21:00", "08:00")

    cleared = api.patch("/settings", json={"frequency_cap": None}).get_json()
    assert (cleared["frequency_cap"], cleared["quiet_hours"]) == (None, QUIET)
    assert stored(tenant_a.id) == (None, None, "21:00", "08:00")


def test_changing_them_is_audited_like_the_other_settings(api, tenant_a):
    api.patch("/settings", json={"frequency_cap": CAP})

    event = db.session.scalars(select(AuditEvent).where(AuditEvent.tenant_id == tenant_a.id,
                                                        AuditEvent.action == "settings.changed")).one()
    assert event.changes == {"frequency_cap_emails": [None, 3], "frequency_cap_days": [None, 7]}


@pytest.mark.parametrize(("body", "field"), [
    ({"frequency_cap": {"max_emails": 0, "days": 7}}, "frequency_cap.max_emails"),
    ({"frequency_cap": {"max_emails": 101, "days": 7}}, "frequency_cap.max_emails"),
    ({"frequency_cap": {"max_emails": 3, "days": 0}}, "frequency_cap.days"),
    ({"frequency_cap": {"max_emails": 3, "days": 91}}, "frequency_cap.days"),
    ({"frequency_cap": {"max_emails": "3", "days": 7}}, "frequency_cap.max_emails"),
    ({"frequency_cap": {"max_emails": 3.5, "days": 7}}, "frequency_cap.max_emails"),
    ({"frequency_cap": {"max_emails": True, "days": 7}}, "frequency_cap.max_emails"),
    ({"frequency_cap": {"max_emails": 3}}, "frequency_cap.days"),
    ({"frequency_cap": {"max_emails": 3, "days": 7, "per": "week"}}, "frequency_cap.per"),
    ({"frequency_cap": 3}, "frequency_cap"),
    ({"quiet_hours": {"start": "21:00", "end": "21:00"}}, "quiet_hours.end"),
    ({"quiet_hours": {"start": "24:00", "end": "08:00"}}, "quiet_hours.start"),
    ({"quiet_hours": {"start": "9:00", "end": "08:00"}}, "quiet_hours.start"),
    ({"quiet_hours": {"start": "21:00", "end": "08:00:00"}}, "quiet_hours.end"),
    ({"quiet_hours": {"start": "21:00", "end": "08:60"}}, "quiet_hours.end"),
    ({"quiet_hours": {"start": "21:00\u0000", "end": "08:00"}}, "quiet_hours.start"),
    ({"quiet_hours": {"start": "21:00"}}, "quiet_hours.end"),
    ({"quiet_hours": "21:00-08:00"}, "quiet_hours"),
])
def test_a_value_out_of_bounds_is_a_422_naming_its_part_and_nothing_is_saved(api, tenant_a, body, field):
    api.patch("/settings", json={"frequency_cap": CAP, "quiet_hours": QUIET, "attribution_days": 5})

    response = api.patch("/settings", json={**body, "attribution_days": 9})

    assert_error(response, 422, field=field, case=body)
    assert stored(tenant_a.id) == (3, 7, "21:00", "08:00")
    assert api.get("/settings").get_json()["attribution_days"] == 5


def test_the_openapi_document_describes_both_settings(api):
    spec = api.get("/openapi.json").get_json()
    patch = json.dumps(spec)
    assert "max_emails" in patch and "quiet_hours" in patch and "per_customer_timezone" in patch


JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**20), max_value=10**20),
              st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
              st.sampled_from(["21:00", "08:00", "23:59", "00:00", "24:00", "\u0000", "\ud800"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(
        st.sampled_from(["max_emails", "days", "start", "end", "x"]), inner, max_size=4)),
    max_leaves=8)
RAW = st.one_of(JSON.map(lambda value: json.dumps(value)),
                st.sampled_from(["NaN", "Infinity", "1e400", '{"max_emails": 1e400, "days": 7}',
                                 '{"start": "\\ud800", "end": "08:00"}', "[" * 3000 + "]" * 3000,
                                 '{"max_emails": ' + "9" * 5000 + ', "days": 7}']))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["frequency_cap", "quiet_hours"]), raw=RAW)
def test_any_value_is_a_json_answer_and_a_refusal_changes_nothing(api, tenant_a, field, raw):
    before = stored(tenant_a.id)

    response = api.patch("/settings", data=f'{{"{field}": {raw}}}', content_type="application/json")

    assert response.status_code in (200, 400, 413, 422), (field, raw[:80], response.status_code)
    assert response.is_json
    if response.status_code == 200:
        value = response.get_json()[field]
        assert value is None or set(value) in ({"max_emails", "days"}, {"start", "end"})
        api.patch("/settings", json={"frequency_cap": None, "quiet_hours": None})
    else:
        assert_error(response, response.status_code, case=(field, raw[:80]))
        assert stored(tenant_a.id) == before
