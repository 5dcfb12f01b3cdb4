"""Demo rows as plain tuples, generated in chunks from one seeded random.Random.

This is the hot loop of `seed_demo` (about ten activities per customer, millions of
customers), so it trades a little elegance for speed: JSON fragments are serialised
once per event, timestamps are epoch seconds until formatted, and the aggregates of
each customer are summed while its purchases are made, so they match by construction.
"""

from __future__ import annotations

import json
import random
import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate

from webapp.services.demo.catalogue import (
    BOOKING_FEE,
    CITIES,
    CITY_TIMEZONE,
    CURRENCY,
    EMAIL_DOMAINS,
    EMAIL_STATUS_WEIGHTS,
    FIRST_NAMES,
    GATES,
    GENRE_WEIGHTS,
    GENRES,
    LAST_NAMES,
    PAGE_SOURCES,
    PRICES,
    SIGNUP_SOURCES,
    Event,
)

DAY = 86400
# Tickets go on sale this long before the show.
SALE_WINDOW = 120 * DAY
# Customers signed up over the same 18 months the events cover.
HISTORY = 548 * DAY
EVENT_URL = "https://tickets.demo-venues.example.com/events/"
# The share of orders for a past show whose holder came through the gate.
SCANNED = 0.88

CUSTOMER_COLUMNS = ("id", "tenant_id", "email", "first_name", "last_name", "external_id", "timezone",
                    "attributes", "email_status", "total_spent", "orders_count", "last_order_at",
                    "created_at", "updated_at")
TAG_COLUMNS = ("customer_id", "tag", "tenant_id")
ACTIVITY_COLUMNS = ("tenant_id", "customer_id", "type", "properties", "occurred_at", "created_at",
                    "order_id", "amount", "event_id", "event_name")
# Purchases carry ids reserved ahead of the insert: their line items name them.
PURCHASE_COLUMNS = ("id", *ACTIVITY_COLUMNS)
# activity_id is first: in a chunk it is the purchase's index in Chunk.purchases.
ITEM_COLUMNS = ("activity_id", "tenant_id", "customer_id", "event_id", "ticket_type", "tier", "section", "seat",
                "quantity", "price", "occurred_at")
ATTENDANCE_COLUMNS = ("event_id", "customer_id", "tenant_id", "status", "scans", "first_scanned_at",
                      "event_starts_at")
# Tickets bought this long before the show are early-bird tickets.
EARLY_BIRD = 30 * DAY
# A concession ticket in a group order costs this much less.
CONCESSION_OFF = 5.0
# (cheaper ticket type, dearer ticket type) by genre, and those with numbered seats.
TICKET_TYPES = {"concert": ("Standing", "Seated"), "comedy": ("Unreserved", "Unreserved"),
                "theatre": ("Circle", "Stalls"), "festival": ("General admission", "VIP"),
                "sport": ("Terrace", "Grandstand")}
SEATED = frozenset({"Seated", "Circle", "Stalls", "Grandstand"})


@dataclass
class Chunk:
    customers: list[tuple] = field(default_factory=list)
    tags: list[tuple] = field(default_factory=list)
    # Every activity but purchases (PURCHASE_COLUMNS without the id: it is given at insert).
    activities: list[tuple] = field(default_factory=list)
    purchases: list[tuple] = field(default_factory=list)
    items: list[tuple] = field(default_factory=list)
    attendance: list[tuple] = field(default_factory=list)


def _seat_range(row: str, first: int, quantity: int) -> str:
    return f"{row}{first}" if quantity == 1 else f"{row}{first}-{row}{first + quantity - 1}"


def _weighted(pairs: Sequence[tuple[str, int]]) -> tuple[list[str], list[int]]:
    """Values and cumulative weights, for rng.choices(values, cum_weights=...)."""
    return [value for value, _ in pairs], list(accumulate(weight for _, weight in pairs))


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


