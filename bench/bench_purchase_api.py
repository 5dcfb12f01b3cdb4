"""bench_purchase_api: recording a purchase through the whole app vs a bare Flask endpoint.

Ours: `POST /api/crm/activities` with a bearer token, through the real app (token check,
schema validation, idempotency lookup, the activity row, the aggregates UPDATE, segment
refresh). Baseline: a tiny Flask app defined here that parses the same JSON and runs the
same INSERT and UPDATE as literal SQL on the same database, with no checks at all. Both
are driven by Flask's test client, so HTTP handling costs the same on each side.
"""

from __future__ import annotations

import itertools
import json
import time
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask, jsonify, request

from bench.harness import BenchEnvironment, Result, Row, Size
from webapp.extensions import db

EVENT = {"id": "evt_2001", "name": "Bench Night Live", "starts_at": "2027-03-06T19:30:00+00:00",
         "venue": "Riverside Arena"}


def make_bare_app(engine: sa.Engine) -> Flask:
    """The least a purchase endpoint can do: one INSERT and one UPDATE in a transaction."""
    app = Flask("bare_purchase")
    sqlite = engine.dialect.name == "sqlite"
    props = "CAST(:properties AS JSONB)" if not sqlite else ":properties"
    insert = sa.text(
        "INSERT INTO customer_activities (tenant_id, customer_id, type, properties, occurred_at, created_at, "
        f"order_id, amount, event_id, event_name) VALUES (:tenant_id, :customer_id, 'purchase', {props}, :at, :at, "
        ":order_id, :amount, :event_id, :event_name) RETURNING id")
    update = sa.text(
        "UPDATE customers SET total_spent = total_spent + :amount, orders_count = orders_count + 1, "
        "last_order_at = CASE WHEN last_order_at IS NULL OR last_order_at < :at THEN :at ELSE last_order_at END, "
        "updated_at = :at WHERE id = :customer_id AND tenant_id = :tenant_id")

    @app.post("/purchase/<int:tenant_id>")
    def purchase(tenant_id: int):
        body = request.get_json()
        properties = body["properties"]
        now = datetime.now(UTC)
        # SQLite keeps timestamps as text in SQLAlchemy's format; PostgreSQL takes the datetime.
        at = now.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else now
        params = {"tenant_id": tenant_id, "customer_id": body["customer_id"], "at": at,
                  "properties": json.dumps(properties), "order_id": str(properties["order_id"]),
                  "amount": properties["order_total"], "event_id": properties["event"]["id"],
                  "event_name": properties["event"]["name"]}
        with engine.begin() as conn:
            activity_id = conn.execute(insert, params).scalar_one()
            conn.execute(update, params)
        return jsonify({"id": activity_id}), 201

    return app


def run(env: BenchEnvironment, size: Size) -> Result:
    result = Result("bench_purchase_api", f"{size.purchases:,} purchases per side, spread over the tenant's "
                                          "customers; ms per request")
    with env.app.app_context():
        customer_ids = list(db.session.scalars(sa.text(
            "SELECT id FROM customers WHERE tenant_id = :t ORDER BY id LIMIT 5000"), {"t": env.tenant_id}))
        db.session.remove()
        engine = sa.create_engine(db.engine.url)
    ours_client = env.app.test_client()
    bare_client = make_bare_app(engine).test_client()
    customers = itertools.cycle(customer_ids)
    orders = itertools.count(1)

    def payload(prefix: str) -> dict:
        return {"customer_id": next(customers), "type": "purchase",
                "properties": {"order_id": f"{prefix}-{next(orders)}", "order_total": 61.5, "currency": "GBP",
                               "tickets": 2, "event": EVENT}}

    def ours(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            response = ours_client.post("/api/crm/activities", json=payload("BENCH"), headers=env.auth_headers)
            assert response.status_code == 201, response.get_data(as_text=True)
        return time.perf_counter() - started

    def bare(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            response = bare_client.post(f"/purchase/{env.tenant_id}", json=payload("BARE"))
            assert response.status_code == 201, response.get_data(as_text=True)
        return time.perf_counter() - started

    ours(10)
    bare(10)
    # Alternate rounds so drift (caches, checkpoints) hits both sides alike.
    per_round = -(-size.purchases // size.repeats)
    ours_total = bare_total = 0.0
    for _ in range(size.repeats):
        ours_total += ours(per_round)
        bare_total += bare(per_round)
    n = per_round * size.repeats
    engine.dispose()
    result.rows.append(Row("POST /api/crm/activities", n, ours_total / n * 1000, bare_total / n * 1000))
    return result
