"""Waitlists: customers queue for an event's tickets; when tickets come back, the next in
line get an offer (a single-use link that expires), fired as the `waitlist_offer` trigger so
the organisation's workflow emails it; offers that run out pass to the next person.

Everything that moves an event's queue (joining aside) first takes the event's row lock
(`lock_event`): two inventory reports, the sweep on two workers, or a fan leaving while the
sweep runs see the queue one after the other, so no ticket is offered twice.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from flask import current_app
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import aliased

from webapp.extensions import db
from webapp.infra.errors import Conflict, NotFound, ValidationFailed
from webapp.infra.pagination import Page, decode_cursor, encode_cursor
from webapp.infra.sql import insert_ignoring_duplicates
from webapp.infra.types import MAX_ID, utcnow
from webapp.infra.validation import validate
from webapp.models import WAITLIST_STATUSES, Customer, Event, EventWaitlist, WaitlistEntry
from webapp.services.activity_log import log_activity
from webapp.services.enrollment import active_workflows, process_trigger
from webapp.services.events.catalogue import event_payload, event_zone, get_event
from webapp.services.tenants import hash_token

DEFAULT_OFFER_MINUTES = 60
MAX_QUANTITY = 10
# Events whose expired offers one sweep passes on (the next run takes the rest).
SWEEP_EVENTS = 200
# Joining is refused for these: nothing will come back on sale.
CLOSED_STATUSES = ("cancelled", "ended")
OFFER_QUERY_PARAMETER = "waitlist_offer"


class WaitlistSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    # How long an offer holds its tickets: a day at most (tickets held longer miss the sale).
    offer_minutes: Annotated[int, Field(ge=5, le=1440)]


def lock_event(tenant_id: int, event_id: int) -> Event:
    """The tenant's event, its row locked for the rest of the transaction (404 across
    tenants). A write is what locks on both backends: PostgreSQL's row lock, SQLite's write
    lock (a SELECT ... FOR UPDATE is no lock there); what is read after it is current."""
    get_event(tenant_id, event_id)
    locked = db.session.execute(update(Event).where(Event.id == event_id, Event.tenant_id == tenant_id)
                                .values(sequence=Event.sequence).execution_options(synchronize_session=False))
    if locked.rowcount != 1:
        raise NotFound("event not found")
    return db.session.get(Event, event_id, populate_existing=True)


def waitlist_of(event: Event) -> EventWaitlist:
    """The event's waitlist settings, made with a fresh public token the first time."""
    found = db.session.get(EventWaitlist, event.id)
    if found is None:
        db.session.execute(insert_ignoring_duplicates(EventWaitlist.__table__).values(
            event_id=event.id, tenant_id=event.tenant_id, public_token=secrets.token_urlsafe(24),
            offer_minutes=DEFAULT_OFFER_MINUTES, created_at=utcnow()))
        found = db.session.get(EventWaitlist, event.id)
    return found


def find_waitlist(event: Event) -> EventWaitlist | None:
    """The event's waitlist settings when it has any (reading never makes one)."""
    return db.session.get(EventWaitlist, event.id)


def waitlist_by_token(public_token: str) -> tuple[EventWaitlist, Event] | None:
    if not public_token or len(public_token) > 64:
        return None
    found = db.session.execute(select(EventWaitlist, Event).join(Event, Event.id == EventWaitlist.event_id)
                               .where(EventWaitlist.public_token == public_token)).first()
    return (found[0], found[1]) if found else None


def log_joined(customer: Customer, event: Event, quantity: int, source: str) -> None:
    """The customer's timeline says they joined the event's waitlist (the API and the page)."""
    log_activity(customer, "waitlist_joined", {"event": {"id": event.external_id, "name": event.name},
                                               "event_id": event.id, "tickets": quantity, "source": source})


def join_url(waitlist: EventWaitlist) -> str:
    return f"{current_app.config['BASE_URL']}/w/{waitlist.public_token}"


def offer_url(token: str) -> str:
    return f"{current_app.config['BASE_URL']}/w/offer/{token}"


