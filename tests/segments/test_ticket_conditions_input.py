"""What the ticket and attendance conditions accept and how they read: hostile values are
refused naming the key (the API answers 422 with that field), the lines people read name
events by name, and the OpenAPI document shows the shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp.infra.errors import ValidationFailed
from webapp.segments.definition import parse_definition
from webapp.segments.describe import describe_condition
from webapp.services import segments
from webapp.services.events.catalogue import upsert_event

TYPES = ("ticket", "upcoming_event", "days_until_next_event", "attendance", "attendance_rate", "attended_events")
VALID = {
    "ticket": {"type": "ticket"},
    "upcoming_event": {"type": "upcoming_event"},
    "days_until_next_event": {"type": "days_until_next_event", "operator": "<=", "value": 7},
    "attendance": {"type": "attendance"},
    "attendance_rate": {"type": "attendance_rate", "operator": ">=", "value": 50},
    "attended_events": {"type": "attended_events", "value": 2},
}


def refused(item: dict) -> str:
    with pytest.raises(ValidationFailed) as caught:
        parse_definition([item])
    return caught.value.field


@pytest.mark.parametrize(("item", "field"), [
    ({"type": "ticket", "tier": ""}, "conditions[0].tier"),
    ({"type": "ticket", "tier": "x" * 101}, "conditions[0].tier"),
    ({"type": "ticket", "section": 5}, "conditions[0].section"),
    ({"type": "ticket", "quantity_at_least": 0}, "conditions[0].quantity_at_least"),
    ({"type": "ticket", "quantity_at_least": 2.5}, "conditions[0].quantity_at_least"),
    ({"type": "ticket", "quantity_at_least": 2**31}, "conditions[0].quantity_at_least"),
    ({"type": "ticket", "price_at_least": -1}, "conditions[0].price_at_least"),
    ({"type": "ticket", "price_at_least": 10**12}, "conditions[0].price_at_least"),
    ({"type": "ticket", "price_at_least": "50"}, "conditions[0].price_at_least"),
    ({"type": "ticket", "event": "12"}, "conditions[0].event"),
    ({"type": "ticket", "event": 2**31}, "conditions[0].event"),
    ({"type": "ticket", "event": True}, "conditions[0].event"),
    ({"type": "ticket", "event_tag": "jazz"}, "conditions[0].event_tag"),
    ({"type": "ticket", "event_tag": {"kind": "mood", "value": "x"}}, "conditions[0].event_tag.kind"),
    ({"type": "ticket", "event_tag": {"kind": "genre", "value": " "}}, "conditions[0].event_tag.value"),
    ({"type": "ticket", "event_tag": {"kind": "genre"}}, "conditions[0].event_tag.value"),
    ({"type": "ticket", "venue": "v" * 301}, "conditions[0].venue"),
    ({"type": "ticket", "from": "2026-02-30"}, "conditions[0].from"),
    ({"type": "ticket", "from": "2026-06-01", "to": "2026-05-01"}, "conditions[0].to"),
    ({"type": "ticket", "to": "9999-12-31"}, "conditions[0].to"),
    ({"type": "ticket", "operator": "sold"}, "conditions[0].operator"),
    ({"type": "ticket", "seat": "A1"}, "conditions[0].seat"),
    ({"type": "upcoming_event", "event": 3}, "conditions[0].event"),
    ({"type": "days_until_next_event", "operator": "<="}, "conditions[0].value"),
    ({"type": "days_until_next_event", "operator": "<", "value": -1}, "conditions[0].value"),
    ({"type": "days_until_next_event", "operator": "=", "value": 36501}, "conditions[0].value"),
    ({"type": "days_until_next_event", "operator": "between", "value": [7, 1]}, "conditions[0].value"),
    ({"type": "days_until_next_event", "operator": "between", "value": [1, "7"]}, "conditions[0].value[1]"),
    ({"type": "days_until_next_event", "value": 3}, "conditions[0].operator"),
    ({"type": "attendance", "operator": "late"}, "conditions[0].operator"),
    ({"type": "attendance", "event_tag": {"kind": "genre", "value": "x"}}, "conditions[0].event_tag"),
    ({"type": "attendance_rate", "operator": ">=", "value": 101}, "conditions[0].value"),
    ({"type": "attendance_rate", "operator": ">=", "value": 50.5}, "conditions[0].value"),
    ({"type": "attendance_rate", "operator": ">=", "value": 50, "within_last_months": 0},
     "conditions[0].within_last_months"),
    ({"type": "attended_events", "value": -1}, "conditions[0].value"),
    ({"type": "attended_events", "within_last_months": 1201}, "conditions[0].within_last_months"),
    ({"type": "attended_events", "event": 4}, "conditions[0].event"),
])
def test_a_bad_setting_is_refused_naming_it(item, field):
    assert refused(item) == field


hostile = st.one_of(
    st.text(min_size=301, max_size=400), st.just("jazz\x00night"), st.just(""), st.just("   "),
    st.integers(min_value=2**31), st.integers(max_value=-1), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                         max_size=2),
    st.just("0000-01-01"), st.just("2026-13-01"), st.just("2026-06-01T25:00:00+00:00"))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ctype=st.sampled_from(TYPES), data=st.data())
def test_hostile_values_are_refused_naming_their_key_or_read_safely(ctype, data):
    from webapp.segments.conditions import CONDITION_TYPES

    keys = ["value", *CONDITION_TYPES[ctype].settings]
    key = data.draw(st.sampled_from(keys))
    value = data.draw(hostile)
    item = {**VALID[ctype], key: value}
    try:
        parse_definition([item])
    except ValidationFailed as error:
        assert error.field.startswith("conditions[0]")
        assert error.field == "conditions[0]" or error.field.split(".", 1)[1].split("[")[0].split(".")[0] in (
            key, "value", "operator")


# --- the lines people read ------------------------------------------------------------------

@pytest.mark.parametrize(("item", "line"), [
    ({"type": "ticket"}, "Bought tickets"),
    ({"type": "ticket", "operator": "not_bought", "ticket_type": "VIP", "tier": "Gold", "section": "Balcony",
      "quantity_at_least": 4, "price_at_least": 50, "event": 3, "event_name": "Late Jazz", "from": "2026-01-01",
      "to": "2026-03-31"},
     "Did not buy tickets of type “VIP” (tier “Gold”, section “Balcony”, at least 4 in one order, at least 50 "
     "each) for “Late Jazz” from 2026-01-01 until 2026-03-31"),
    ({"type": "ticket", "event_tag": {"kind": "artist", "value": "Nina Simone"}, "venue": "Vanguard"},
     "Bought tickets for events with artist “Nina Simone” at “Vanguard”"),
    ({"type": "upcoming_event", "event_tag": {"kind": "genre", "value": "jazz"}},
     "Holds a ticket for an upcoming event with genre “jazz”"),
    ({"type": "upcoming_event", "operator": "holds_not", "venue": "Blue Note"},
     "Holds no ticket for an upcoming event at “Blue Note”"),
    ({"type": "days_until_next_event", "operator": "<=", "value": 7}, "Next event in at most 7 days"),
    ({"type": "days_until_next_event", "operator": "=", "value": 1}, "Next event in exactly 1 day"),
    ({"type": "days_until_next_event", "operator": "between", "value": [1, 7]}, "Next event in 1 to 7 days"),
    ({"type": "attendance", "event": 3, "event_name": "Late Jazz"}, "Attended “Late Jazz”"),
    ({"type": "attendance", "operator": "no_show", "from": "2026-01-01"},
     "Did not show up for an event starting from 2026-01-01"),
    ({"type": "attendance_rate", "operator": ">=", "value": 80}, "Attendance rate at least 80%"),
    ({"type": "attendance_rate", "operator": "<", "value": 50, "within_last_months": 6},
     "Attendance rate less than 50% (events in the last 6 months)"),
    ({"type": "attended_events", "value": 3, "event_tag": {"kind": "series", "value": "Late"}},
     "Attended at least 3 events with series “Late” in the last 12 months"),
    ({"type": "attended_events", "operator": "exactly", "value": 1, "within_last_months": 1},
     "Attended exactly 1 event in the last month"),
])
def test_each_condition_reads_as_one_plain_line(item, line):
    assert describe_condition(item) == line


def test_the_describer_names_the_event_as_it_is_called_today():
    item = {"type": "attendance", "event": 3, "event_name": "Old name"}
    assert describe_condition(item, event_names={3: "New name"}) == "Attended “New name”"


def test_the_segment_page_names_events_not_ids(client, auth, tenant_a):
    show = upsert_event(tenant_a.id, {"external_id": "e1", "name": "Late Jazz <b>",
                                      "starts_at": "2026-09-01T20:00:00+00:00"}).event
    segment = segments.create_segment(tenant_a.id, "Jazz goers", [{"type": "ticket", "event": show.id}])
    auth.login(tenant_a.owner_email)
    page = client.get(f"/segments/{segment.id}").get_data(as_text=True)
    assert "Bought tickets for “Late Jazz &lt;b&gt;”" in page
    assert f"#{show.id}" not in page


# --- the API ----------------------------------------------------------------------------------

def test_the_api_takes_a_ticket_segment_and_refuses_a_bad_one_naming_the_field(api):
    show = api.post("/events", json={"external_id": "e1", "name": "Gala",
                                     "starts_at": datetime(2099, 1, 1, tzinfo=UTC).isoformat()}).get_json()
    api.post("/activities", json={"customer": {"email": "ann@x.com"}, "type": "purchase", "properties": {
        "order_total": 100, "order_id": "o1", "event": {"id": "e1"},
        "items": [{"ticket_type": "Seated", "tier": "VIP", "quantity": 4, "price": 25}]}})
    created = api.post("/segments", json={"name": "VIP groups", "conditions": [
        {"type": "ticket", "tier": "vip", "quantity_at_least": 4, "event": show["id"]},
        {"type": "days_until_next_event", "operator": ">", "value": 30}]})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["member_count"] == 1 and created.get_json()["time_relative"] is True

    bad = api.post("/segments", json={"name": "Bad", "conditions": [
        {"type": "ticket", "event_tag": {"kind": "mood", "value": "happy"}}]})
    assert bad.status_code == 422
    assert bad.get_json()["error"]["details"][0]["field"] == "conditions[0].event_tag.kind"


def test_the_openapi_document_shows_the_ticket_condition_shapes(api):
    document = api.get("/openapi.json").get_json()
    text = str(document)
    for name in TYPES:
        assert f'"type": "{name}"' in text


def test_the_builder_offers_the_events_by_name_on_the_venues_clock_and_suggests_ticket_words(
        client, auth, tenant_a, tenant_b):
    from webapp.services.activities import record_activity

    upsert_event(tenant_a.id, {"external_id": "past", "name": "Old Show", "starts_at": "2020-01-01T20:00:00+00:00"})
    upsert_event(tenant_a.id, {"external_id": "next", "name": "Late Jazz", "timezone": "America/New_York",
                               "starts_at": "2099-07-04T01:30:00+00:00", "venue": {"name": "Vanguard"},
                               "tags": {"genre": "Bebop"}})
    upsert_event(tenant_b.id, {"external_id": "theirs", "name": "Their Show", "venue": {"name": "Their Hall"}})
    record_activity(tenant_a.id, "purchase", customer={"email": "ann@x.com"}, properties={
        "order_total": 10, "order_id": "o1", "event": {"id": "next"},
        "items": [{"ticket_type": "Seated", "tier": "Front row", "section": "Balcony"}]})
    auth.login(tenant_a.owner_email)
    page = client.get("/segments/new").get_data(as_text=True)
    # Upcoming first; 01:30 UTC on 4 July is 21:30 on the 3rd in New York (the menu is JSON).
    label = json.dumps("Late Jazz · Fri 3 Jul 2099, 21:30 · Vanguard")
    # (The past show's menu label; the purchase condition's suggestions list it by name too.)
    assert page.index(label) < page.index(json.dumps("Old Show ·")[:-1])
    for word in ("Seated", "Front row", "Balcony", "Bebop", "Vanguard"):
        assert f'<option value="{word}">' in page
    assert "Their Show" not in page and "Their Hall" not in page
