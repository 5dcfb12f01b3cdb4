"""An event as an RFC 5545 calendar file (.ics), and the public link that serves it.

Built with `icalendar` (a maintained RFC 5545 library): the file carries the venue's zone
as TZID with its VTIMEZONE, a UID stable per performance and the event's SEQUENCE, so a
calendar that imported it once updates the same entry when a changed copy arrives.
METHOD:PUBLISH: we publish what a performance is; REQUEST would make it an invitation that
expects an ORGANIZER and replies, which a ticket holder's calendar has no one to send to.

The "Add to calendar" link is /c/<token>.ics with an itsdangerous token signed by the app's
SECRET_KEY naming the event: unguessable, no tenant in it, and always today's version.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from webapp.extensions import db
from webapp.infra.types import MAX_ID
from webapp.models import Event, Tenant
from webapp.services.events.catalogue import event_zone
from webapp.services.events.payloads import payload_event

__all__ = ["CONTENT_TYPE", "FILENAME", "calendar_url", "event_calendar", "event_for_token", "payload_event"]

CONTENT_TYPE = "text/calendar; method=PUBLISH"
FILENAME = "event.ics"
_SALT = "event-calendar"


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def calendar_token(event: Event) -> str:
    return _signer().dumps(event.id)


def calendar_url(event: Event) -> str:
    """The public address of the event's .ics ({{ trigger.event.calendar_url }})."""
    return f"{current_app.config['BASE_URL']}/c/{calendar_token(event)}.ics"


def event_for_token(token: str) -> Event | None:
    """The event a calendar token names, or None for a token we did not sign."""
    try:
        event_id = _signer().loads(token)
    except BadSignature:
        return None
    if isinstance(event_id, bool) or not isinstance(event_id, int) or not 0 < event_id <= MAX_ID:
        return None
    return db.session.get(Event, event_id)


def _host() -> str:
    return urlsplit(current_app.config["BASE_URL"]).hostname or "localhost"


def event_calendar(event: Event, tenant: Tenant | None = None) -> bytes | None:
    """The event as a VCALENDAR with one VEVENT, or None while it has no start time."""
    if event.starts_at is None:
        return None
    tenant = tenant or db.session.get(Tenant, event.tenant_id)
    zone = ZoneInfo(event_zone(event, tenant))
    calendar = icalendar.Calendar()
    calendar.add("prodid", f"-//{tenant.name if tenant else 'Events'}//Ticketing CRM//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    entry = icalendar.Event()
    entry.add("uid", f"event-{event.id}@{_host()}")
    entry.add("sequence", event.sequence or 0)
    entry.add("dtstamp", (event.updated_at or event.created_at or datetime.now(UTC)).astimezone(UTC))
    entry.add("dtstart", event.starts_at.astimezone(zone))
    if event.ends_at is not None:
        entry.add("dtend", event.ends_at.astimezone(zone))
    entry.add("summary", event.name)
    location = ", ".join(part for part in (event.venue_name, event.venue_city) if part)
    if location:
        entry.add("location", location)
    if event.doors_at is not None:
        entry.add("description", f"Doors open {event.doors_at.astimezone(zone):%H:%M}.")
    if event.url:
        entry.add("url", event.url)
    entry.add("status", "CANCELLED" if event.status == "cancelled" else "CONFIRMED")
    calendar.add_component(entry)
    # Only the rules around the event's year: a VTIMEZONE of every year since 1970 is kilobytes.
    year = event.starts_at.astimezone(zone).year
    calendar.add_missing_timezones(first_date=date(year - 1, 1, 1), last_date=date(year + 2, 1, 1))
    return calendar.to_ical()