def update_settings(tenant_id: int, event_id: int, data: dict[str, Any]) -> EventWaitlist:
    """Change an event's waitlist settings (offer_minutes); offers already made keep theirs."""
    body = validate(WaitlistSettings, data)
    waitlist = waitlist_of(get_event(tenant_id, event_id))
    waitlist.offer_minutes = body.offer_minutes
    db.session.commit()
    return waitlist


def joining_closed(event: Event, now: datetime) -> str | None:
    """Why nobody may join the event's waitlist now, in words for people; None: open."""
    if event.status in CLOSED_STATUSES:
        return f"This event is {event.status}: its waitlist is closed."
    if event.starts_at is not None and event.starts_at <= now:
        return "This event has started: its waitlist is closed."
    return None


def join(tenant_id: int, event: Event, customer_id: int, *, quantity: int = 1, source: str = "api",
         now: datetime | None = None) -> tuple[WaitlistEntry, bool]:
    """Put the customer at the end of the event's queue (the caller commits): (entry, created).
    Someone already waiting or holding an offer keeps their place and gets their entry back."""
    now = now or utcnow()
    closed = joining_closed(event, now)
    if closed:
        raise Conflict(closed)
    created = db.session.execute(insert_ignoring_duplicates(WaitlistEntry.__table__).values(
        tenant_id=tenant_id, event_id=event.id, customer_id=customer_id, status="waiting", quantity=quantity,
        source=source, joined_at=now)).rowcount == 1
    entry = db.session.scalar(select(WaitlistEntry).where(
        WaitlistEntry.event_id == event.id, WaitlistEntry.customer_id == customer_id,
        WaitlistEntry.status.in_(("waiting", "offered"))).execution_options(populate_existing=True))
    return entry, created


def get_entry(tenant_id: int, event: Event, entry_id: int) -> WaitlistEntry:
    entry = db.session.get(WaitlistEntry, entry_id) if 0 < entry_id <= MAX_ID else None
    if entry is None or entry.tenant_id != tenant_id or entry.event_id != event.id:
        raise NotFound("waitlist entry not found")
    return entry


def positions(event_id: int, entry_ids: list[int]) -> dict[int, int]:
    """{entry id: place in the queue (1 = next)} of those still waiting, in one query."""
    if not entry_ids:
        return {}
    ahead = aliased(WaitlistEntry)
    rows = db.session.execute(
        select(WaitlistEntry.id, func.count(ahead.id))
        .join(ahead, and_(ahead.event_id == WaitlistEntry.event_id, ahead.status == "waiting",
                          ahead.id <= WaitlistEntry.id))
        .where(WaitlistEntry.event_id == event_id, WaitlistEntry.id.in_(entry_ids),
               WaitlistEntry.status == "waiting")
        .group_by(WaitlistEntry.id))
    return {entry_id: int(place) for entry_id, place in rows}


def list_entries(tenant_id: int, event: Event, *, status: str | None = None, limit: int = 50,
                 cursor: str | None = None) -> Page:
    """The event's waitlist in queue order (first joined first), keyset-paginated."""
    stmt = select(WaitlistEntry).where(WaitlistEntry.tenant_id == tenant_id, WaitlistEntry.event_id == event.id)
    if status:
        stmt = stmt.where(WaitlistEntry.status == status)
    after = decode_cursor(cursor, 1)
    if after is not None:
        if isinstance(after[0], bool) or not isinstance(after[0], int) or not 0 < after[0] <= MAX_ID:
            raise ValidationFailed("cursor", "is not a cursor returned by this list")
        stmt = stmt.where(WaitlistEntry.id > after[0])
    rows = list(db.session.scalars(stmt.order_by(WaitlistEntry.id).limit(limit + 1)))
    return Page(rows[:limit], encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None)


