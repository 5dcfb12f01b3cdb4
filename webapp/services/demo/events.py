"""The demo's events as rows: the season's performances with their venue, its timezone, doors,
end, status, link and tags, written before the customers (purchases, line items and attendance
name them), and their inventory once the tickets are sold.

The details come from the event's id (a Random seeded with it), not from the seeder's `rng`:
the customers a seed makes stay the same whatever is said of the events."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from webapp.infra.sql import insert_ignoring_duplicates
from webapp.models import Event, EventTag, PurchaseItem
from webapp.services.demo.catalogue import Event as DemoEvent

EVENT_URL = "https://tickets.demo-venues.example.com/events/"
# How long a show lasts, by genre.
DURATION = {"concert": timedelta(hours=3), "comedy": timedelta(hours=2), "theatre": timedelta(hours=2, minutes=45),
            "festival": timedelta(hours=10), "sport": timedelta(hours=2)}
# Seats a venue holds when nothing is sold yet (a tiny demo): the venue's size.
VENUE_CAPACITY = {"Riverside Arena": 12000, "The Foundry": 2600, "Victoria Playhouse": 900, "Harbour Hall": 2000,
                  "Kingsway Stadium": 30000, "Meadowbank Park": 25000, "The Laughing Cellar": 300,
                  "Liberty Theatre": 1100, "Paradiso Noord": 1500}
# Titles of a series share their first words.
SERIES = (("Meadowbank Festival", "Meadowbank Festival"), ("Kingsway Lions vs", "Kingsway Lions home games"),
          ("Comedy at the Hall", "Comedy at the Hall"), ("Late Night Laughs", "Comedy at the Cellar"),
          ("The Improv Hour", "Comedy at the Cellar"))
SOLD_OUT_WITHIN = 60 * 86400
SEASON_SERIES = {"theatre": "Playhouse season", "concert": "Live at the venues"}


def _series(event: DemoEvent) -> str:
    for prefix, series in SERIES:
        if event.name.startswith(prefix):
            return series
    return SEASON_SERIES.get(event.genre, f"{event.genre.capitalize()} season")


def _artist(event: DemoEvent) -> str | None:
    """The act of a concert or a comedy night: the title before its colon."""
    if event.genre not in ("concert", "comedy") or "Showcase" in event.name:
        return None
    return event.name.split(":")[0].replace(" Live", "").replace(" Unplugged", "").strip()


def statuses(events: Sequence[DemoEvent], now: int) -> dict[str, str]:
    """{event id: status}: past events ended; of the upcoming ones the most popular is sold
    out, one is cancelled and one rescheduled, the rest on sale."""
    found = {e.id: "ended" if e.starts_at + DURATION[e.genre].total_seconds() < now else "on_sale" for e in events}
    upcoming = sorted((e for e in events if e.starts_at >= now), key=lambda e: (-e.popularity, e.starts_at))
    # Sold out: the most popular show of the next two months (tickets for later ones have
    # hardly gone on sale).
    soon = [e for e in upcoming if e.starts_at <= now + SOLD_OUT_WITHIN]
    if soon:
        found[soon[0].id] = "sold_out"
    quiet = [e for e in upcoming if e.popularity <= 3 and found[e.id] == "on_sale"]
    if quiet:
        found[quiet[-1].id] = "cancelled"
    if len(quiet) > 1:
        found[quiet[0].id] = "rescheduled"
    return found


def _moment(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def event_rows(tenant_id: int, events: Sequence[DemoEvent], now: int) -> list[dict]:
    """One `events` row per demo event."""
    status = statuses(events, now)
    stamp = _moment(now)
    rows = []
    for event in events:
        details = random.Random(event.id)
        starts = _moment(event.starts_at)
        rows.append({
            "tenant_id": tenant_id, "external_id": event.id, "name": event.name, "starts_at": starts,
            "doors_at": starts - timedelta(minutes=details.choice((30, 45, 60))),
            "ends_at": starts + DURATION[event.genre], "venue_name": event.venue.name,
            "venue_city": event.venue.city, "timezone": event.venue.timezone, "status": status[event.id],
            "url": EVENT_URL + event.id, "image_url": None,
            # A rescheduled show has told its holders once.
            "sequence": 1 if status[event.id] == "rescheduled" else 0,
            "settled_at": starts + DURATION[event.genre] if status[event.id] == "ended" else None,
            "capacity": VENUE_CAPACITY.get(event.venue.name), "available": VENUE_CAPACITY.get(event.venue.name),
            "created_at": stamp, "updated_at": stamp})
    return rows


def tag_rows(tenant_id: int, events: Sequence[DemoEvent], ids: dict[str, int]) -> list[dict]:
    rows = []
    for event in events:
        tags = [("genre", event.genre.capitalize()), ("series", _series(event))]
        if artist := _artist(event):
            tags.append(("artist", artist))
        rows += [{"event_id": ids[event.id], "kind": kind, "value": value, "tenant_id": tenant_id}
                 for kind, value in tags]
    return rows


def load_events(session: Session, tenant_id: int, events: Sequence[DemoEvent], now: int) -> list[int]:
    """Write the season's events and their tags (those the tenant has already are kept);
    returns their database ids, in the order of `events`."""
    session.execute(insert_ignoring_duplicates(Event.__table__), event_rows(tenant_id, events, now))
    ids = dict(session.execute(select(Event.external_id, Event.id).where(
        Event.tenant_id == tenant_id, Event.external_id.in_([e.id for e in events]))).all())
    session.execute(insert_ignoring_duplicates(EventTag.__table__), tag_rows(tenant_id, events, ids))
    return [ids[e.id] for e in events]


def _capacity(sold: int, share: float) -> int:
    """A round capacity of which `sold` is about `share`."""
    step = 50 if sold >= 500 else 10
    return max(sold, step * math.ceil(sold / share / step))


def set_inventory(session: Session, tenant_id: int, events: Sequence[DemoEvent], ids: Sequence[int],
                  now: int) -> None:
    """Capacity and availability that agree with the tickets sold: the sold-out show has none
    left, two popular upcoming ones are nearly gone, past shows sold most of the house, the
    rest are selling. One grouped query and one batched UPDATE."""
    sold = dict(session.execute(select(PurchaseItem.event_id, func.sum(PurchaseItem.quantity))
                                .where(PurchaseItem.tenant_id == tenant_id, PurchaseItem.event_id.in_(ids))
                                .group_by(PurchaseItem.event_id)).all())
    status = statuses(events, now)
    nearly = [e.id for e, event_id in sorted(
        ((e, i) for e, i in zip(events, ids, strict=True) if status[e.id] == "on_sale" and e.starts_at >= now
         and sold.get(i)), key=lambda pair: (-pair[0].popularity, pair[0].starts_at))[:2]]
    updates = []
    for event, event_id in zip(events, ids, strict=True):
        tickets = int(sold.get(event_id) or 0)
        if not tickets:
            continue
        details = random.Random(f"{event.id}-inventory")
        if status[event.id] == "sold_out":
            capacity = tickets
        elif event.id in nearly:
            # Rounded down: rounding up could leave just over 5% of the house (4 of 78).
            capacity = tickets + max(1, math.floor(tickets * details.uniform(0.02, 0.05)))
        elif event.starts_at < now:
            capacity = _capacity(tickets, details.uniform(0.72, 0.97))
        else:
            capacity = _capacity(tickets, details.uniform(0.3, 0.75))
        updates.append({"key": event_id, "capacity": capacity, "available": capacity - tickets})
    if updates:
        table = Event.__table__
        session.execute(update(table).where(table.c.id == bindparam("key"))
                        .values(capacity=bindparam("capacity"), available=bindparam("available")), updates)

