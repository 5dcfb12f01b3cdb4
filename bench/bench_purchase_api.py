"""bench_purchase_api: recording a purchase through the whole app vs a bare Flask endpoint.

Ours: `POST /api/crm/activities` with a bearer token, through the real app (token check,
schema validation, idempotency lookup, the activity row, the aggregates UPDATE, segment
refresh, the event link and its line item). A second run sends the same purchase with two
line items (ticket types, tiers, seats), and a third row sets it against the plain purchase:
issue 18 wants it within 10%. A fourth row runs the plain purchase with every buyer enrolled in a
workflow that has a goal and exit conditions (issue 19: checked on every change, never met
here, so each purchase pays the lookup and the EXISTS), set against the same workflow without
them, in alternate rounds. Baseline: a tiny Flask app defined
here that parses the same JSON and runs the same INSERT and UPDATE as literal SQL on the
same database, with no checks at all. Both are driven by Flask's test client, so HTTP
handling costs the same on each side.
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
from webapp.services import workflows

# Never met, so every purchase checks it: the worst case of the real-time goal check.
GOAL_WORKFLOW = {"name": "Bench goal", "trigger_type": "custom",
                 "goal": {"conditions": [{"type": "tag", "value": "bench-never"}], "within_days": 30},
                 "exit_conditions": {"conditions": [{"type": "tag", "value": "bench-never-exit"}]},
                 "steps": [{"type": "wait", "config": {"days": 30}}]}

EVENT = {"id": "evt_2001", "name": "Bench Night Live", "starts_at": "2027-03-06T19:30:00+00:00",
         "venue": "Riverside Arena"}
# A purchase as the platform sends it with line items (issue 18): two ticket types, seats, the
# event; the same order total as the plain purchase.
ITEMS = [{"ticket_type": "Seated", "tier": "Early bird", "section": "Block A", "seat": "F12-F13", "quantity": 2,
          "price": 27.5},
         {"ticket_type": "Standing", "tier": "Standard", "quantity": 1, "price": 6.5}]


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

    def payload(prefix: str, items: bool = False) -> dict:
        properties = {"order_id": f"{prefix}-{next(orders)}", "order_total": 61.5, "currency": "GBP",
                      "tickets": 2, "event": EVENT}
        if items:
            properties["items"] = ITEMS
        return {"customer_id": next(customers), "type": "purchase", "properties": properties}

    def ours(n: int, items: bool = False) -> float:
        prefix = "BENCH-ITEMS" if items else "BENCH"
        started = time.perf_counter()
        for _ in range(n):
            response = ours_client.post("/api/crm/activities", json=payload(prefix, items), headers=env.auth_headers)
            assert response.status_code == 201, response.get_data(as_text=True)
        return time.perf_counter() - started

    def bare(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            response = bare_client.post(f"/purchase/{env.tenant_id}", json=payload("BARE"))
            assert response.status_code == 201, response.get_data(as_text=True)
        return time.perf_counter() - started

    ours(10)
    ours(10, items=True)
    bare(10)
    # Alternate rounds so drift (caches, checkpoints) hits every side alike.
    per_round = -(-size.purchases // size.repeats)
    ours_total = items_total = bare_total = 0.0
    for _ in range(size.repeats):
        ours_total += ours(per_round)
        items_total += ours(per_round, items=True)
        bare_total += bare(per_round)
    n = per_round * size.repeats
    with env.app.app_context():
        flow_id = workflows.create_workflow(env.tenant_id, GOAL_WORKFLOW).id
        workflows.set_active(env.tenant_id, flow_id, True)
        for start in range(0, len(customer_ids), 1000):
            workflows.enroll_customers(env.tenant_id, flow_id, customer_ids[start:start + 1000])
        db.session.remove()

    def criteria(on: bool) -> None:
        """The same workflow and enrollments with and without its goal and exit conditions."""
        with env.app.app_context():
            workflows.update_workflow(env.tenant_id, flow_id, {
                "goal": GOAL_WORKFLOW["goal"] if on else None,
                "exit_conditions": GOAL_WORKFLOW["exit_conditions"] if on else None})
            db.session.remove()

    goal_total = plain_again = 0.0
    for _ in range(size.repeats):
        criteria(True)
        ours(2)
        goal_total += ours(per_round)
        criteria(False)
        ours(2)
        plain_again += ours(per_round)
    with env.app.app_context():
        workflows.delete_workflow(env.tenant_id, flow_id, force=True)
        db.session.remove()
    engine.dispose()
    plain_ms, items_ms, bare_ms = (total / n * 1000 for total in (ours_total, items_total, bare_total))
    result.rows.append(Row("POST /api/crm/activities", n, plain_ms, bare_ms))
    result.rows.append(Row("POST /api/crm/activities, event + 2 line items", n, items_ms, bare_ms))
    # Issue 18's goal, read off directly: a purchase with line items within 10% of a plain one.
    result.rows.append(Row("2 line items vs plain purchase (goal <= 1.10x)", n, items_ms, plain_ms))
    goal_ms, again_ms = goal_total / n * 1000, plain_again / n * 1000
    result.rows.append(Row("buyer in a workflow with goal + exit conditions vs without them", n, goal_ms, again_ms))
    return result