def waitlist_summary(tenant_id: int, event_ids: list[int]) -> dict[int, dict[str, int]]:
    """{event id: {status: count}} (every status present, zero when none) for the events
    named, in one grouped query; `offer_workflows` says how many active workflows would email
    an offer (0: offers are made and recorded, but nobody is told)."""
    found: dict[int, dict[str, int]] = {event_id: dict.fromkeys(WAITLIST_STATUSES, 0) for event_id in event_ids}
    if event_ids:
        for event_id, status, count in db.session.execute(
                select(WaitlistEntry.event_id, WaitlistEntry.status, func.count())
                .where(WaitlistEntry.tenant_id == tenant_id, WaitlistEntry.event_id.in_(event_ids))
                .group_by(WaitlistEntry.event_id, WaitlistEntry.status)):
            found[event_id][status] = int(count)
        workflows = active_workflows(tenant_id, "waitlist_offer")
        for event_id, counts in found.items():
            counts["offer_workflows"] = sum(1 for w in workflows if w.config.get("event_id") in (None, event_id))
    return found


# --- offers ----------------------------------------------------------------------------------

def _wall_clock(moment: datetime, zone: ZoneInfo) -> str:
    # As event_payload writes `when`: the venue's clock, with its zone's abbreviation.
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M} ({local.tzname()})"


def _outstanding(event_id: int, now: datetime) -> int:
    return int(db.session.scalar(select(func.coalesce(func.sum(WaitlistEntry.offered_quantity), 0)).where(
        WaitlistEntry.event_id == event_id, WaitlistEntry.status == "offered",
        WaitlistEntry.offer_expires_at > now)) or 0)


def make_offers(tenant_id: int, event: Event, tickets: int, now: datetime) -> list[int]:
    """Offer `tickets` (no more than are available and not already offered) to the next in
    line, in order; someone wanting more than is left is offered what is left. Each offer
    fires `waitlist_offer` for its customer. The event must be locked (lock_event); the
    caller commits. Returns the entries offered. Offers are made and recorded even when no
    workflow sends them: the platform reads them from the API."""
    budget = min(tickets, (event.available or 0) - _outstanding(event.id, now))
    if budget <= 0:
        return []
    waitlist = waitlist_of(event)
    expires = now + timedelta(minutes=waitlist.offer_minutes)
    zone = ZoneInfo(event_zone(event))
    payload_event = event_payload(event)
    # Each entry takes at least one ticket: `budget` entries at most.
    entries = list(db.session.scalars(select(WaitlistEntry).where(
        WaitlistEntry.event_id == event.id, WaitlistEntry.status == "waiting")
        .order_by(WaitlistEntry.id).limit(budget)))
    offered: list[int] = []
    for entry in entries:
        if budget <= 0:
            break
        quantity = min(entry.quantity, budget)
        token = secrets.token_urlsafe(24)
        claimed = db.session.execute(update(WaitlistEntry).where(
            WaitlistEntry.id == entry.id, WaitlistEntry.status == "waiting").values(
            status="offered", offered_quantity=quantity, offer_token_hash=hash_token(token), offered_at=now,
            offer_expires_at=expires).execution_options(synchronize_session=False)).rowcount
        if claimed != 1:
            continue
        budget -= quantity
        offered.append(entry.id)
        # One offer, one customer, one payload (its own link): bounded by the tickets that
        # came back, not by the tenant's customers.
        process_trigger(tenant_id, "waitlist_offer", entry.customer_id, {
            "event": payload_event, "offer_url": offer_url(token), "expires_at": expires.isoformat(),
            "expires_when": _wall_clock(expires, zone), "quantity": quantity, "waitlist_entry_id": entry.id,
        }, now=now)
    return offered


def leave(tenant_id: int, event_id: int, entry_id: int, *, now: datetime | None = None) -> WaitlistEntry:
    """Take the entry off the waitlist (a held offer passes to the next in line); leaving
    again, or after a claim or an expiry, changes nothing. Commits."""
    now = now or utcnow()
    event = lock_event(tenant_id, event_id)
    entry = get_entry(tenant_id, event, entry_id)
    db.session.refresh(entry)
    if entry.status in ("waiting", "offered"):
        held = entry.offered_quantity if entry.status == "offered" and entry.offer_expires_at > now else 0
        entry.status, entry.ended_at = "left", now
        db.session.flush()
        if held:
            make_offers(tenant_id, event, held, now)
    db.session.commit()
    return entry


