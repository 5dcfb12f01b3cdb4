"""bench_seed: seed_demo's rows per second against the database's raw ingest speed.

Ours: `seed_demo(n, tenant_id=...)`, which generates customers, tags and activities and
loads them into the real, indexed tables (deferring indexes on a fresh PostgreSQL).
Baseline: the same number of ready-made plain rows written with the same mechanism
(COPY on PostgreSQL, executemany on SQLite) into a scratch table without indexes or
constraints. The ratio is what generation, indexes and constraints cost on top of
pushing bytes into the database.
"""

from __future__ import annotations

import time

from sqlalchemy import text

from bench.harness import BenchEnvironment, Result, Row, Size
from webapp.extensions import db
from webapp.services.demo import seed_demo
from webapp.services.demo.bulk import BulkLoader
from webapp.services.demo.rows import ACTIVITY_COLUMNS

SCRATCH = "bench_scratch_activities"
# The baseline writes one ready-made block again and again, so its rows cost no Python.
BLOCK = 20_000
PROPERTIES = ('{"order_id": "ORD-1000", "order_total": 61.00, "currency": "GBP", "tickets": 2, '
              '"event": {"id": "evt_1001", "name": "The Velvet Static: Neon Nights Tour", '
              '"starts_at": "2026-06-14T19:30:00+01:00", "venue": "Riverside Arena"}}')


def run(env: BenchEnvironment, size: Size) -> Result:
    result = Result("bench_seed", f"seed_demo({size.seed_customers:,} customers) into the real tables "
                                  "vs raw bulk insert of as many plain rows into a scratch table")
    with env.app.app_context():
        started = time.perf_counter()
        seeded = seed_demo(size.seed_customers, tenant_id=env.tenant_id)
        ours_seconds = time.perf_counter() - started
        # Line items and attendance are rows it writes too (issue 18's tables).
        rows = seeded["customers"] + seeded["activities"] + seeded["line_items"] + seeded["attendance"]
        baseline_seconds = _raw_insert(rows)
    result.rows.append(Row("seed_demo vs raw insert", rows, rows / ours_seconds, rows / baseline_seconds,
                           unit="rows/s", higher_is_better=True))
    return result


def _raw_insert(n_rows: int) -> float:
    """Seconds to write n_rows plain rows, like seed_demo's writes but with nothing to check."""
    loader = BulkLoader.for_session(db.session)
    if loader.dialect == "postgresql":
        db.session.execute(text(f"CREATE TABLE {SCRATCH} (LIKE customer_activities INCLUDING DEFAULTS)"))
    else:
        db.session.execute(text(f"CREATE TABLE {SCRATCH} AS SELECT * FROM customer_activities WHERE 0"))
    db.session.commit()
    at = loader.stamp(int(time.time()))
    block = [(1, i % 5000 + 1, "purchase", PROPERTIES, at, at, f"ORD-{i}", 61.0, "evt_1001", "The Velvet Static")
             for i in range(BLOCK)]
    try:
        started = time.perf_counter()
        written = 0
        while written < n_rows:
            part = block if n_rows - written >= BLOCK else block[: n_rows - written]
            loader.insert(SCRATCH, ACTIVITY_COLUMNS, part)
            written += len(part)
        db.session.commit()
        return time.perf_counter() - started
    finally:
        db.session.rollback()
        db.session.execute(text(f"DROP TABLE {SCRATCH}"))
        db.session.commit()
