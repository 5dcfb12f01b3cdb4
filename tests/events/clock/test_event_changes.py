"""event_changed: a reschedule, a move or a cancellation reaches the event's holders only,
with old and new values, once per change (the calendar SEQUENCE); waits timed from the
event's start re-time themselves; a cancelled event's reminders exit with the reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.events.clock.clock_support import buy, customer, enrollments, event, trace, workflow
from webapp.extensions import db
from webapp.models import CustomerActivity
from webapp.services.customers import get_customer
from webapp.services.events.catalogue import update_event, upsert_event
from webapp.services.events.reminders import send_due_reminders
from webapp.services.workflows.engine import run_due

TAG = [("add_tag", {"tag": "told"})]
REMIND = [("add_tag", {"tag": "reminded"})]
OPEN = [("wait", {"days": 30}), *REMIND]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_rescheduling_twice_tells_holders_twice_and_their_waits_follow_the_new_date(tenant):
    ada, bob = customer(tenant, "ada@example.com"), customer(tenant, "bob@example.com")
    customer(tenant, "cy@example.com")  # no ticket: told nothing
    gig = event(tenant, "gig", "2027-05-01T20:00:00+01:00", timezone="Europe/London")
    eve = workflow(tenant, "purchase", {}, [("wait_until", {"before_event_hours": 24}), ("add_tag", {"tag": "eve"})])
    buy(tenant, ada, "gig", "o-1", event={"id": "gig", "starts_at": "2027-05-01T20:00:00+01:00"})
    buy(tenant, bob, "gig", "o-2", event={"id": "gig", "starts_at": "2027-05-01T20:00:00+01:00"})
    told = workflow(tenant, "event_changed", {}, TAG)
    only_moves = workflow(tenant, "event_changed", {"changes": ["moved"]}, TAG)
    assert {e.next_run_at for e in enrollments(eve)} == {utc(2027, 4, 30, 19)}

    first = update_event(tenant, gig.id, {"starts_at": "2027-05-08T20:00:00+01:00"})
    second = update_event(tenant, gig.id, {"starts_at": "2027-05-15T19:30:00+01:00"})
    retried = update_event(tenant, gig.id, {"starts_at": "2027-05-15T19:30:00+01:00"})

    assert (first.event.sequence, second.event.sequence) == (2, 2) and retried.changes == {}
    rows = enrollments(told)
    assert sorted((r.customer_id, r.dedupe_key) for r in rows) == sorted(
        (who, f"changed:{gig.id}:{n}") for who in (ada, bob) for n in (1, 2))
    latest = [r.trigger_payload for r in rows if r.dedupe_key.endswith(":2")][0]
    assert latest["change"] == "rescheduled"
    assert latest["changes"]["starts_at"] == {"old": "2027-05-08T19:00:00+00:00", "new": "2027-05-15T18:30:00+00:00"}
    assert latest["event"]["when"] == "Sat 15 May 2027, 19:30 (BST)"
    assert enrollments(only_moves) == []

    waiting = enrollments(eve)
    assert {e.next_run_at for e in waiting} == {utc(2027, 5, 14, 18, 30)}
    assert {trace(e.id)[-1][2] for e in waiting} == {
        "waiting until 2027-05-14T18:30:00+00:00 (the event was rescheduled)"}
    # The old date passes quietly; the wait ends a day before the new one, by the new start.
    run_due(now=utc(2027, 4, 30, 19))
    assert all(e.status == "waiting" for e in enrollments(eve))
    run_due(now=utc(2027, 5, 14, 18, 30))
    assert [e.status for e in enrollments(eve)] == ["completed", "completed"]
    db.session.expire_all()
    assert sorted(get_customer(tenant, ada).tags) == ["eve", "told"]


def test_a_move_and_other_changes_say_what_they_are(tenant):
    ada = customer(tenant, "ada@example.com")
    gig = event(tenant, "gig", "2027-05-01T20:00:00+01:00", venue={"name": "Old Hall", "city": "Leeds"})
    buy(tenant, ada, "gig", "o-1")
    moves = workflow(tenant, "event_changed", {"changes": "moved"}, TAG)
    anything = workflow(tenant, "event_changed", {"event_id": gig.id}, TAG)

    upsert_event(tenant, {"external_id": "gig", "venue": {"name": "New Hall", "city": "Leeds"}})
    upsert_event(tenant, {"external_id": "gig", "doors_at": "2027-05-01T19:00:00+01:00"})
    upsert_event(tenant, {"external_id": "gig", "name": "A new name", "capacity": 10})  # not news: nothing

    [moved] = enrollments(moves)
    assert moved.trigger_payload["change"] == "moved"
    assert moved.trigger_payload["changes"] == {"venue_name": {"old": "Old Hall", "new": "New Hall"}}
    assert [r.trigger_payload["change"] for r in enrollments(anything)] == ["moved", "changed"]


def test_cancelling_stops_its_reminders_and_tells_holders_of_that_event_only(tenant, tenant_b):
    ada, bob = customer(tenant, "ada@example.com"), customer(tenant, "bob@example.com")
    bea = customer(tenant_b.id, "bea@example.com")
    gig = event(tenant, "gig", "2027-05-01T20:00:00+01:00", timezone="Europe/London")
    event(tenant, "other", "2027-05-01T20:00:00+01:00", timezone="Europe/London")
    event(tenant_b.id, "gig", "2027-05-01T20:00:00+01:00", timezone="Europe/London")
    buy(tenant, ada, "gig", "o-1")
    buy(tenant, bob, "other", "o-2")
    buy(tenant_b.id, bea, "gig", "o-1")
    week = workflow(tenant, "event_reminder", {"offset": "-7d"}, OPEN)  # reminded, then waiting
    day = workflow(tenant, "event_reminder", {"offset": "-1d"}, REMIND)  # not yet
    due_now = workflow(tenant, "event_reminder", {"offset": "-6d"}, REMIND)  # due, not run yet
    theirs = workflow(tenant_b.id, "event_reminder", {"offset": "-7d"}, OPEN)
    told = workflow(tenant, "event_changed", {"changes": ["cancelled"]}, TAG)
    assert send_due_reminders(now=utc(2027, 4, 24, 19)) == 3  # a week before: ada, bob and bea
    assert send_due_reminders(now=utc(2027, 4, 25, 19)) == 2  # six days before: ada and bob

    cancelled_at = datetime.now(UTC)
    update_event(tenant, gig.id, {"status": "cancelled"})

    [ada_week, bob_week] = enrollments(week)
    assert (ada_week.status, ada_week.exit_reason) == ("exited", "the event was cancelled")
    assert trace(ada_week.id) == [("wait", "exited", "the event was cancelled")]
    assert bob_week.status == "waiting"  # another performance
    [ada_due, bob_due] = enrollments(due_now)
    assert ada_due.status == "exited" and trace(ada_due.id) == [("add_tag", "exited", "the event was cancelled")]
    assert bob_due.status == "active"
    assert [e.status for e in enrollments(theirs)] == ["waiting"]  # another organisation's
    exits = db.session.scalars(select(CustomerActivity).where(CustomerActivity.type == "workflow_exited")).all()
    assert sorted(a.properties["enrollment_id"] for a in exits) == sorted([ada_week.id, ada_due.id])
    assert all(a.occurred_at >= cancelled_at - timedelta(seconds=1) for a in exits)
    [notice] = enrollments(told)
    assert (notice.customer_id, notice.trigger_payload["change"]) == (ada, "cancelled")

    assert send_due_reminders(now=utc(2027, 4, 30, 19)) == 1  # bob's "other" only
    assert [e.trigger_payload["event"]["id"] for e in enrollments(day)] == ["other"]
    run_due(now=utc(2027, 4, 30, 19))
    db.session.expire_all()
    assert get_customer(tenant, ada).tags == ["told"]  # of the cancellation; never reminded
    assert get_customer(tenant, bob).tags == ["reminded"]


def test_a_sell_out_or_the_end_of_the_evening_is_not_news_but_un_cancelling_is(tenant):
    ada = customer(tenant, "ada@example.com")
    gig = event(tenant, "gig", "2027-05-01T20:00:00+01:00")
    buy(tenant, ada, "gig", "o-1")
    told = workflow(tenant, "event_changed", {}, TAG)

    for status in ("sold_out", "on_sale", "ended"):
        update_event(tenant, gig.id, {"status": status})
    assert enrollments(told) == []
    update_event(tenant, gig.id, {"status": "cancelled"})
    update_event(tenant, gig.id, {"status": "on_sale"})
    assert [r.trigger_payload["change"] for r in enrollments(told)] == ["cancelled", "changed"]
