"""A purchase's event and line items: the event it names is linked (created when unknown,
its empty fields filled from the purchase), and each line item is stored as a row, with a
guest on a ticket becoming a customer only when the platform says they consented."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from sqlalchemy import bindparam, insert, select

from webapp.extensions import db
from webapp.infra.sql import insert_ignoring_duplicates
from webapp.infra.types import utcnow
from webapp.infra.validation import number_only
from webapp.models import CustomerActivity, Event, PurchaseItem
from webapp.services.consent import Evidence
from webapp.services.customers import find_customer, upsert_customer
from webapp.services.tenants import normalise_email

MAX_ITEMS = 500
GUEST_WORDING = "Guest on a ticket: agreed with the ticket buyer's organiser to receive its marketing email"

ShortText = Annotated[str, Field(max_length=100)]


class Attendee(BaseModel):
    """The person a ticket is for, when the buyer named them."""

    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, Field(max_length=320)] | None = None
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    # True only when the guest themself agreed to marketing email: then (and only then) a
    # guest unknown to the organisation becomes a subscribed customer, with the record.
    marketing_consent: bool = False
    consent_text: Annotated[str, Field(max_length=2000)] | None = None


class LineItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_type: Annotated[str, Field(min_length=1, max_length=100)]
    tier: ShortText | None = None
    section: ShortText | None = None
    seat: ShortText | None = None
    quantity: Annotated[int, Field(ge=1, le=10_000)] = 1
    # The price of one ticket; Numeric(14, 2).
    price: Annotated[Decimal, BeforeValidator(number_only)] | None = Field(default=None, ge=0, lt=10**12,
                                                                          decimal_places=2)
    attendee: Attendee | None = None


def _fill(event: Event, raw: dict[str, Any], starts_at: datetime | None) -> None:
    """What a purchase says of its event fills what the event does not know yet; the platform's
    events API is the authority on the rest."""
    if event.starts_at is None and starts_at is not None:
        event.starts_at = starts_at
    venue = raw.get("venue")
    if event.venue_name is None and isinstance(venue, str) and venue.strip():
        event.venue_name = venue.strip()[:300]
    for column, key in (("url", "url"), ("image_url", "image_url")):
        value = raw.get(key)
        if getattr(event, column) is None and isinstance(value, str) and value.startswith(("https://", "http://")):
            setattr(event, column, value[:2000])


# Built once, as the purchase's other statements (services/activities.py).
_EVENT_BY_PLATFORM_ID = select(Event).where(Event.tenant_id == bindparam("tenant_id"),
                                            Event.external_id == bindparam("external_id"))
_INSERT_ITEMS = insert(PurchaseItem.__table__)


def link_event(tenant_id: int, external_id: str, raw: dict[str, Any], starts_at: datetime | None) -> Event:
    """The tenant's event with this platform id, created from the purchase's description
    when unknown (concurrent purchases of a new event create it once)."""
    event = db.session.scalar(_EVENT_BY_PLATFORM_ID, {"tenant_id": tenant_id, "external_id": external_id})
    if event is None:
        now = utcnow()
        db.session.execute(insert_ignoring_duplicates(Event.__table__).values(
            tenant_id=tenant_id, external_id=external_id, name=_name(raw, external_id), status="on_sale", sequence=0,
            created_at=now, updated_at=now))
        event = db.session.scalar(select(Event).where(Event.tenant_id == tenant_id,
                                                      Event.external_id == external_id))
    _fill(event, raw, starts_at)
    return event


def link_events(tenant_id: int, mentions: list[tuple[str, dict[str, Any], datetime | None]]) -> dict[str, Event]:
    """link_event for every (platform id, description, start) a batch of purchases names, in
    their order: one SELECT of the events known, one INSERT of the others, one SELECT of
    those; each mention fills what its event does not know yet, as one purchase would."""
    if not mentions:
        return {}
    wanted = list(dict.fromkeys(external_id for external_id, _, _ in mentions))
    known = _events(tenant_id, wanted)
    missing = [external_id for external_id in wanted if external_id not in known]
    if missing:
        now = utcnow()
        first = {}
        for external_id, raw, _ in mentions:
            first.setdefault(external_id, raw)
        db.session.execute(insert_ignoring_duplicates(Event.__table__), [
            {"tenant_id": tenant_id, "external_id": external_id, "name": _name(first[external_id], external_id),
             "status": "on_sale", "sequence": 0, "created_at": now, "updated_at": now} for external_id in missing])
        known.update(_events(tenant_id, missing))
    for external_id, raw, starts_at in mentions:
        _fill(known[external_id], raw, starts_at)
    return known


def _events(tenant_id: int, external_ids: list[str]) -> dict[str, Event]:
    return {e.external_id: e for e in db.session.scalars(
        select(Event).where(Event.tenant_id == tenant_id, Event.external_id.in_(external_ids)))}


def _name(raw: dict[str, Any], external_id: str) -> str:
    name = raw.get("name") if isinstance(raw.get("name"), str) and raw["name"].strip() else external_id
    return name.strip()[:300]


def _guest(tenant_id: int, attendee: Attendee, activity: CustomerActivity) -> int | None:
    """The customer a ticket's guest is: someone the organisation knows by that address, or
    (only with their marketing consent) a new subscribed customer with the consent record."""
    if not attendee.email:
        return None
    email = normalise_email(attendee.email, "properties.items.attendee.email")
    known = find_customer(tenant_id, email=email)
    if known is not None:
        return known.id
    if not attendee.marketing_consent:
        return None
    evidence = Evidence("api", wording=attendee.consent_text or GUEST_WORDING,
                        context=f"guest ticket, order {activity.order_id}" if activity.order_id else "guest ticket")
    guest, _ = upsert_customer(tenant_id, {"email": email, "first_name": attendee.first_name,
                                           "last_name": attendee.last_name, "email_status": "subscribed"},
                               commit=False, evidence=evidence)
    return guest.id


def store_items(activity: CustomerActivity, event: Event | None, items: list[LineItem] | None,
                tickets: Any) -> set[int]:
    """The purchase's line items as rows, in one INSERT. A purchase naming an event without
    line items gets one line of its `tickets` count (one when it gave none), so what an
    event sold is one sum. Returns the guests (customers other than the buyer) the tickets
    name: they now hold tickets too."""
    return store_items_of([(activity, event, items, tickets)])


def store_items_of(purchases: list[tuple[CustomerActivity, Event | None, list[LineItem] | None, Any]]) -> set[int]:
    """store_items for many purchases (activity, event, items, tickets) in one INSERT."""
    rows = [row for purchase in purchases for row in _item_rows(*purchase)]
    if not rows:
        return set()
    # The table's INSERT, not the ORM's bulk insert: that one splits the rows by which columns
    # are None (a seated line and a standing one were two statements); this is one.
    db.session.execute(_INSERT_ITEMS, rows)
    return {row["attendee_customer_id"] for row in rows if row["attendee_customer_id"] != row["customer_id"]} - {None}


def _item_rows(activity: CustomerActivity, event: Event | None, items: list[LineItem] | None,
               tickets: Any) -> list[dict[str, Any]]:
    if not items:
        if event is None:
            return []
        quantity = len(tickets) if isinstance(tickets, list) else tickets if isinstance(tickets, int) else 1
        items = [LineItem(ticket_type="General", quantity=max(1, min(quantity, 10_000)))] if quantity else []
        if not items:
            return []
    rows = []
    for item in items:
        attendee = item.attendee or Attendee()
        rows.append({
            "tenant_id": activity.tenant_id, "activity_id": activity.id, "customer_id": activity.customer_id,
            "event_id": event.id if event is not None else None, "ticket_type": item.ticket_type,
            "tier": item.tier, "section": item.section, "seat": item.seat, "quantity": item.quantity,
            "price": item.price, "attendee_email": attendee.email, "attendee_first_name": attendee.first_name,
            "attendee_last_name": attendee.last_name,
            "attendee_customer_id": _guest(activity.tenant_id, attendee, activity) if item.attendee else None,
            "occurred_at": activity.occurred_at})
    return rows

