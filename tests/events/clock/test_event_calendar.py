"""Calendar files: an event as RFC 5545 (.ics) parsed back with icalendar (the venue's TZID
and its VTIMEZONE, a UID stable per performance, SEQUENCE bumped by each change, cancelled
said so), the public "Add to calendar" link (signed: tampered or foreign tokens are a 404),
and a reminder email that arrives at a real SMTP server with the file attached."""

from __future__ import annotations

from datetime import UTC, datetime

import icalendar
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer

from tests.events.clock.clock_support import buy, customer, event, workflow
from webapp.services.events.calendar import calendar_url, event_calendar
from webapp.services.events.catalogue import update_event
from webapp.services.events.reminders import send_due_reminders
from webapp.services.workflows.engine import run_due

SHOW = {"timezone": "Europe/London", "ends_at": "2027-03-28T22:30:00+01:00",
        "venue": {"name": "Brudenell Social Club", "city": "Leeds"}, "url": "https://tickets.example.com/spring"}


def parsed(ics: bytes) -> tuple[icalendar.Calendar, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(ics)
    [entry] = calendar.walk("VEVENT")
    return calendar, entry


def test_an_events_calendar_file_carries_the_venues_zone_a_stable_uid_and_its_sequence(tenant):
    show = event(tenant, "spring", "2027-03-28T20:00:00+01:00", name="Spring, at last; live", **SHOW)

    calendar, entry = parsed(event_calendar(show))
    assert calendar["METHOD"] == "PUBLISH" and calendar["VERSION"] == "2.0"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/London"]
    assert entry["DTSTART"].params["TZID"] == "Europe/London"
    assert entry.decoded("DTSTART") == datetime(2027, 3, 28, 19, 0, tzinfo=UTC)
    assert entry.decoded("DTSTART").strftime("%H:%M %Z") == "20:00 BST"
    assert entry.decoded("DTEND") == datetime(2027, 3, 28, 21, 30, tzinfo=UTC)
    assert str(entry["SUMMARY"]) == "Spring, at last; live"
    assert str(entry["LOCATION"]) == "Brudenell Social Club, Leeds"
    assert str(entry["URL"]) == "https://tickets.example.com/spring"
    assert (entry["SEQUENCE"], str(entry["STATUS"])) == (0, "CONFIRMED")
    uid = str(entry["UID"])
    assert uid == f"event-{show.id}@crm.test"

    update_event(tenant, show.id, {"starts_at": "2027-04-04T20:00:00+01:00"})
    _, moved = parsed(event_calendar(show))
    assert (str(moved["UID"]), moved["SEQUENCE"]) == (uid, 1)
    assert moved.decoded("DTSTART") == datetime(2027, 4, 4, 19, 0, tzinfo=UTC)
    assert moved.decoded("DTEND") == datetime(2027, 4, 4, 21, 30, tzinfo=UTC)  # the evening keeps its shape

    update_event(tenant, show.id, {"status": "cancelled"})
    _, cancelled = parsed(event_calendar(show))
    assert (str(cancelled["UID"]), cancelled["SEQUENCE"], str(cancelled["STATUS"])) == (uid, 2, "CANCELLED")


def test_an_event_without_a_date_has_no_calendar_file(tenant):
    undated = event(tenant, "tba", "2027-01-01T00:00:00Z")
    undated.starts_at = None
    assert event_calendar(undated) is None


def test_the_add_to_calendar_link_serves_the_file_and_only_for_links_we_signed(tenant, tenant_b, client, app):
    ours = event(tenant, "spring", "2027-03-28T20:00:00+01:00", **SHOW)
    theirs = event(tenant_b.id, "secret", "2027-05-01T20:00:00+01:00", name="Their private show")
    url = calendar_url(ours)
    assert url.startswith("http://crm.test/c/") and url.endswith(".ics")

    response = client.get(url.removeprefix("http://crm.test"))
    assert response.status_code == 200
    assert response.mimetype == "text/calendar" and "method=PUBLISH" in response.headers["Content-Type"]
    assert response.headers["Content-Disposition"] == 'attachment; filename="event.ics"'
    _, entry = parsed(response.data)
    assert str(entry["UID"]) == f"event-{ours.id}@crm.test"

    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    _, signature = token.split(".")
    forged_payload = URLSafeSerializer("x").dump_payload(theirs.id).decode()
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), f"{forged_payload}.{signature}",
                URLSafeSerializer("wrong-secret", salt="event-calendar").dumps(theirs.id),
                URLSafeSerializer(app.config["SECRET_KEY"], salt="another-purpose").dumps(theirs.id),
                "nothing"):
        assert client.get(f"/c/{bad}.ics").status_code == 404, bad
    assert b"Their private show" not in client.get(f"/c/{forged_payload}.{signature}.ics").data


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.text(min_size=1, max_size=300).filter(lambda t: "/" not in t and "?" not in t and "#" not in t))
def test_any_token_is_a_404_or_a_400_never_a_500(client, token):
    assert client.get(f"/c/{token}.ics").status_code in (400, 404)


def test_a_reminder_arrives_with_the_calendar_attached_and_an_add_to_calendar_link(tenant, inbox, client):
    ada = customer(tenant, "ada@example.com")
    show = event(tenant, "spring", "2027-03-28T20:00:00+01:00", name="Spring Show", **SHOW)
    buy(tenant, ada, "spring", "o-1")
    workflow(tenant, "event_reminder", {"offset": "-24h"}, [("send_email", {
        "subject": "Tomorrow: {{ trigger.event.name }}", "attach_calendar": True,
        "content": '<p>{{ trigger.event.when }}</p><a href="{{ trigger.event.calendar_url }}">Add to calendar</a>'})])
    update_event(tenant, show.id, {"doors_at": "2027-03-28T19:00:00+01:00"})  # a change: SEQUENCE 1

    assert send_due_reminders(now=datetime(2027, 3, 27, 20, tzinfo=UTC)) == 1
    run_due(now=datetime(2027, 3, 27, 20, tzinfo=UTC))

    [message] = inbox.messages()
    assert message["Subject"] == "Tomorrow: Spring Show" and message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    assert attachment.get_content_type() == "text/calendar" and attachment.get_param("method") == "PUBLISH"
    assert attachment.get_filename() == "event.ics"
    _, entry = parsed(attachment.get_payload(decode=True))
    assert (str(entry["UID"]), entry["SEQUENCE"]) == (f"event-{show.id}@crm.test", 1)
    assert entry["DTSTART"].params["TZID"] == "Europe/London"
    text = alternative.get_body(preferencelist=("plain",)).get_content()
    assert "Sun 28 Mar 2027, 20:00 (BST)" in text
    link = next(word for word in text.split() if "/c/" in word).strip("()<>[]")
    assert client.get(link.removeprefix("http://crm.test")).status_code == 200


def test_without_the_option_the_email_has_no_attachment(tenant, inbox):
    ada = customer(tenant, "ada@example.com")
    event(tenant, "spring", "2027-03-28T20:00:00+01:00", **SHOW)
    buy(tenant, ada, "spring", "o-1")
    workflow(tenant, "event_reminder", {"offset": "-24h"}, [("send_email", {
        "subject": "Tomorrow", "content": "<p>See you</p>"})])
    send_due_reminders(now=datetime(2027, 3, 27, 20, tzinfo=UTC))
    run_due(now=datetime(2027, 3, 27, 20, tzinfo=UTC))
    [message] = inbox.messages()
    assert message.get_content_type() == "multipart/alternative"
