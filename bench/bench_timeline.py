"""bench_timeline: paging through one busy customer's timeline, ours vs raw keyset SQL.

One customer gets `timeline_activities` activities on top of the seeded tenant, then
every variant pages through the newest `timeline_pages` pages of 50, as the "load more"
button does:

- service: `services.timeline.timeline` (the tenant's wall in the query, rows of the
  table's columns: on PostgreSQL through the driver, a statement compiled once; opaque
  cursor), with the session removed after each page as a request's teardown does;
- API: `GET /api/crm/customers/{id}/timeline` through the whole app with a bearer token;
- baseline: the keyset query as literal SQL (`sqlalchemy.text`) on a pooled connection,
  returning plain rows. Its `occurred_at <= :at` bound lets the index start at the
  cursor, so every page costs the same however deep: a service query that walks the
  newer rows instead shows up here as a ratio growing with the size.
"""

from __future__ import annotations

import random
import time

from sqlalchemy import text

from bench.harness import BenchEnvironment, Result, Row, Size, best_of, percentile
from webapp.extensions import db
from webapp.services.customers import upsert_customer
from webapp.services.demo.bulk import BulkLoader
from webapp.services.demo.rows import ACTIVITY_COLUMNS
from webapp.services.timeline import timeline

PAGE = 50
TYPES = ("page_view", "page_view", "page_view", "email_opened", "ticket_scan", "note")

FIRST_PAGE = text(
    "SELECT id, tenant_id, customer_id, type, properties, occurred_at, created_at, idempotency_key, "
    "order_id, amount FROM customer_activities WHERE customer_id = :customer_id "
    "ORDER BY occurred_at DESC, id DESC LIMIT :limit")
NEXT_PAGE = text(
    "SELECT id, tenant_id, customer_id, type, properties, occurred_at, created_at, idempotency_key, "
    "order_id, amount FROM customer_activities WHERE customer_id = :customer_id "
    "AND occurred_at <= :at AND (occurred_at < :at OR id < :last_id) "
    "ORDER BY occurred_at DESC, id DESC LIMIT :limit")


def run(env: BenchEnvironment, size: Size) -> Result:
    result = Result("bench_timeline", f"one customer with {size.timeline_activities:,} activities in a tenant "
                                      f"of {size.seed_customers:,} customers; up to {size.timeline_pages:,} "
                                      f"pages of {PAGE}, newest first; ms per page")
    app = env.app
    with app.app_context():
        customer_id = _busy_customer(env.tenant_id, size.timeline_activities)
        engine = db.engine
    pages = min(size.timeline_pages, -(-size.timeline_activities // PAGE))
    client = app.test_client()

    # Each page runs in its own app context, as in a request: the session (and on SQLite
    # its transaction, which holds the write lock) ends with it.
    def service() -> None:
        cursor = None
        for _ in range(pages):
            with app.app_context():
                cursor = timeline(env.tenant_id, customer_id, limit=PAGE, cursor=cursor).next_cursor

    api_pages: list[float] = []  # each page's time, every round: the API's p99
    base_pages: list[float] = []

    def api() -> None:
        cursor = ""
        for _ in range(pages):
            started = time.perf_counter()
            response = client.get(f"/api/crm/customers/{customer_id}/timeline?limit={PAGE}&cursor={cursor}",
                                  headers=env.auth_headers)
            cursor = response.get_json()["next_cursor"] or ""
            api_pages.append(time.perf_counter() - started)

    def baseline() -> None:
        last = None
        for _ in range(pages):
            started = time.perf_counter()
            with engine.connect() as conn:
                if last is None:
                    rows = conn.execute(FIRST_PAGE, {"customer_id": customer_id, "limit": PAGE + 1}).all()
                else:
                    rows = conn.execute(NEXT_PAGE, {"customer_id": customer_id, "limit": PAGE + 1,
                                                    "at": last.occurred_at, "last_id": last.id}).all()
            base_pages.append(time.perf_counter() - started)
            last = rows[PAGE - 1] if len(rows) > PAGE else None

    for variant in (service, api, baseline):
        variant()  # warm caches and the connection pool
    api_pages.clear()
    base_pages.clear()
    base = best_of(size.repeats, baseline) / pages * 1000
    result.rows.append(Row("service timeline()", pages, best_of(size.repeats, service) / pages * 1000, base))
    result.rows.append(Row("GET .../timeline (API)", pages, best_of(size.repeats, api) / pages * 1000, base))
    # Over every page of every round, not the best round's: what a slow "load more" costs.
    result.rows.append(Row("GET .../timeline (API) p99 of a page", len(api_pages),
                           percentile(api_pages, 99) * 1000, percentile(base_pages, 99) * 1000))
    return result


def _busy_customer(tenant_id: int, n_activities: int) -> int:
    """A customer with n_activities, bulk-loaded; a few share a timestamp to test the tie-break."""
    customer, _ = upsert_customer(tenant_id, {"email": "busy.fan@bench.example.com", "first_name": "Busy"})
    loader = BulkLoader.for_session(db.session)
    rng = random.Random(11)
    now = int(time.time())
    stamps = [now - rng.randrange(0, 730 * 86400) for _ in range(n_activities)]
    for i in range(0, n_activities, 10):  # every tenth activity repeats its neighbour's time
        stamps[i] = stamps[i - 1]
    rows = []
    for epoch in stamps:
        at = loader.stamp(epoch)
        rows.append((tenant_id, customer.id, rng.choice(TYPES), '{"source": "bench"}', at, at,
                     None, None, None, None))
    loader.insert("customer_activities", ACTIVITY_COLUMNS, rows)
    db.session.commit()
    if loader.dialect == "postgresql":
        db.session.execute(text("ANALYZE customer_activities"))
        db.session.commit()
    return customer.id
