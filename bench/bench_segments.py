"""bench_segments: full segment calculation and one customer's real-time re-evaluation.

Three segments over the seeded tenant (the specification's seed conditions; a nested
any/all mix; "purchased within the last 30 days"):

- calculate: `services.segments.calculate_segment` (compiled SQL into a scratch table,
  entered/exited diff, counts), timed with nothing changed since the last run;
- baseline: the hand-written `INSERT INTO tmp SELECT id FROM customers WHERE ...` of the
  same set, in the same database, in the same run (goal: ratio at most 1.5).

Then 50 segments exist in the tenant and one customer is re-evaluated against all of them
as after a purchase (`refresh_customer_segments`, rolled back each time), against a
baseline of the same 50 hand-written EXISTS probes for that customer in one statement
(goal: under 20 ms). Peak Python memory of a calculation is reported too: the work is in
SQL, so it must not grow with the number of customers.
"""

from __future__ import annotations

import random
import tracemalloc
from datetime import timedelta

from sqlalchemy import text

from bench.harness import BenchEnvironment, Result, Row, Size, best_of
from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.services import segment_refresh, segments

SEED = [{"type": "total_spent", "operator": ">=", "value": 100},
        {"type": "orders_count", "operator": ">=", "value": 3},
        {"type": "tag", "value": "vip"}]
NESTED = [{"match": "any", "conditions": [{"type": "tag", "value": "vip"},
                                          {"type": "total_spent", "operator": ">=", "value": 500}]},
          {"type": "email_status", "operator": "=", "value": "subscribed"},
          {"match": "any", "conditions": [{"type": "orders_count", "operator": ">=", "value": 2},
                                          {"type": "last_order_at", "operator": "within_last_days", "value": 90}]}]
RECENT = [{"type": "activity", "activity_type": "purchase", "operator": "at_least", "value": 1,
           "within_last_days": 30}]

HAS_VIP = "EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id AND t.tag = 'vip')"
HAND_WRITTEN = {
    "seed conditions": f"c.total_spent >= 100 AND c.orders_count >= 3 AND {HAS_VIP}",
    "nested any/all": f"({HAS_VIP} OR c.total_spent >= 500) AND c.email_status = 'subscribed' "
                      "AND (c.orders_count >= 2 OR c.last_order_at >= :since90)",
    "activity in 30 days": "EXISTS (SELECT 1 FROM customer_activities a WHERE a.customer_id = c.id "
                           "AND a.type = 'purchase' AND a.occurred_at >= :since30)",
}
DEFINITIONS = {"seed conditions": SEED, "nested any/all": NESTED, "activity in 30 days": RECENT}


def _moment(dialect: str, days: int, now=None):
    at = (now or utcnow()) - timedelta(days=days)
    # SQLite stores naive UTC text in this format (webapp.infra.types.UTCDateTime).
    return at.replace(tzinfo=None).isoformat(sep=" ") if dialect == "sqlite" else at


