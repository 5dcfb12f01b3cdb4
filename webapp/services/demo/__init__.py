"""Demo data: a ticketing business with realistic customers, purchases and sign-ups.

`seed_demo` is what `flask crm seed-demo` and `make run` call. It is built to make a
million customers and ten million activities on PostgreSQL in minutes: rows are plain
tuples generated in chunks and loaded with COPY (executemany on SQLite), never ORM
objects. Each chunk is committed on its own, so progress is visible and a long run
that is interrupted keeps what it has loaded.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.errors import Conflict, NotFound
from webapp.models import Tenant, User
from webapp.services.demo.bulk import BulkLoader
from webapp.services.demo.catalogue import (
    CURRENCY,
    DEMO_LOCALE,
    DEMO_POSTAL_ADDRESS,
    DEMO_SENDER_EMAIL,
    DEMO_SENDER_NAME,
    DEMO_TENANT_NAME,
    DEMO_TIMEZONE,
    build_events,
)
from webapp.services.demo.events import load_events, set_inventory
from webapp.services.demo.rows import (
    ACTIVITY_COLUMNS,
    ATTENDANCE_COLUMNS,
    CUSTOMER_COLUMNS,
    ITEM_COLUMNS,
    PURCHASE_COLUMNS,
    TAG_COLUMNS,
    Chunk,
    DemoRows,
)
from webapp.services.segments import calculate_segment, list_segments
from webapp.services.tenants import create_tenant, create_user

# The logins `make run` prints (webapp/devrun.py).
DEMO_EMAIL = "demo@example.com"
DEMO_VIEWER_EMAIL = "viewer@example.com"
DEMO_PASSWORD = "demo-password"
CHUNK_SIZE = 10_000
DEFER_INDEXES_FROM = 20_000
SEEDED_TABLES = ("customers", "customer_tags", "customer_activities", "purchase_items", "event_attendance")

__all__ = ["DEMO_EMAIL", "DEMO_PASSWORD", "DEMO_VIEWER_EMAIL", "seed_demo"]


def seed_demo(n_customers: int, *, tenant_id: int | None = None,
              progress: Callable[[str], None] | None = None, seed: int = 2024,
              chunk_size: int = CHUNK_SIZE, defer_indexes: bool | None = None) -> dict[str, Any]:
    """Create the demo tenant (or use `tenant_id`) and add `n_customers` customers to it.

    Customers get names, unique emails and external ids, timezones, attributes (city,
    favourite_genre), tags (vip, newsletter, student, early_bird, season_ticket) and an
    email status; each has a signup, and most have purchases of tickets for a season of
    about forty events across nine venues (their rows too, with doors, end, the venue's
    timezone, status, tags and inventory that agrees with the tickets sold), with line
    items, page views and ticket scans around them, and attendance for the shows that are over.
    Aggregates (total_spent, orders_count, last_order_at) equal what the purchases imply.
    The same `seed` gives the same data relative to the current time.

    On PostgreSQL, loading into empty tables (a fresh database) drops their secondary
    indexes and foreign keys and rebuilds them at the end, all in one transaction; by
    default from DEFER_INDEXES_FROM customers, where that is faster.

    Returns {"tenant_id", "customers", "activities", "line_items", "attendance", "login", "seconds"}.
    """
    started = time.perf_counter()
    if tenant_id is None:
        tenant = _create_demo_tenant()
        login = DEMO_EMAIL
    else:
        tenant = db.session.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        owner = db.session.scalar(select(User.email).where(User.tenant_id == tenant.id)
                                  .order_by((User.role == "owner").desc(), User.id).limit(1))
        login = owner or ""
    tenant_id = tenant.id

    now = int(time.time())
    rng = random.Random(seed)
    loader = BulkLoader.for_session(db.session)
    events = build_events(rng, now)
    # The season's events first: line items and attendance name them.
    event_ids = load_events(db.session, tenant_id, events, now)
    db.session.commit()
    rows = DemoRows(rng, events, tenant_id=tenant_id, now=now, stamp=loader.stamp, event_ids=event_ids)
    if defer_indexes is None:
        defer_indexes = n_customers >= DEFER_INDEXES_FROM
    # One transaction for the whole load when indexes are deferred; else one per chunk.
    deferred = defer_indexes and loader.defer_indexes(SEEDED_TABLES)
    try:
        done, activities, items, attendance = _load(rows, loader, n_customers, chunk_size, deferred, started,
                                                    progress)
        loader.finish(progress)
        set_inventory(db.session, tenant_id, events, event_ids, now)
        db.session.commit()
    except BaseException:
        # Deferred indexes come back with the rollback: DDL is transactional on PostgreSQL.
        db.session.rollback()
        raise
    _recalculate_segments(tenant_id, progress)
    return {"tenant_id": tenant_id, "customers": done, "activities": activities, "line_items": items,
            "attendance": attendance, "login": login,
            "seconds": round(time.perf_counter() - started, 2)}


def _load(rows: DemoRows, loader: BulkLoader, n_customers: int, chunk_size: int, deferred: bool,
          started: float, progress: Callable[[str], None] | None) -> tuple[int, int]:
    """Generate and insert the customers chunk by chunk; returns (customers, activities, line
    items, attendance rows)."""
    sizes = [min(chunk_size, n_customers - start) for start in range(0, n_customers, chunk_size)]
    done = activities = items = attendance = 0
    # Generating a chunk is pure Python and loading one mostly waits on the database, so
    # the next chunk is generated in a helper thread while this one loads (the thread is
    # the only user of `rng`, chunks are made in order: the data stays reproducible).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="seed-demo") as pool:
        pending = pool.submit(rows.chunk, loader.reserve_customer_ids(sizes[0])) if sizes else None
        for i in range(len(sizes)):
            chunk = pending.result()
            if i + 1 < len(sizes):
                pending = pool.submit(rows.chunk, loader.reserve_customer_ids(sizes[i + 1]))
            _insert(loader, chunk)
            if not deferred:
                db.session.commit()
            done += len(chunk.customers)
            activities += len(chunk.activities) + len(chunk.purchases)
            items += len(chunk.items)
            attendance += len(chunk.attendance)
            if progress is not None:
                elapsed = time.perf_counter() - started
                progress(f"demo: {done:,}/{n_customers:,} customers, {activities:,} activities, "
                         f"{(done + activities) / elapsed:,.0f} rows/s")
    return done, activities, items, attendance


def _insert(loader: BulkLoader, chunk: Chunk) -> None:
    """One chunk's rows, parents first: tags and activities reference the customers, line
    items their purchase (whose id is reserved here) and attendance the customers."""
    loader.insert("customers", CUSTOMER_COLUMNS, chunk.customers)
    loader.insert("customer_tags", TAG_COLUMNS, chunk.tags)
    ids = loader.reserve_activity_ids(len(chunk.purchases))
    loader.insert("customer_activities", PURCHASE_COLUMNS, [(ids[i], *row) for i, row in enumerate(chunk.purchases)])
    loader.insert("customer_activities", ACTIVITY_COLUMNS, chunk.activities)
    loader.insert("purchase_items", ITEM_COLUMNS, [(ids[row[0]], *row[1:]) for row in chunk.items])
    loader.insert("event_attendance", ATTENDANCE_COLUMNS, chunk.attendance)


def _recalculate_segments(tenant_id: int, progress: Callable[[str], None] | None) -> None:
    """Bulk rows bypass the per-customer segment refresh: bring the tenant's segments up to date."""
    for segment in list_segments(tenant_id):
        if progress is not None:
            progress(f"demo: recalculating segment {segment.name!r}")
        calculate_segment(tenant_id, segment.id)


def _create_demo_tenant() -> Tenant:
    """The demo organiser with its owner and a read-only viewer, through the services."""
    taken = db.session.scalar(select(User.tenant_id).where(User.email.in_([DEMO_EMAIL, DEMO_VIEWER_EMAIL])))
    if taken is not None:
        raise Conflict(f"the demo logins already exist (tenant {taken}); "
                       f"add customers to it with --tenant-id {taken}")
    # The sender's domain comes along as a sending domain (unverified), so the demo can send.
    tenant, _, _ = create_tenant(DEMO_TENANT_NAME, DEMO_EMAIL, DEMO_PASSWORD, timezone=DEMO_TIMEZONE,
                                 sender_name=DEMO_SENDER_NAME, sender_email=DEMO_SENDER_EMAIL,
                                 postal_address=DEMO_POSTAL_ADDRESS, currency=CURRENCY, locale=DEMO_LOCALE)
    create_user(tenant, DEMO_VIEWER_EMAIL, DEMO_PASSWORD, role="viewer")
    return tenant
