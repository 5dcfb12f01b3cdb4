"""event_reminder: every holder of every performance is reminded at the offset before it, on
the venue's clock (whole days keep the wall clock across a change of the clocks; hours are
real time), once per performance and moment, by a sweep on a frozen clock; late buyers catch
up at purchase (send_now) or never (skip); cancelled events and other tenants are left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.events.clock.clock_support import buy, customer, enrollments, event, workflow
from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.infra.types import utcnow
from webapp.models import Tenant
from webapp.services.events.catalogue import update_event
from webapp.services.events.reminders import parse_offset, reminder_time, send_due_reminders
from webapp.services.triggers import validate_trigger

TAG = [("add_tag", {"tag": "reminded"})]
# Keeps each enrollment open, as a reminder with a follow-up would.
OPEN = [("wait", {"days": 30}), ("add_tag", {"tag": "reminded"})]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def fires_exactly_at(fire_at: datetime, expected: int = 1) -> None:
    """Nothing a minute before; `expected` at the moment; nothing more when the sweep runs again."""
    assert send_due_reminders(now=fire_at - timedelta(minutes=1)) == 0
    assert send_due_reminders(now=fire_at) == expected
    assert send_due_reminders(now=fire_at + timedelta(minutes=1)) == 0


@pytest.mark.parametrize(("anchor", "offset", "zone", "expected"), [
    # Spring forward in London (01:00 UTC on 28 March 2027): the day before is GMT.
    (utc(2027, 3, 28, 19), "-24h", "Europe/London", utc(2027, 3, 27, 20)),
    (utc(2027, 3, 28, 19), "-1d", "Europe/London", utc(2027, 3, 27, 20)),
    # Fall back (01:00 UTC on 31 October 2027): the day before is BST.
    (utc(2027, 10, 31, 20), "-24h", "Europe/London", utc(2027, 10, 30, 19)),
    (utc(2027, 10, 31, 20), "-7d", "Europe/London", utc(2027, 10, 24, 19)),
    # Hours are real time across the change: 03:00 BST less two hours is 00:00 GMT.
    (utc(2027, 3, 28, 2), "-2h", "Europe/London", utc(2027, 3, 28, 0)),
    (utc(2027, 3, 28, 19), "-36h", "Europe/London", utc(2027, 3, 27, 7)),
    (utc(2027, 3, 28, 19), "-30m", "Europe/London", utc(2027, 3, 28, 18, 30)),
    (utc(2027, 3, 28, 19), "0h", "Europe/London", utc(2027, 3, 28, 19)),
    # 01:30 on the 28th does not exist in London: read with the offset before the change.
    (utc(2027, 3, 29, 0, 30), "-1d", "Europe/London", utc(2027, 3, 28, 1, 30)),
])
def test_reminder_time_keeps_the_venues_wall_clock_for_whole_days_and_real_time_for_hours(anchor, offset, zone,
                                                                                           expected):
    assert reminder_time(anchor, parse_offset(offset), zone) == expected


def test_a_24h_reminder_for_a_show_on_the_night_the_clocks_go_forward_comes_at_the_same_wall_time(tenant):
    ada, bob = customer(tenant, "ada@example.com"), customer(tenant, "bob@example.com")
    customer(tenant, "cy@example.com")  # holds nothing: never reminded
    event(tenant, "spring", "2027-03-28T20:00:00+01:00", timezone="Europe/London")  # 20:00 BST
    buy(tenant, ada, "spring", "o-1")
    buy(tenant, bob, "spring", "o-2")
    buy(tenant, ada, "spring", "o-3")  # two orders, one reminder
    flow = workflow(tenant, "event_reminder", {"offset": "-24h"}, TAG)

    fires_exactly_at(utc(2027, 3, 27, 20), 2)  # 20:00 GMT the day before: 23 real hours earlier
    rows = enrollments(flow)
    assert sorted(r.customer_id for r in rows) == [ada, bob]
    payload = rows[0].trigger_payload
    assert payload["event"]["name"] == "Show spring" and payload["event"]["timezone"] == "Europe/London"
    assert payload["reminder"] == {"offset": "-24h", "anchor": "starts_at", "at": "2027-03-27T20:00:00+00:00"}
    assert {r.dedupe_key for r in rows} == {f"reminder:{payload['event']['event_id']}:20270328T190000Z"}


def test_a_24h_reminder_for_a_show_on_the_night_the_clocks_go_back_comes_at_the_same_wall_time(tenant):
    ada = customer(tenant, "ada@example.com")
    event(tenant, "autumn", "2027-10-31T20:00:00+00:00", timezone="Europe/London")  # 20:00 GMT
    buy(tenant, ada, "autumn", "o-1")
    flow = workflow(tenant, "event_reminder", {"offset": "-24h"}, TAG)

    fires_exactly_at(utc(2027, 10, 30, 19))  # 20:00 BST the day before: 25 real hours earlier
    assert [r.customer_id for r in enrollments(flow)] == [ada]


def test_the_venues_zone_wins_over_the_organisations(tenant):
    db.session.get(Tenant, tenant).timezone = "Europe/Berlin"
    db.session.commit()
    ada = customer(tenant, "ada@example.com")
    # 20:00 EDT on 14 March 2027, the day New York springs forward (Berlin changes on the 28th).
    event(tenant, "nyc", "2027-03-14T20:00:00-04:00", timezone="America/New_York")
    buy(tenant, ada, "nyc", "o-1")
    flow = workflow(tenant, "event_reminder", {"offset": "-1d"}, TAG)

    fires_exactly_at(utc(2027, 3, 14, 1))  # 20:00 EST on the 13th
    assert len(enrollments(flow)) == 1


def test_a_2h_reminder_across_a_change_of_the_clocks_is_two_real_hours(tenant):
    ada = customer(tenant, "ada@example.com")
    event(tenant, "late", "2027-03-28T03:00:00+01:00", timezone="Europe/London")  # 02:00 UTC
    buy(tenant, ada, "late", "o-1")
    flow = workflow(tenant, "event_reminder", {"offset": "-2h"}, TAG)

    fires_exactly_at(utc(2027, 3, 28, 0))
    assert len(enrollments(flow)) == 1


def test_doors_are_an_anchor_too(tenant):
    ada = customer(tenant, "ada@example.com")
    event(tenant, "doors", "2027-06-01T20:00:00+01:00", doors_at="2027-06-01T18:30:00+01:00",
          timezone="Europe/London")
    buy(tenant, ada, "doors", "o-1")
    flow = workflow(tenant, "event_reminder", {"offset": "-30m", "anchor": "doors_at"}, TAG)

    fires_exactly_at(utc(2027, 6, 1, 17, 0))
    assert enrollments(flow)[0].trigger_payload["reminder"]["anchor"] == "doors_at"


def test_a_customer_holding_two_performances_gets_one_reminder_for_each(tenant):
    ada = customer(tenant, "ada@example.com")
    first = event(tenant, "matinee", "2027-05-01T14:00:00+01:00", timezone="Europe/London")
    second = event(tenant, "evening", "2027-05-01T20:00:00+01:00", timezone="Europe/London")
    buy(tenant, ada, "matinee", "o-1")
    buy(tenant, ada, "evening", "o-2")
    # "One at a time" and an open first run: the second performance still reminds.
    flow = workflow(tenant, "event_reminder", {"offset": "-24h"}, OPEN)

    assert send_due_reminders(now=utc(2027, 4, 30, 13)) == 1
    assert send_due_reminders(now=utc(2027, 4, 30, 19)) == 1
    assert send_due_reminders(now=utc(2027, 4, 30, 19, 5)) == 0
    rows = enrollments(flow)
    assert [r.trigger_payload["event"]["event_id"] for r in rows] == [first.id, second.id]
    assert all(r.status == "waiting" and r.customer_id == ada for r in rows)


def test_the_sweep_reminds_late_and_never_after_the_show_or_for_a_cancelled_one(tenant):
    ada = customer(tenant, "ada@example.com")
    event(tenant, "gig", "2027-05-01T20:00:00+01:00", timezone="Europe/London")
    event(tenant, "off", "2027-05-01T21:00:00+01:00", timezone="Europe/London", status="cancelled")
    buy(tenant, ada, "gig", "o-1")
    buy(tenant, ada, "off", "o-2")
    flow = workflow(tenant, "event_reminder", {"offset": "-2h"}, TAG)

    assert send_due_reminders(now=utc(2027, 5, 1, 19, 0)) == 0  # past the start: too late
    assert send_due_reminders(now=utc(2027, 5, 1, 18, 30)) == 1  # half an hour late: still ahead
    assert [r.trigger_payload["event"]["id"] for r in enrollments(flow)] == ["gig"]


def test_one_event_only_and_events_with_a_tag(tenant):
    ada = customer(tenant, "ada@example.com")
    jazz = event(tenant, "jazz", "2027-05-01T20:00:00+01:00", timezone="Europe/London", tags={"genre": "Jazz"})
    event(tenant, "rock", "2027-05-01T20:00:00+01:00", timezone="Europe/London", tags={"genre": "Rock"})
    buy(tenant, ada, "jazz", "o-1")
    buy(tenant, ada, "rock", "o-2")
    tagged = workflow(tenant, "event_reminder", {"offset": "-1d", "tag": "jazz"}, TAG)
    one = workflow(tenant, "event_reminder", {"offset": "-1d", "event_id": jazz.id}, TAG)
    every = workflow(tenant, "event_reminder", {"offset": "-1d"}, TAG)

    assert send_due_reminders(now=utc(2027, 4, 30, 19)) == 4
    assert [r.trigger_payload["event"]["id"] for r in enrollments(tagged)] == ["jazz"]
    assert [r.trigger_payload["event"]["id"] for r in enrollments(one)] == ["jazz"]
    assert sorted(r.trigger_payload["event"]["id"] for r in enrollments(every)) == ["jazz", "rock"]


def test_a_rescheduled_event_reminds_again_for_its_new_date_the_same_date_never_twice(tenant):
    ada = customer(tenant, "ada@example.com")
    gig = event(tenant, "gig", "2027-05-01T20:00:00+01:00", timezone="Europe/London")
    buy(tenant, ada, "gig", "o-1")
    flow = workflow(tenant, "event_reminder", {"offset": "-1d"}, TAG)
    assert send_due_reminders(now=utc(2027, 4, 30, 19)) == 1

    update_event(tenant, gig.id, {"starts_at": "2027-05-08T20:00:00+01:00"})
    assert send_due_reminders(now=utc(2027, 4, 30, 19, 1)) == 0
    fires_exactly_at(utc(2027, 5, 7, 19))
    update_event(tenant, gig.id, {"starts_at": "2027-05-08T20:00:00+01:00", "name": "Same date"})
    assert send_due_reminders(now=utc(2027, 5, 7, 19, 2)) == 0
    assert len(enrollments(flow)) == 2


def test_late_buyers_get_the_reminder_at_purchase_exactly_once_when_the_workflow_says_send_now(tenant):
    ada, bob = customer(tenant, "ada@example.com"), customer(tenant, "bob@example.com")
    # On the real clock: the show is in three hours, so its -24h reminder time has passed.
    starts = (utcnow() + timedelta(hours=3)).replace(microsecond=0)
    event(tenant, "soon", starts.isoformat(), timezone="Europe/London")
    send_now = workflow(tenant, "event_reminder", {"offset": "-24h"}, OPEN)
    skip = workflow(tenant, "event_reminder", {"offset": "-24h", "late_buyers": "skip"}, OPEN)
    not_yet = workflow(tenant, "event_reminder", {"offset": "-2h"}, OPEN)

    buy(tenant, ada, "soon", "o-1")
    buy(tenant, ada, "soon", "o-2")  # a second order: not a second reminder
    assert [r.customer_id for r in enrollments(send_now)] == [ada]
    assert enrollments(skip) == [] and enrollments(not_yet) == []

    # The sweep sends neither again nor to late buyers under skip; bob bought a week ago.
    buy(tenant, bob, "soon", "o-3", occurred_at=utcnow() - timedelta(days=7))
    assert send_due_reminders(now=utcnow()) == 0
    assert sorted(r.customer_id for r in enrollments(send_now)) == [ada, bob]
    assert [r.customer_id for r in enrollments(skip)] == [bob]  # his purchase came before the time
    assert len({r.dedupe_key for r in enrollments(send_now)}) == 1


def test_late_buyers_under_skip_are_not_swept_in_either(tenant):
    ada = customer(tenant, "ada@example.com")
    starts = (utcnow() + timedelta(hours=3)).replace(microsecond=0)
    event(tenant, "soon", starts.isoformat(), timezone="Europe/London")
    skip = workflow(tenant, "event_reminder", {"offset": "-24h", "late_buyers": "skip"}, TAG)
    buy(tenant, ada, "soon", "o-1")
    assert send_due_reminders(now=utcnow()) == 0
    assert enrollments(skip) == []


def test_another_tenants_events_and_workflows_are_untouched(tenant, tenant_b):
    ada = customer(tenant, "ada@example.com")
    bea = customer(tenant_b.id, "bea@example.com")
    event(tenant, "gig", "2027-05-01T20:00:00+01:00", timezone="Europe/London")
    event(tenant_b.id, "gig", "2027-05-01T20:00:00+01:00", timezone="Europe/London")  # the same platform id
    buy(tenant, ada, "gig", "o-1")
    buy(tenant_b.id, bea, "gig", "o-1")
    flow = workflow(tenant, "event_reminder", {"offset": "-1d"}, TAG)

    assert send_due_reminders(now=utc(2027, 4, 30, 19)) == 1
    assert [r.customer_id for r in enrollments(flow)] == [ada]
    with pytest.raises(ValidationFailed) as refused:
        workflow(tenant, "event_reminder", {"offset": "-1d", "event_id": event(tenant_b.id, "b-only",
                                                                               "2027-05-02T20:00:00Z").id}, TAG)
    assert refused.value.field == "trigger_config.event_id"


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=30), st.integers(), st.none(), st.booleans(),
                 st.integers(min_value=0, max_value=10**7).map(lambda n: f"-{n}h"),
                 st.sampled_from(["-90d", "-91d", "-2160h", "-2161h", "+2h", "2h", "-0h", "- 2h", "-2H", "-2\x00h"])))
def test_any_offset_is_stored_normalised_within_90_days_or_refused_naming_the_field(app, raw):
    try:
        stored = validate_trigger("event_reminder", {"offset": raw})
    except ValidationFailed as exc:
        assert exc.field == "trigger_config.offset"
        return
    offset = parse_offset(stored["offset"])
    assert str(offset) == stored["offset"] and offset.delta <= timedelta(days=90)


def test_late_buyers_in_a_batch_get_the_reminder_once_as_one_at_a_time(tenant):
    """The batch endpoint's set-based path gives late buyers what record_activity does: the
    send_now reminder once per buyer however many orders, none under skip."""
    from webapp.services.ingest import ingest_activities

    ada, bob = customer(tenant, "ada@example.com"), customer(tenant, "bob@example.com")
    starts = (utcnow() + timedelta(hours=3)).replace(microsecond=0)
    event(tenant, "soon", starts.isoformat(), timezone="Europe/London")
    send_now = workflow(tenant, "event_reminder", {"offset": "-24h"}, OPEN)
    skip = workflow(tenant, "event_reminder", {"offset": "-24h", "late_buyers": "skip"}, OPEN)

    results = ingest_activities(tenant, [
        {"customer_id": who, "type": "purchase", "properties": {"order_total": 40, "order_id": order,
                                                                "event": {"id": "soon"}}}
        for who, order in ((ada, "o-1"), (bob, "o-2"), (ada, "o-3"))])

    assert [r["status"] for r in results] == [201, 201, 201]
    assert sorted(r.customer_id for r in enrollments(send_now)) == [ada, bob]
    assert enrollments(skip) == []
