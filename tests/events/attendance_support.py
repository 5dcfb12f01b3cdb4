"""What the attendance tests share: a show, buying and scanning through the API, and the
attendance rows as plain tuples."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Customer, EventAttendance

SHOW = {"external_id": "evt-100", "name": "Nils Frahm live", "starts_at": "2027-03-14T20:00:00+01:00",
        "doors_at": "2027-03-14T19:00:00+01:00", "ends_at": "2027-03-14T22:30:00+01:00",
        "venue": {"name": "Philharmonie", "city": "Berlin"}, "timezone": "Europe/Berlin"}
# The show's end in UTC, and the moment its attendance is due (2 hours' grace for late scans).
END = datetime(2027, 3, 14, 21, 30, tzinfo=UTC)
DUE = datetime(2027, 3, 14, 23, 30, tzinfo=UTC)


def create_show(api, **fields) -> dict:
    response = api.post("/events", json={**SHOW, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def buy(api, email: str, order_id: str, event: str = "evt-100", **properties) -> dict:
    response = api.post("/activities", json={"customer": {"email": email}, "type": "purchase", "properties": {
        "order_total": 40, "order_id": order_id, "event": {"id": event}, **properties}})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def scan(api, email: str, *, ticket: str | None = None, event: dict | None = None,
         at: str = "2027-03-14T19:40:00+01:00", **body):
    properties = {"event": event or {"external_id": "evt-100"}, "gate": "B"}
    if ticket is not None:
        properties["ticket"] = ticket
    return api.post("/activities", json={"customer": {"email": email}, "type": "ticket_scanned",
                                         "properties": properties, "occurred_at": at, **body})


def attendance_rows(event_id: int) -> dict[str, tuple]:
    """{customer email: (status, scans, first_scanned_at)} of the event's attendance rows."""
    db.session.expire_all()
    return {email: (status, scans, first) for email, status, scans, first in db.session.execute(
        select(Customer.email, EventAttendance.status, EventAttendance.scans, EventAttendance.first_scanned_at)
        .join(Customer, Customer.id == EventAttendance.customer_id).where(EventAttendance.event_id == event_id))}
