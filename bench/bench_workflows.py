"""bench_workflows: what triggering costs a purchase, and how fast workers drain due enrollments.

1. Purchases: `POST /api/crm/activities` through the whole app with 50 active purchase
   workflows in the tenant (all matching, re-entry `always`, so every purchase enrolls the
   customer 50 times), against the same requests with the 50 workflows switched off, in
   alternating rounds of the same run. Printed as events/second for both and their ratio
   (goal: at least 0.5).
2. Drain: N enrollments due at once (a wait that ran out), enqueued by the periodic sweep
   and drained by K real `flask crm worker --burst` processes; the baseline is the least a
   drain can do, one bare UPDATE per batch marking them completed, in this process.
   Goal at 100,000 (medium): under 60 seconds.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from bench.harness import BenchEnvironment, Result, Row, Size
from webapp.extensions import db

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = 50
DRAIN = {"smoke": 3_000, "medium": 100_000, "large": 100_000}
WORKERS = 2
EVENT = {"id": "evt_2001", "name": "Bench Night Live", "starts_at": "2027-03-06T19:30:00+00:00"}


def make_workflows(env: BenchEnvironment, prefix: str = "Bench flow") -> list[int]:
    """50 purchase workflows (created off), a purchase of 49 or more matching them all,
    re-entry always, each opening with a one-day wait."""
    from webapp.services import workflows

    ids = []
    for n in range(WORKFLOWS):
        workflow = workflows.create_workflow(env.tenant_id, {
            "name": f"{prefix} {n}", "trigger_type": "purchase", "reentry": "always",
            "trigger_config": {"min_order_total": n}, "steps": [{"type": "wait", "config": {"days": 1}},
                                                                {"type": "add_tag", "config": {"tag": "bench"}}]})
        ids.append(workflow.id)
    return ids


def switch(env: BenchEnvironment, ids: list[int], active: bool) -> None:
    from webapp.services import workflows

    for workflow_id in ids:
        workflows.set_active(env.tenant_id, workflow_id, active)
    db.session.remove()


def run(env: BenchEnvironment, size: Size) -> Result:
    result = Result("bench_workflows", f"{size.purchases:,} purchases per side with {WORKFLOWS} matching workflows "
                                       f"on vs off; then {DRAIN[size.name]:,} due enrollments drained by "
                                       f"{WORKERS} workers")
    with env.app.app_context():
        customer_ids = list(db.session.scalars(sa.text(
            "SELECT id FROM customers WHERE tenant_id = :t ORDER BY id LIMIT 5000"), {"t": env.tenant_id}))
        ids = make_workflows(env)
        db.session.remove()
    client = env.app.test_client()
    customers = itertools.cycle(customer_ids)
    orders = itertools.count(1)

    def purchases(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            response = client.post("/api/crm/activities", headers=env.auth_headers, json={
                "customer_id": next(customers), "type": "purchase",
                "properties": {"order_id": f"WF-{next(orders)}", "order_total": 61.5, "currency": "GBP",
                               "tickets": 2, "event": EVENT}})
            assert response.status_code == 201, response.get_data(as_text=True)
        return time.perf_counter() - started

    per_round = -(-size.purchases // size.repeats)
    with env.app.app_context():
        switch(env, ids, True)
        purchases(10)
        switch(env, ids, False)
        purchases(10)
        on_total = off_total = 0.0
        for _ in range(size.repeats):
            switch(env, ids, True)
            on_total += purchases(per_round)
            switch(env, ids, False)
            off_total += purchases(per_round)
        enrolled = db.session.scalar(sa.text("SELECT count(*) FROM automation_enrollments"))
        db.session.remove()
    n = per_round * size.repeats
    assert enrolled >= n * WORKFLOWS, f"{enrolled} enrollments for {n} purchases with {WORKFLOWS} workflows on"
    on_rate, off_rate = n / on_total, n / off_total
    result.rows.append(Row("purchases/s, 50 workflows on vs off", n, on_rate, off_rate, unit="events/s",
                           higher_is_better=True))
    print(f"  purchases: {on_rate:,.0f}/s with {WORKFLOWS} active workflows, {off_rate:,.0f}/s with none: "
          f"throughput ratio {on_rate / off_rate:.2f} (goal >= 0.5)", flush=True)

    drained, baseline = _drain(env, DRAIN[size.name])
    result.rows.append(Row("drain due enrollments", DRAIN[size.name], drained, baseline, unit="s"))
    print(f"  drain: {DRAIN[size.name]:,} enrollments in {drained:.1f} s by {WORKERS} workers "
          f"(goal < 60 s at 100,000); bare UPDATEs {baseline:.2f} s", flush=True)
    return result


def _due_enrollments(env: BenchEnvironment, count: int, workflow_id: int, step_id: int) -> None:
    """`count` enrollments sitting on a one-minute wait that ran out a minute ago."""
    from webapp.infra.types import utcnow
    from webapp.models import AutomationEnrollment, AutomationStepExecution

    now = utcnow()
    customer_ids = list(db.session.scalars(sa.text("SELECT id FROM customers WHERE tenant_id = :t ORDER BY id"),
                                           {"t": env.tenant_id}))
    rows = [{"tenant_id": env.tenant_id, "workflow_id": workflow_id, "customer_id": customer_ids[i % len(customer_ids)],
             "status": "waiting", "current_step_id": step_id, "step_entered_at": now - timedelta(minutes=2),
             "next_run_at": now - timedelta(minutes=1), "trigger_type": "custom", "trigger_payload": {},
             "reentry_key": None, "attempts": 0, "enrolled_at": now - timedelta(minutes=2)} for i in range(count)]
    for start in range(0, count, 10_000):
        db.session.execute(sa.insert(AutomationEnrollment.__table__), rows[start:start + 10_000])
    db.session.execute(sa.insert(AutomationStepExecution.__table__).from_select(
        ["tenant_id", "enrollment_id", "step_id", "step_type", "started_at", "outcome", "detail"],
        sa.select(AutomationEnrollment.tenant_id, AutomationEnrollment.id, AutomationEnrollment.current_step_id,
                  sa.literal("wait"), AutomationEnrollment.step_entered_at, sa.literal("waiting"),
                  sa.literal("wait 1 minute")).where(AutomationEnrollment.workflow_id == workflow_id)))
    db.session.commit()


def _drain(env: BenchEnvironment, count: int) -> tuple[float, float]:
    from webapp.infra.queues import get_queue
    from webapp.services import workflows
    from webapp.tasks.workflows import enqueue_due_enrollments

    with env.app.app_context():
        for queue in ("default", "mail", "bulk"):
            get_queue(queue).empty()  # the purchase phase's jobs: not what is measured here
        db.session.execute(sa.text("UPDATE automation_enrollments SET status = 'exited' "
                                   "WHERE status IN ('active', 'waiting', 'held')"))
        db.session.commit()
        drain = workflows.create_workflow(env.tenant_id, {"name": "Drain", "trigger_type": "custom",
                                                          "reentry": "always",
                                                          "steps": [{"type": "wait", "config": {"minutes": 1}}]})
        drain_id = drain.id
        workflows.set_active(env.tenant_id, drain_id, True)
        get_queue("default").empty()
        step_id = workflows.steps_of(drain_id)[0].id
        _due_enrollments(env, count, drain_id, step_id)
        started = time.perf_counter()
        enqueued = enqueue_due_enrollments()
        assert enqueued == count, (enqueued, count)
        enqueue_seconds = time.perf_counter() - started
        db.session.remove()
    wall = enqueue_seconds + _run_workers(env)
    with env.app.app_context():
        done = db.session.scalar(sa.text("SELECT count(*) FROM automation_enrollments WHERE workflow_id = :w "
                                         "AND status = 'completed'"), {"w": drain_id})
        assert done == count, f"only {done} of {count} enrollments completed"
        # Baseline: the same number of rows, back to due, completed by bare batched UPDATEs.
        db.session.execute(sa.text("UPDATE automation_enrollments SET status = 'waiting' WHERE workflow_id = :w"),
                           {"w": drain_id})
        db.session.commit()
        ids = list(db.session.scalars(sa.text("SELECT id FROM automation_enrollments WHERE workflow_id = :w "
                                              "ORDER BY id"), {"w": drain_id}))
        started = time.perf_counter()
        for start in range(0, len(ids), 200):
            chunk = ids[start:start + 200]
            db.session.execute(sa.text("UPDATE automation_enrollments SET status = 'completed' "
                                       "WHERE id IN :ids").bindparams(sa.bindparam("ids", expanding=True)),
                               {"ids": chunk})
            db.session.commit()
        baseline = time.perf_counter() - started
        db.session.remove()
    return wall, baseline


def _run_workers(env: BenchEnvironment) -> float:
    environ = {**os.environ, "FLASK_APP": "wsgi", "DATABASE_URL": env.database_url,
               "REDIS_URL": env.app.config["REDIS_URL"], "MAIL_URL": "outbox", "SECRET_KEY": "bench-secret",
               "BASE_URL": env.app.config["BASE_URL"], "PYTHONUNBUFFERED": "1"}
    environ.pop("FLASK_DEBUG", None)
    with tempfile.TemporaryDirectory(prefix="crm-bench-wf-") as logs:
        files = [open(Path(logs) / f"worker-{k}.log", "w+b") for k in range(WORKERS)]  # noqa: SIM115
        started = time.perf_counter()
        workers = [subprocess.Popen([sys.executable, "-m", "flask", "crm", "worker", "--burst", "--no-scheduler"],
                                    cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT) for log in files]
        try:
            for process in workers:
                process.wait(600)
        finally:
            wall = time.perf_counter() - started
            for k, process in enumerate(workers):
                if process.poll() is None:
                    process.kill()
                    process.wait()
                if process.returncode:
                    files[k].seek(0)
                    print(files[k].read()[-3000:].decode(errors="replace"), file=sys.stderr)
            for log in files:
                log.close()
        if any(p.returncode for p in workers):
            raise RuntimeError("a workflow worker failed")
    return wall