def _events_with_expired_offers(now: datetime) -> list[tuple[int, int]]:
    return [tuple(r) for r in db.session.execute(
        select(WaitlistEntry.tenant_id, WaitlistEntry.event_id).where(
            WaitlistEntry.status == "offered", WaitlistEntry.offer_expires_at <= now)
        .group_by(WaitlistEntry.tenant_id, WaitlistEntry.event_id).limit(SWEEP_EVENTS))]


def expire_offers(*, now: datetime | None = None) -> int:
    """Periodic: offers past their time expire (one UPDATE per event) and their tickets pass
    to the next in line. Under the event's lock, so two workers expire and pass on once.
    Cheap when there is nothing to do (an indexed probe). Returns the offers expired."""
    now = now or utcnow()
    expired = 0
    for tenant_id, event_id in _events_with_expired_offers(now):
        event = lock_event(tenant_id, event_id)
        due = (WaitlistEntry.event_id == event_id, WaitlistEntry.status == "offered",
               WaitlistEntry.offer_expires_at <= now)
        count, tickets = db.session.execute(select(func.count(), func.coalesce(func.sum(
            WaitlistEntry.offered_quantity), 0)).where(*due)).one()
        db.session.execute(update(WaitlistEntry).where(*due).values(status="expired", ended_at=now)
                           .execution_options(synchronize_session=False))
        if tickets:
            make_offers(tenant_id, event, int(tickets), now)
        db.session.commit()
        expired += int(count)
    return expired


# --- the offer link ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Offer:
    """What an offer link finds: `state` open | claimed | expired | left | invalid."""

    state: str
    entry: WaitlistEntry | None = None
    event: Event | None = None

    @property
    def expires_when(self) -> str | None:
        if self.entry is None or self.event is None or self.entry.offer_expires_at is None:
            return None
        return _wall_clock(self.entry.offer_expires_at, ZoneInfo(event_zone(self.event)))


def _state(entry: WaitlistEntry, now: datetime) -> str:
    if entry.status == "offered":
        return "open" if entry.offer_expires_at > now else "expired"
    return entry.status if entry.status in ("claimed", "expired", "left") else "invalid"


def find_offer(token: str, *, now: datetime | None = None) -> Offer:
    if not token or len(token) > 100:
        return Offer("invalid")
    entry = db.session.scalar(select(WaitlistEntry).where(WaitlistEntry.offer_token_hash == hash_token(token)))
    if entry is None:
        return Offer("invalid")
    return Offer(_state(entry, now or utcnow()), entry, db.session.get(Event, entry.event_id))


def claim_offer(token: str, *, now: datetime | None = None) -> Offer:
    """Use the offer link: state "done" when this call claimed it, else why not (find_offer's
    state). Single use: a conditional UPDATE claims it, so two clicks at once claim once."""
    now = now or utcnow()
    offer = find_offer(token, now=now)
    if offer.state != "open":
        return offer
    claimed = db.session.execute(update(WaitlistEntry).where(
        WaitlistEntry.id == offer.entry.id, WaitlistEntry.status == "offered", WaitlistEntry.offer_expires_at > now)
        .values(status="claimed", claimed_at=now).execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if claimed != 1:
        return find_offer(token, now=now)
    db.session.refresh(offer.entry)
    return Offer("done", offer.entry, offer.event)


def platform_url(event: Event, token: str) -> str | None:
    """Where a claimed offer goes: the event's page on the platform, with the offer's token
    as a query parameter so the platform can honour it (None: the event has no page)."""
    if not event.url:
        return None
    parts = urlsplit(event.url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), (OFFER_QUERY_PARAMETER, token)]
    return urlunsplit(parts._replace(query=urlencode(query)))
