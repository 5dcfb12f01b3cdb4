"""bench_batch: purchases through POST /api/crm/activities/batch vs the least a bulk load can do.

Ours: batches of 10, 100 and 1,000 purchases of an on-sale event (two tickets each, so a
line item each) through the real app and Flask's test client (token check, per-item
validation, the customers' SELECT, the idempotency SELECT, the bulk INSERT, the event link,
the line items' INSERT, the aggregates UPDATE, the set-based refresh of 50 live segments,
enrollment in 50 active purchase workflows that all match, each opening with a wait, and the
goal check), in a tenant with those segments and workflows. Baseline (a): the same activity
rows loaded as a bulk load would, with nothing checked: COPY on PostgreSQL (an executemany
INSERT on SQLite) plus one set-based UPDATE of the aggregates, one transaction per batch.
Baseline (b): the single-request path, POST /api/crm/activities once per purchase, on a
sample. A batch of more than BATCH_FOLLOW_INLINE_MAX answers before its segments and
enrollments are done: "answered" is the request alone, "+ its worker follow-up" adds the
time a worker then spends on them. Figures are purchases per second
(higher is better; the ratio is baseline time / our time inverted, so below 1.0 means we
are slower than the baseline).
"""

from __future__ import annotations

import itertools
import json
import time
from datetime import UTC, datetime

import sqlalchemy as sa

from bench.bench_purchase_api import EVENT
from bench.bench_segments import make_segments
from bench.bench_workflows import make_workflows, switch
from bench.harness import BenchEnvironment, Result, Row, Size
from webapp.extensions import db
from webapp.models import IngestFollowup
from webapp.services import segments
from webapp.services.ingest import follow

BATCH_SIZES = (10, 100, 1000)
SMOKE_PURCHASES = 200
SEGMENTS = 50  # live segments every purchase re-evaluates (and 50 purchase workflows it enrolls in)
COLUMNS = "tenant_id, customer_id, type, properties, occurred_at, created_at, order_id, amount, event_id, event_name"
AGGREGATE = """
UPDATE customers SET total_spent = customers.total_spent + b.spent, orders_count = customers.orders_count + b.n,
       last_order_at = CASE WHEN customers.last_order_at IS NULL OR customers.last_order_at < b.last
                            THEN b.last ELSE customers.last_order_at END, updated_at = b.last
FROM (SELECT customer_id, SUM(amount) AS spent, COUNT(*) AS n, MAX(occurred_at) AS last
      FROM customer_activities WHERE id > :after AND tenant_id = :tenant_id GROUP BY customer_id) AS b
WHERE customers.id = b.customer_id"""


def _bulk_load(engine: sa.Engine, rows: list[dict]) -> None:
    """Baseline (a): the rows in with COPY (executemany on SQLite), then one UPDATE."""
    with engine.begin() as conn:
        after = conn.execute(sa.text("SELECT COALESCE(MAX(id), 0) FROM customer_activities")).scalar_one()
        if engine.dialect.name == "postgresql":
            cursor = conn.connection.cursor()
            with cursor.copy(f"COPY customer_activities ({COLUMNS}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row((r["tenant_id"], r["customer_id"], "purchase", r["properties"], r["at"], r["at"],
                                    r["order_id"], r["amount"], EVENT["id"], EVENT["name"]))
        else:
            conn.execute(sa.text(f"INSERT INTO customer_activities ({COLUMNS}) VALUES (:tenant_id, :customer_id, "
                                 "'purchase', :properties, :at, :at, :order_id, :amount, :event_id, :event_name)"),
                     [{**r, "event_id": EVENT["id"], "event_name": EVENT["name"]} for r in rows])
        conn.execute(sa.text(AGGREGATE), {"after": after, "tenant_id": rows[0]["tenant_id"]})