class DemoRows:
    """Makes customers with their tags and activities, a chunk of customer ids at a time.

    `stamp` formats epoch seconds the way the target database stores timestamps; the
    same string is used for every column, so SQL comparisons (MAX(occurred_at) against
    last_order_at) hold on SQLite, where timestamps are text.
    """

    def __init__(self, rng: random.Random, events: list[Event], *, tenant_id: int, now: int,
                 stamp: Callable[[int], str], event_ids: Sequence[int] | None = None) -> None:
        self.rng = rng
        self.events = events
        # The events' database ids (line items and attendance name them), in `events` order.
        self.event_ids = list(event_ids) if event_ids is not None else list(range(1, len(events) + 1))
        self.tenant_id = tenant_id
        self.now = now
        self.stamp = stamp
        # Popular events appear several times in the pools, so a uniform pick favours them.
        self.pool = sorted((i for i, e in enumerate(events) for _ in range(e.popularity)),
                           key=lambda i: events[i].starts_at)
        self.pool_starts = [events[i].starts_at for i in self.pool]
        self.genre_pool = {g: [i for i in self.pool if events[i].genre == g] for g in GENRES}
        self.genre_starts = {g: [events[i].starts_at for i in pool] for g, pool in self.genre_pool.items()}
        self.page_view_json = {
            (i, source): json.dumps({"url": EVENT_URL + e.id, "event_id": e.id, "source": source})
            for i, e in enumerate(events) for source in PAGE_SOURCES
        }
        self.cities = _weighted(CITIES)
        self.genres = _weighted(list(GENRE_WEIGHTS.items()))
        self.statuses = _weighted(EMAIL_STATUS_WEIGHTS)
        self.sources = _weighted(SIGNUP_SOURCES)
        self.first_names = [(n, _slug(n)) for n in FIRST_NAMES]
        self.last_names = [(n, _slug(n)) for n in LAST_NAMES]
        self.attributes_json: dict[tuple[str, str], str] = {}
        self.signup_json = {s: json.dumps({"source": s}) for s in self.sources[0]}

    def purchases_wanted(self) -> int:
        """Skewed like real ticket buyers: a quarter never buy, most buy once, a few a lot."""
        u = self.rng.random()
        if u < 0.24:
            return 0
        if u < 0.60:
            return 1
        if u < 0.76:
            return 2
        if u < 0.85:
            return 3
        if u < 0.91:
            return 4
        return min(5 + int(self.rng.paretovariate(1.3) * 2) - 2, 150)

    def chunk(self, customer_ids: Sequence[int]) -> Chunk:
        out = Chunk()
        for customer_id in customer_ids:
            self._customer(customer_id, out)
        return out

    def _customer(self, cid: int, out: Chunk) -> None:
        tenant_id, stamp = self.tenant_id, self.stamp
        first, last, city, genre, status, source, signup, email = self._person(cid)
        signup_at = stamp(signup)
        out.activities.append((tenant_id, cid, "signup", self.signup_json[source], signup_at, signup_at,
                               None, None, None, None))
        wanted, total, last_order, sport_orders, earliest_lead = self._purchases(cid, signup, genre, out)
        self._browsing(cid, signup, out.activities)
        self._tags(cid, status, wanted, total, sport_orders, earliest_lead, out.tags)

        attributes = self.attributes_json.get((city, genre))
        if attributes is None:
            attributes = json.dumps({"city": city, "favourite_genre": genre})
            self.attributes_json[city, genre] = attributes
        last_order_at = stamp(last_order) if wanted else None
        out.customers.append((cid, tenant_id, email, first, last, f"TKT-{cid:07d}",
                              CITY_TIMEZONE.get(city, "Europe/London"), attributes, status,
                              total, wanted, last_order_at, signup_at, last_order_at or signup_at))

    # The helpers below draw from `rng` in a fixed order (the same seed gives the same data):
    # each one is called once per customer, in the order _customer calls them.

    def _person(self, cid: int) -> tuple[str, str, str, str, str, str, int, str]:
        """(first, last, city, genre, status, source, signup, email) of a new customer."""
        rng, rand, now = self.rng, self.rng.random, self.now
        first, first_slug = self.first_names[int(rand() * len(self.first_names))]
        last, last_slug = self.last_names[int(rand() * len(self.last_names))]
        city = rng.choices(self.cities[0], cum_weights=self.cities[1])[0]
        genre = rng.choices(self.genres[0], cum_weights=self.genres[1])[0]
        status = rng.choices(self.statuses[0], cum_weights=self.statuses[1])[0]
        source = rng.choices(self.sources[0], cum_weights=self.sources[1])[0]
        # More sign-ups recently than long ago, as a growing list has.
        signup = now - int(HISTORY * (1 - rand() ** 0.7)) - 60
        pattern = int(rand() * 4)
        domain = EMAIL_DOMAINS[int(rand() * len(EMAIL_DOMAINS))]
        if pattern == 0:
            email = f"{first_slug}.{last_slug}{cid}@{domain}"
        elif pattern == 1:
            email = f"{first_slug}{last_slug}{cid}@{domain}"
        elif pattern == 2:
            email = f"{first_slug[0]}.{last_slug}{cid}@{domain}"
        else:
            email = f"{first_slug}_{cid}@{domain}"
        return first, last, city, genre, status, source, signup, email

    def _purchases(self, cid: int, signup: int, genre: str, out: Chunk) -> tuple[int, float, int, int, int]:
        """The customer's orders with the activities around them, and whether they came to
        the shows that are over; returns (orders, total, last order, sport orders, longest
        lead), so the aggregates match by construction."""
        now, rand = self.now, self.rng.random
        pool, pool_starts = self.pool, self.pool_starts
        lo = bisect_right(pool_starts, signup + 3600)
        hi = bisect_right(pool_starts, now + SALE_WINDOW)
        gpool, gstarts = self.genre_pool[genre], self.genre_starts[genre]
        glo, ghi = bisect_right(gstarts, signup + 3600), bisect_right(gstarts, now + SALE_WINDOW)
        early_bird = rand() < 0.2
        wanted = self.purchases_wanted() if lo < hi else 0
        total = 0.0
        last_order = 0
        sport_orders = 0
        earliest_lead = 0
        # Past shows the customer holds tickets for: event index -> [scans, first scan].
        scans: dict[int, list[int]] = {}
        for k in range(wanted):
            # Fans mostly follow their favourite genre.
            if glo < ghi and rand() < 0.6:
                index = gpool[glo + int(rand() * (ghi - glo))]
            else:
                index = pool[lo + int(rand() * (hi - lo))]
            event = self.events[index]
            at, order_total = self._order(cid, k, index, signup, early_bird, out, scans)
            total += order_total
            if at > last_order:
                last_order = at
            if event.genre == "sport":
                sport_orders += 1
            if event.starts_at - at > earliest_lead:
                earliest_lead = event.starts_at - at
        for index, (count, first_scan) in scans.items():
            event = self.events[index]
            out.attendance.append((self.event_ids[index], cid, self.tenant_id, "attended" if count else "no_show",
                                   count, self.stamp(first_scan) if count else None, self.stamp(event.starts_at)))
        return wanted, total, last_order, sport_orders, earliest_lead

    def _order(self, cid: int, k: int, index: int, signup: int, early_bird: bool, out: Chunk,
               scans: dict[int, list[int]]) -> tuple[int, float]:
        """Order `k` of the customer, for event `index`, with its line items, the page views
        before it and the scan at the gate; returns (when, order total)."""
        rng, rand, stamp, now, tenant_id = self.rng, self.rng.random, self.stamp, self.now, self.tenant_id
        acts = out.activities
        event = self.events[index]
        start = event.starts_at
        lo_t, hi_t = max(signup + 60, start - SALE_WINDOW), min(start - 1800, now)
        lead = int(rng.expovariate(1 / (40 * DAY if early_bird else 12 * DAY)))
        at = start - lead
        if at > hi_t:
            at = hi_t - int(rand() * min(hi_t - lo_t, 14 * DAY))
        if at < lo_t:
            at = lo_t + int(rand() * (hi_t - lo_t))
        u = rand()
        tickets = 1 if u < 0.25 else 2 if u < 0.70 else 3 if u < 0.80 else 4 if u < 0.95 else 5 + int(rand() * 4)
        prices = PRICES[event.genre]
        choice = int(rand() * len(prices))
        items_json, order_total = self._items(cid, k, index, choice, tickets, start - at >= EARLY_BIRD, at, out)
        # Unique per tenant: customer ids are unique and k has a fixed width.
        order_id = f"ORD-{cid}{k:03d}"
        at_s = stamp(at)
        out.purchases.append((tenant_id, cid, "purchase",
                              f'{{"order_id": "{order_id}", "order_total": {order_total:.2f}, '
                              f'"currency": "{CURRENCY}", "tickets": {tickets}, "event": {event.json}, '
                              f'"items": {items_json}}}',
                              at_s, at_s, order_id, order_total, event.id, event.name))
        # They looked at the event page before buying.
        for _ in range(1 + (rand() < 0.6) + (rand() < 0.3)):
            seen = max(signup, at - int(rand() * 3 * DAY))
            seen_s = stamp(seen)
            acts.append((tenant_id, cid, "page_view",
                         self.page_view_json[index, PAGE_SOURCES[int(rand() * 5)]],
                         seen_s, seen_s, None, None, None, None))
        if start < now:
            came = scans.setdefault(index, [0, 0])
            # Most ticket holders turn up; the scan is when they came through the gate.
            if rand() < SCANNED:
                scan = start - int(rand() * 5400)
                scan_s = stamp(scan)
                acts.append((tenant_id, cid, "ticket_scanned",
                             f'{{"event": {event.json}, "gate": "{GATES[int(rand() * 6)]}", '
                             f'"tickets": {tickets}}}', scan_s, scan_s, None, None, None, None))
                came[0] += 1
                came[1] = scan if came[0] == 1 else min(came[1], scan)
        return at, order_total

    def _items(self, cid: int, k: int, index: int, choice: int, tickets: int, early: bool, at: int,
               out: Chunk) -> tuple[str, float]:
        """The order's line items (rows and their JSON for the purchase); returns (JSON, order
        total). Seated tickets get a block and consecutive seats; some group orders have one
        concession ticket on a line of its own. Drawn from the ids, not from `rng`, so the
        rest of the data does not move with them."""
        event = self.events[index]
        prices = PRICES[event.genre]
        fee = BOOKING_FEE[event.genre]
        kind = TICKET_TYPES[event.genre][choice * 2 >= len(prices)]
        tier = "Early bird" if early else "Standard"
        price = prices[choice] + fee
        lines = [(kind, tier, tickets, price)]
        if tickets >= 3 and (cid + k) % 3 == 0 and prices[choice] > CONCESSION_OFF:
            lines = [(kind, tier, tickets - 1, price), (kind, "Concession", 1, price - CONCESSION_OFF)]
        purchase = len(out.purchases)
        row, first = chr(65 + (cid * 7 + k) % 20), 1 + (cid * 13 + k) % 30
        section = f"Block {'ABCDE'[(cid + k) % 5]}" if kind in SEATED else None
        parts, total, at_s = [], 0.0, self.stamp(at)
        for ticket_type, line_tier, quantity, line_price in lines:
            seat = _seat_range(row, first, quantity) if section else None
            first += quantity
            total += quantity * line_price
            out.items.append((purchase, self.tenant_id, cid, self.event_ids[index], ticket_type, line_tier, section,
                              seat, quantity, line_price, at_s))
            where = f', "section": "{section}", "seat": "{seat}"' if section else ""
            parts.append(f'{{"ticket_type": "{ticket_type}", "tier": "{line_tier}"{where}, '
                         f'"quantity": {quantity}, "price": {line_price:.2f}}}')
        return f"[{', '.join(parts)}]", total

    def _browsing(self, cid: int, signup: int, acts: list[tuple]) -> None:
        """Browsing without buying (yet)."""
        rng, rand, stamp, now, tenant_id = self.rng, self.rng.random, self.stamp, self.now, self.tenant_id
        pool = self.pool
        for _ in range(int(rng.expovariate(1 / 2.9))):
            index = pool[int(rand() * len(pool))]
            seen = signup + int(rand() * (now - signup))
            seen_s = stamp(seen)
            acts.append((tenant_id, cid, "page_view", self.page_view_json[index, PAGE_SOURCES[int(rand() * 5)]],
                         seen_s, seen_s, None, None, None, None))

    def _tags(self, cid: int, status: str, wanted: int, total: float, sport_orders: int, earliest_lead: int,
              tags: list[tuple]) -> None:
        rand, tenant_id = self.rng.random, self.tenant_id
        if total >= 1500 or wanted >= 12 or rand() < 0.01:
            tags.append((cid, "vip", tenant_id))
        if status == "subscribed" and rand() < 0.62:
            tags.append((cid, "newsletter", tenant_id))
        if rand() < 0.12:
            tags.append((cid, "student", tenant_id))
        if earliest_lead >= 60 * DAY and rand() < 0.8:
            tags.append((cid, "early_bird", tenant_id))
        if sport_orders >= 3 or (sport_orders and rand() < 0.05):
            tags.append((cid, "season_ticket", tenant_id))