def run(env: BenchEnvironment, size: Size) -> Result:
    result = Result("bench_segments", f"segments over {size.seed_customers:,} customers; calculate = full "
                                      "recalculation (ms), refresh = one customer vs 50 segments (ms)")
    app = env.app
    with app.app_context():
        dialect = db.engine.dialect.name
        params = {"tid": env.tenant_id, "since30": _moment(dialect, 30), "since90": _moment(dialect, 90)}
        ids = {}
        for name, conditions in DEFINITIONS.items():
            ids[name] = segments.create_segment(env.tenant_id, f"bench {name}", conditions).id
        engine = db.engine

    for name, segment_id in ids.items():
        def ours(segment_id=segment_id) -> None:
            with app.app_context():
                segments.calculate_segment(env.tenant_id, segment_id)

        where = HAND_WRITTEN[name]

        def baseline(where=where) -> None:
            with engine.begin() as conn:
                conn.execute(text("CREATE TEMP TABLE bench_tmp (customer_id BIGINT PRIMARY KEY)"))
                conn.execute(text(f"INSERT INTO bench_tmp SELECT c.id FROM customers c WHERE c.tenant_id = :tid "
                                  f"AND {where}"), params)
                conn.execute(text("DROP TABLE bench_tmp"))

        t_ours, t_base = best_of(size.repeats, ours), best_of(size.repeats, baseline)
        result.rows.append(Row(f"calculate: {name}", 1, t_ours * 1000, t_base * 1000, "ms"))
        # Same answer as the hand-written SQL, both evaluated at one instant (relative
        # windows move while the benchmark runs).
        with app.app_context():
            at = utcnow()
            count = segments.calculate_segment(env.tenant_id, segment_id, now=at).member_count
            same_instant = {**params, "since30": _moment(dialect, 30, at), "since90": _moment(dialect, 90, at)}
            check = db.session.scalar(text(f"SELECT count(*) FROM customers c WHERE c.tenant_id = :tid AND {where}"),
                                      same_instant)
        assert check == count, f"{name}: segment has {count} members, hand-written SQL finds {check}"

    tracemalloc.start()
    with app.app_context():
        segments.calculate_segment(env.tenant_id, ids["nested any/all"])
    peak_kib = tracemalloc.get_traced_memory()[1] / 1024
    tracemalloc.stop()

    result.rows.append(_refresh_row(env, size, params))
    result.description += f"; peak Python memory of one calculation: {peak_kib:,.0f} KiB"
    # The benchmarks after this one measure the tenant without these 50 live segments (with
    # them, every purchase of bench_purchase_api also moved its buyer through a few).
    with app.app_context():
        for segment in segments.list_segments(env.tenant_id):
            if segment.name.startswith("bench "):
                segments.delete_segment(env.tenant_id, segment.id)
    return result


def make_segments(tenant_id: int, count: int, prefix: str = "bench") -> list[int]:
    """`count` live segments of the three shapes, thresholds varied: their ids."""
    shapes = list(DEFINITIONS.items())
    ids = []
    for i in range(count):
        name, conditions = shapes[i % 3]
        if name == "seed conditions":
            conditions = [{**SEED[0], "value": 50 + 10 * i}, *SEED[1:]]
        ids.append(segments.create_segment(tenant_id, f"{prefix} {name} {i}", conditions).id)
    return ids


def _refresh_row(env: BenchEnvironment, size: Size, params: dict) -> Row:
    """50 segments (the three shapes with varied thresholds), one customer at a time."""
    app = env.app
    probes = []
    with app.app_context():
        make_segments(env.tenant_id, 50 - len(segments.list_segments(env.tenant_id)))
        customer_ids = list(db.session.scalars(text("SELECT id FROM customers WHERE tenant_id = :tid LIMIT 2000"),
                                               {"tid": env.tenant_id}))
        for segment in segments.list_segments(env.tenant_id):
            where = HAND_WRITTEN[_shape_of(segment.conditions)]
            if _shape_of(segment.conditions) == "seed conditions":
                where = where.replace(">= 100", f">= {segment.conditions[0]['value']}")
            probes.append(f"SELECT {segment.id} AS segment_id WHERE EXISTS (SELECT 1 FROM customers c "
                          f"WHERE c.id = :cid AND c.tenant_id = :tid AND {where})")
        engine = db.engine
    rng = random.Random(7)
    sample = [rng.choice(customer_ids) for _ in range(min(200, size.purchases))]
    baseline_sql = text(" UNION ALL ".join(probes))

    def ours() -> None:
        for cid in sample:
            with app.app_context():
                segment_refresh.refresh_customer_segments(env.tenant_id, cid)
                db.session.rollback()

    def baseline() -> None:
        for cid in sample:
            with engine.connect() as conn:
                conn.execute(baseline_sql, {**params, "cid": cid}).all()

    t_ours = best_of(size.repeats, ours) / len(sample)
    t_base = best_of(size.repeats, baseline) / len(sample)
    return Row("refresh: 1 customer x 50 segments", len(sample), t_ours * 1000, t_base * 1000, "ms/op")


def _shape_of(conditions: list) -> str:
    if conditions[0].get("type") == "activity":
        return "activity in 30 days"
    if "conditions" in conditions[0]:
        return "nested any/all"
    return "seed conditions"