def run(env: BenchEnvironment, size: Size) -> Result:
    # Batches per size and side: ten times the size's purchases, at least one batch each. At
    # smoke size (CI: does it run?) SMOKE_PURCHASES, and still one batch of the largest size.
    total = SMOKE_PURCHASES if size.name == "smoke" else size.purchases * 10
    batches = {batch: max(1, total // batch) for batch in BATCH_SIZES}
    sample = size.purchases
    spread = ", ".join(f"{n * batch:,} in batches of {batch:,}" for batch, n in batches.items())
    result = Result("bench_batch", f"purchases per side: {spread}, spread over the tenant's customers; "
                                   f"the single path on {sample:,}; purchases per second")
    with env.app.app_context():
        customer_ids = list(db.session.scalars(sa.text(
            "SELECT id FROM customers WHERE tenant_id = :t ORDER BY id LIMIT 5000"), {"t": env.tenant_id}))
        segment_ids = make_segments(env.tenant_id, SEGMENTS, prefix="batch")
        workflow_ids = make_workflows(env, prefix="Batch flow")
        switch(env, workflow_ids, True)
        engine = sa.create_engine(db.engine.url)
    try:
        _measure(env, result, engine, customer_ids, batches, sample)
    finally:
        with env.app.app_context():
            switch(env, workflow_ids, False)
            for segment_id in segment_ids:
                segments.delete_segment(env.tenant_id, segment_id)
            db.session.remove()
        engine.dispose()
    return result


def _measure(env: BenchEnvironment, result: Result, engine: sa.Engine, customer_ids: list[int],
             batches: dict[int, int], sample: int) -> None:
    sqlite = engine.dialect.name == "sqlite"
    client = env.app.test_client()
    customers = itertools.cycle(customer_ids)
    orders = itertools.count(1)

    def item(prefix: str) -> dict:
        return {"customer_id": next(customers), "type": "purchase",
                "properties": {"order_id": f"{prefix}-{next(orders)}", "order_total": 61.5, "currency": "GBP",
                               "tickets": 2, "event": EVENT}}

    def ours(batch: int, batches: int) -> float:
        started = time.perf_counter()
        for _ in range(batches):
            body = {"activities": [item("BATCH") for _ in range(batch)]}
            response = client.post("/api/crm/activities/batch", json=body, headers=env.auth_headers)
            assert response.status_code == 200, response.get_data(as_text=True)[:500]
            assert all(r["status"] == 201 for r in response.get_json()["results"])
        return time.perf_counter() - started

    def bulk(batch: int, batches: int) -> float:
        started = time.perf_counter()
        for _ in range(batches):
            now = datetime.now(UTC)
            at = now.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else now
            rows = []
            for _ in range(batch):
                one = item("BULK")
                rows.append({"tenant_id": env.tenant_id, "customer_id": one["customer_id"], "at": at,
                             "properties": json.dumps(one["properties"]), "order_id": one["properties"]["order_id"],
                             "amount": one["properties"]["order_total"]})
            _bulk_load(engine, rows)
        return time.perf_counter() - started

    def drain() -> float:
        """What a worker does after the answers: every follow-up the batches left (a batch of
        more than BATCH_FOLLOW_INLINE_MAX), run here one after another as one worker would."""
        started = time.perf_counter()
        with env.app.app_context():
            for followup_id in db.session.scalars(sa.select(IngestFollowup.id).order_by(IngestFollowup.id)).all():
                follow.run_followup(followup_id)
            db.session.remove()
        return time.perf_counter() - started

    def single(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            response = client.post("/api/crm/activities", json=item("SINGLE"), headers=env.auth_headers)
            assert response.status_code == 201, response.get_data(as_text=True)[:500]
        return time.perf_counter() - started

    ours(10, 2)
    drain()
    bulk(10, 2)
    single(5)
    rates: dict[int, float] = {}
    for batch, count in batches.items():
        n = count * batch
        ours_s = drain_s = bulk_s = 0.0
        # Alternate halves so drift (caches, checkpoints) hits both sides alike.
        for half in (count // 2, count - count // 2):
            if half:
                ours_s += ours(batch, half)
                drain_s += drain()
                bulk_s += bulk(batch, half)
        rates[batch] = n / ours_s
        result.rows.append(Row(f"batch of {batch:,} answered vs COPY/INSERT + one UPDATE", n, n / ours_s,
                               n / bulk_s, unit="purchases/s", higher_is_better=True))
        result.rows.append(Row(f"batch of {batch:,} + its worker follow-up vs COPY/INSERT + one UPDATE", n,
                               n / (ours_s + drain_s), n / bulk_s, unit="purchases/s", higher_is_better=True))
    single_rate = sample / single(sample)
    for batch in BATCH_SIZES:
        result.rows.append(Row(f"batch of {batch:,} vs one request per purchase", sample, rates[batch], single_rate,
                               unit="purchases/s", higher_is_better=True))
