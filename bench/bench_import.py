"""bench_import: a customer CSV import against the database's raw ingest of the same rows.

Ours: `create_import` (the upload: decode, header, row count) and `run_import` (what the
RQ job runs: every row checked with the customers API's rules, duplicates looked for,
chunks of set-based lookup + INSERT ... ON CONFLICT ... RETURNING + tag INSERT, progress
committed per chunk, then the tenant's three segments recalculated), into a tenant of
its own. The file: N new customers with names, an external id, two tags, money, an order
count and one attribute column.

Baseline: the same file read with the csv module and nothing checked, its rows written
with COPY (PostgreSQL) or executemany (SQLite) straight into the same indexed customers
and customer_tags tables, for another tenant. The ratio is what validation, matching,
the upsert and segments cost on top of the database's raw ingest.

Then the same file again into the first tenant: every row is an update (fields replaced,
tags added, attributes merged), against a baseline that UPDATEs the same rows by id from
a bulk-loaded scratch table (PostgreSQL: COPY + UPDATE ... FROM; SQLite: executemany).

Goal (issue 7): 100,000 rows in under a minute on PostgreSQL (`--size medium`).
"""

from __future__ import annotations

import csv
import io
import json
import time

from sqlalchemy import text

from bench.harness import BenchEnvironment, Result, Row, Size
from webapp.extensions import db
from webapp.services.demo.bulk import BulkLoader
from webapp.services.demo.rows import CUSTOMER_COLUMNS, TAG_COLUMNS

NEEDS_SEED_DATA = False
HEADER = "email,first_name,last_name,external_id,tags,total_spent,orders_count,favourite_venue"
VENUES = ("Riverside Arena", "The Roundhouse", "Old Mill Stage", "Harbour Hall")


def make_csv(n: int, *, first_name: str = "Fan") -> bytes:
    lines = [HEADER]
    for i in range(n):
        tags = "vip, newsletter" if i % 10 == 0 else "newsletter, early-bird"
        lines.append(f"fan{i}@bench.example.com,{first_name} {i},Surname{i % 977},ext-{i},\"{tags}\","
                     f"{(i * 37) % 500}.50,{i % 9},{VENUES[i % 4]}")
    return ("\n".join(lines) + "\n").encode()


def run(env: BenchEnvironment, size: Size) -> Result:
    n = size.import_rows
    result = Result("bench_import", f"CSV import of {n:,} customers (upload + job, segments included) "
                                    "vs raw bulk insert of the parsed rows into the same tables")
    with env.app.app_context():
        ours_tenant = _tenant("Import Bench", "import@bench.example.com")
        base_tenant = _tenant("Import Baseline", "baseline@bench.example.com")
        content = make_csv(n)

        started = time.perf_counter()
        counts = _import(ours_tenant, content)
        ours_new = time.perf_counter() - started
        assert counts == {"created": n, "updated": 0, "rejected": 0}, counts
        baseline_new, ids = _raw_insert(base_tenant, content)

        again = make_csv(n, first_name="Renamed")
        started = time.perf_counter()
        counts = _import(ours_tenant, again)
        ours_update = time.perf_counter() - started
        assert counts == {"created": 0, "updated": n, "rejected": 0}, counts
        baseline_update = _raw_update(ids, again)

    result.rows.append(Row("import new customers", n, n / ours_new, n / baseline_new,
                           unit="rows/s", higher_is_better=True))
    result.rows.append(Row("import again (all updates)", n, n / ours_update, n / baseline_update,
                           unit="rows/s", higher_is_better=True))
    print(f"IMPORT {n:,} rows: new {ours_new:.1f} s, again {ours_update:.1f} s "
          f"(baseline {baseline_new:.1f} s / {baseline_update:.1f} s)")
    return result


def _tenant(name: str, email: str) -> int:
    from webapp.services.segments import create_segment
    from webapp.services.tenants import create_tenant

    tenant, _, _ = create_tenant(name, email, "bench-password-1")
    # The segments an organiser would have: recalculated once at the end of the import.
    create_segment(tenant.id, "VIPs", [{"type": "tag", "value": "vip"}])
    create_segment(tenant.id, "Big spenders", [{"type": "total_spent", "operator": ">=", "value": 250}])
    create_segment(tenant.id, "Regulars", [{"type": "orders_count", "operator": ">=", "value": 5}])
    db.session.commit()
    return tenant.id


def _import(tenant_id: int, content: bytes) -> dict[str, int] | None:
    from webapp.services.imports import create_import, run_import, start_import

    customer_import = create_import(tenant_id, "bench.csv", content)
    start_import(tenant_id, customer_import.id, None)  # also enqueues a job nobody works here
    return run_import(customer_import.id)


def _parsed(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode())))[1:]


def _raw_insert(tenant_id: int, content: bytes) -> tuple[float, list[int]]:
    """Seconds to parse the file and write its customers and tags with nothing checked."""
    loader = BulkLoader.for_session(db.session)
    started = time.perf_counter()
    rows = _parsed(content)
    ids = loader.reserve_customer_ids(len(rows))
    at = loader.stamp(int(time.time()))
    customers, tags = [], []
    for cid, (email, first, last, external_id, tag_cell, spent, orders, venue) in zip(ids, rows, strict=True):
        customers.append((cid, tenant_id, email, first, last, external_id, None,
                          json.dumps({"favourite_venue": venue}), "subscribed", spent, int(orders), None, at, at))
        tags += [(cid, tag.strip(), tenant_id) for tag in tag_cell.split(",")]
    loader.insert("customers", CUSTOMER_COLUMNS, customers)
    loader.insert("customer_tags", TAG_COLUMNS, tags)
    db.session.commit()
    return time.perf_counter() - started, ids


def _raw_update(ids: list[int], content: bytes) -> float:
    """Seconds to parse the file and UPDATE the same rows' fields by id."""
    loader = BulkLoader.for_session(db.session)
    started = time.perf_counter()
    rows = [(cid, first, last, spent, int(orders))
            for cid, (_, first, last, _, _, spent, orders, _) in zip(ids, _parsed(content), strict=True)]
    if loader.dialect == "postgresql":
        db.session.execute(text("CREATE TEMP TABLE bench_import_updates (id int, first_name text, "
                                "last_name text, total_spent numeric, orders_count int) ON COMMIT DROP"))
        loader.insert("bench_import_updates", ("id", "first_name", "last_name", "total_spent", "orders_count"),
                      rows)
        db.session.execute(text(
            "UPDATE customers c SET first_name = u.first_name, last_name = u.last_name, "
            "total_spent = u.total_spent, orders_count = u.orders_count FROM bench_import_updates u "
            "WHERE c.id = u.id"))
    else:
        db.session.connection().exec_driver_sql(
            "UPDATE customers SET first_name = ?, last_name = ?, total_spent = ?, orders_count = ? WHERE id = ?",
            [(first, last, spent, orders, cid) for cid, first, last, spent, orders in rows])
    db.session.commit()
    return time.perf_counter() - started
