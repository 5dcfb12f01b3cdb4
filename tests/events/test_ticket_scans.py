"""ticket_scanned activities: a scan at the gate marks the holder attended (the first scan
time kept, a ticket scanned again counted once), a scan names an event the API knows, and
hostile properties are a 422 naming the field, never a 500."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.api.api_assertions import assert_error
from tests.events.attendance_support import attendance_rows, buy, create_show, scan
from webapp.extensions import db
from webapp.models import CustomerActivity, Event, EventAttendance

HOSTILE = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def scans_stored() -> int:
    return db.session.scalar(select(func.count()).select_from(CustomerActivity)
                             .where(CustomerActivity.type == "ticket_scanned"))


def test_a_scan_marks_the_holder_attended_counting_tickets_and_keeping_the_earliest_scan(api):
    show = create_show(api)
    buy(api, "ada@example.com", "o-1", tickets=2)

    first = scan(api, "ada@example.com", ticket="T-1", at="2027-03-14T19:40:00+01:00")
    assert first.status_code == 201, first.get_json()
    # Her friend's ticket reaches the server later but was scanned earlier (a gate's queue flushed late).
    assert scan(api, "ada@example.com", ticket="T-2", at="2027-03-14T19:10:00+01:00").status_code == 201

    assert attendance_rows(show["id"]) == {
        "ada@example.com": ("attended", 2, datetime(2027, 3, 14, 18, 10, tzinfo=UTC))}
    stored = db.session.get(CustomerActivity, first.get_json()["id"])
    assert stored.occurred_at == datetime(2027, 3, 14, 18, 40, tzinfo=UTC)
    assert (stored.event_id, stored.event_name) == ("evt-100", "Nils Frahm live")


def test_a_ticket_scanned_again_counts_once_whatever_key_the_platform_sends(api):
    show = create_show(api)
    buy(api, "ada@example.com", "o-1")

    first = scan(api, "ada@example.com", ticket="T-1", idempotency_key="gate-scan-1")
    again = scan(api, "ada@example.com", ticket="T-1", at="2027-03-14T21:05:00+01:00",
                 idempotency_key="gate-scan-2")  # back in after a break
    retried = scan(api, "ada@example.com", ticket="T-1", idempotency_key="gate-scan-1")

    assert first.status_code == 201
    assert (again.status_code, again.get_json()["id"]) == (200, first.get_json()["id"])
    assert (retried.status_code, retried.get_json()["id"]) == (200, first.get_json()["id"])
    assert scans_stored() == 1
    assert attendance_rows(show["id"])["ada@example.com"][:2] == ("attended", 1)


def test_scans_without_a_ticket_code_honour_the_platforms_idempotency_key(api):
    show = create_show(api)
    buy(api, "ada@example.com", "o-1")

    assert scan(api, "ada@example.com", idempotency_key="k-1").status_code == 201
    assert scan(api, "ada@example.com", idempotency_key="k-1").status_code == 200
    assert scan(api, "ada@example.com", idempotency_key="k-2").status_code == 201

    assert attendance_rows(show["id"])["ada@example.com"][:2] == ("attended", 2)


def test_the_same_ticket_code_at_two_events_is_two_scans(api):
    first_night = create_show(api)
    second_night = create_show(api, external_id="evt-101", starts_at="2027-03-15T20:00:00+01:00",
                               doors_at="2027-03-15T19:00:00+01:00", ends_at="2027-03-15T22:30:00+01:00")
    assert scan(api, "ada@example.com", ticket="SEASON-9").status_code == 201
    assert scan(api, "ada@example.com", ticket="SEASON-9", event={"id": "evt-101"}).status_code == 201

    assert attendance_rows(first_night["id"])["ada@example.com"][0] == "attended"
    assert attendance_rows(second_night["id"])["ada@example.com"][0] == "attended"


def test_a_very_long_ticket_code_still_identifies_its_scan(api):
    create_show(api)
    code = "Q" * 200
    first = scan(api, "ada@example.com", ticket=code)
    assert first.status_code == 201
    assert scan(api, "ada@example.com", ticket=code).get_json()["id"] == first.get_json()["id"]
    assert scan(api, "ada@example.com", ticket="Q" * 199 + "R").status_code == 201


def test_a_scan_for_an_event_the_api_does_not_know_is_a_422_naming_properties_event(api, api_b):
    create_show(api_b)  # another organisation's event of that id is as unknown as a missing one
    for properties in [{"event": {"external_id": "evt-100"}}, {"event": {"id": "nope"}}, {"event": {}},
                       {"ticket": "T-1"}, {"event": "evt-100"}, {"event": {"external_id": ""}},
                       {"event": {"external_id": True}}]:
        response = api.post("/activities", json={"customer": {"email": "ada@example.com"},
                                                 "type": "ticket_scanned", "properties": properties})
        error = assert_error(response, 422, case=properties)
        assert error["details"][0]["field"].startswith("properties.event"), (properties, error)
    assert scans_stored() == 0
    assert db.session.scalar(select(func.count()).select_from(EventAttendance)) == 0


def test_bad_scan_properties_are_422_naming_the_field(api):
    create_show(api)
    for properties, field in [({"ticket": "x" * 201}, "properties.ticket"), ({"ticket": ""}, "properties.ticket"),
                              ({"ticket": 7}, "properties.ticket"), ({"gate": "g" * 201}, "properties.gate"),
                              ({"scanned_at": "2027-03-14T19:40:00"}, "properties.scanned_at"),
                              ({"scanned_at": "1066-10-14T09:00:00+00:00"}, "properties.scanned_at"),
                              ({"ticket": "a\x00b"}, "properties.ticket")]:
        response = api.post("/activities", json={"customer": {"email": "ada@example.com"}, "type": "ticket_scanned",
                                                 "properties": {"event": {"id": "evt-100"}, **properties}})
        assert_error(response, 422, field=field, case=properties)
    assert scans_stored() == 0


def test_scanned_at_is_the_scan_time_when_occurred_at_is_not_given(api):
    show = create_show(api)
    response = api.post("/activities", json={"customer": {"email": "ada@example.com"}, "type": "ticket_scanned",
                                             "properties": {"event": {"id": "evt-100"},
                                                            "scanned_at": "2027-03-14T19:20:00+01:00"}})
    assert response.status_code == 201
    assert response.get_json()["occurred_at"].startswith("2027-03-14T18:20:00")
    assert attendance_rows(show["id"])["ada@example.com"][2] == datetime(2027, 3, 14, 18, 20, tzinfo=UTC)


@HOSTILE
@given(field=st.sampled_from(["event", "ticket", "gate", "scanned_at"]),
       value=st.one_of(st.text(max_size=3).map(lambda t: t + "\x00"), st.text(min_size=201, max_size=400),
                       st.integers(min_value=2**31, max_value=2**70), st.floats(allow_nan=True),
                       st.just("9999-12-31T23:59:59+00:00"), st.just({"a": {"b": {"c": [1] * 50}}}),
                       st.just({"external_id": "x" * 201}), st.just({"id": 2**70}), st.none(), st.booleans(),
                       st.lists(st.integers(), min_size=1, max_size=3)))
def test_hostile_scan_properties_are_refused_naming_the_field(api, field, value):
    if db.session.scalar(select(func.count()).select_from(Event)) == 0:
        create_show(api)
    properties = {"event": {"external_id": "evt-100"}, field: value}
    response = api.post("/activities", data=json.dumps({"customer": {"email": "ada@example.com"},
                                                        "type": "ticket_scanned", "properties": properties},
                                                       allow_nan=True), content_type="application/json")
    if response.status_code in (200, 201):
        return  # a value the scan can hold (a gate name of NUL-free text) is fine
    assert response.status_code in (400, 422), response.get_data(as_text=True)[:300]
    if response.status_code == 422:
        error = assert_error(response, 422)
        assert error["details"][0]["field"].startswith(f"properties.{field}") or \
            error["details"][0]["field"] == "properties", error


def test_a_scan_moves_the_customer_into_segments_in_real_time(api):
    create_show(api)
    buy(api, "ada@example.com", "o-1")
    segment = api.post("/segments", json={"name": "Came to a show", "conditions": [
        {"type": "activity", "activity_type": "ticket_scanned", "operator": "at_least", "value": 1}]}).get_json()
    assert segment["member_count"] == 0

    scan(api, "ada@example.com", ticket="T-1")

    members = api.get(f"/segments/{segment['id']}/members").get_json()["data"]
    assert [m["email"] for m in members] == ["ada@example.com"]


def test_the_timeline_says_where_the_customer_scanned_in(api, tenant_a):
    from webapp.services import activity_text

    create_show(api)
    response = scan(api, "ada@example.com", ticket="T-1")
    activity = db.session.get(CustomerActivity, response.get_json()["id"])

    parts = activity_text.for_activities(tenant_a.id, [activity]).summary(activity)
    assert "".join(p.text for p in parts) == "Scanned in at gate B for Nils Frahm live"
