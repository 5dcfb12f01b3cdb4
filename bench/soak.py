"""Soak test (not CI): N minutes of mixed traffic against gunicorn on 127.0.0.1, with a
campaign sending at the same time, then a check that every write is in the database
exactly once.

    python -m bench.soak --minutes 5 [--web-workers 4] [--clients 8]
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python -m bench.soak ...

Traffic, each kind from its own client threads over keep-alive connections:
- `POST /api/crm/customers` (new customers, unique emails),
- `POST /api/crm/activities` purchases (unique order ids; a tenth are sent twice, as a
  retrying platform would: the second must change nothing),
- `GET /api/crm/customers/{id}/timeline` of customers with purchases,
- `GET /api/crm/track/open/{id}` and `/track/click/{id}` for recipients of the campaign,
and meanwhile two `flask crm worker` processes deliver the campaign into an SMTP sink and
write tracking hits. The report gives per-endpoint requests, req/s, p50/p99 and errors
(any 4xx/5xx or connection error counts; there must be none), then the checks:
customers, purchases (each order once, aggregates equal to the sums), the campaign sent
exactly once per recipient (database and sink agree) and tracking hits recorded = answered.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

from sqlalchemy import func, select

from bench.bench_send import _prepare_campaign
from bench.harness import BenchEnvironment, percentile
from bench.send_processes import Sink
from webapp.extensions import db
from webapp.testing import free_port

ROOT = Path(__file__).resolve().parent.parent
EVENT = {"id": "evt_soak", "name": "Soak Night", "starts_at": "2027-05-01T19:30:00+00:00", "venue": "Arena"}


class Stats:
    """Latencies and failures per endpoint name, shared by the client threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)

    def add(self, name: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.latencies[name].append(seconds)
            if error:
                self.errors[name].append(error)


class Client:
    """One keep-alive HTTP connection; reconnects when the server closes it."""

    def __init__(self, port: int, token: str, stats: Stats) -> None:
        self.port, self.stats = port, stats
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, name: str, method: str, path: str, body: dict | None = None, ok=(200, 201)) -> tuple[int, bytes]:
        payload = json.dumps(body).encode() if body is not None else None
        started = time.perf_counter()
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=payload, headers=self.headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (ConnectionError, http.client.HTTPException, TimeoutError) as exc:
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 2:
                    self.stats.add(name, time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
                    return 0, b""
        status = response.status
        error = None if status in ok else f"{status} {data[:200]!r}"
        self.stats.add(name, time.perf_counter() - started, error)
        return status, data


class Traffic:
    """The client threads and what they wrote (to check against the database afterwards)."""

    def __init__(self, port: int, token: str, customer_ids: list[int], open_ids: list[str],
                 click_ids: list[str]) -> None:
        self.port, self.token = port, token
        self.stats = Stats()
        self.stop = threading.Event()
        self.customer_ids = customer_ids
        self.open_ids, self.click_ids = open_ids, click_ids
        self.lock = threading.Lock()
        self.created_emails: list[str] = []
        self.orders: dict[str, tuple[int, float]] = {}  # order id -> (customer id, total)
        self.tracking_answered = 0
        self.counter = itertools.count(1)

    def _customers(self, client: Client) -> None:
        while not self.stop.is_set():
            n = next(self.counter)
            email = f"soak{n:07d}@soak.example.com"
            status, _ = client.call("POST /customers", "POST", "/api/crm/customers",
                                    {"email": email, "first_name": f"Soak {n}", "tags": ["soak"]})
            if status in (200, 201):
                with self.lock:
                    self.created_emails.append(email)

    def _purchases(self, client: Client) -> None:
        rng = random.Random(threading.get_ident())
        while not self.stop.is_set():
            n = next(self.counter)
            customer_id = rng.choice(self.customer_ids)
            total = round(rng.uniform(10, 300), 2)
            order_id = f"soak-order-{n}"
            body = {"customer_id": customer_id, "type": "purchase", "idempotency_key": order_id,
                    "properties": {"order_id": order_id, "order_total": total, "event": EVENT, "tickets": 2}}
            status, _ = client.call("POST /activities purchase", "POST", "/api/crm/activities", body)
            if status in (200, 201):
                with self.lock:
                    self.orders[order_id] = (customer_id, total)
                if n % 10 == 0:  # the platform retries: nothing may change twice
                    client.call("POST /activities retry", "POST", "/api/crm/activities", body)

    def _timelines(self, client: Client) -> None:
        rng = random.Random(threading.get_ident())
        while not self.stop.is_set():
            client.call("GET /customers/{id}/timeline", "GET",
                        f"/api/crm/customers/{rng.choice(self.customer_ids)}/timeline?limit=50")

    def _tracking(self, client: Client) -> None:
        rng = random.Random(threading.get_ident())
        client.headers = {"User-Agent": "Mozilla/5.0 (Macintosh) soak"}
        while not self.stop.is_set():
            if self.click_ids and rng.random() < 0.3:
                status, _ = client.call("GET /track/click/{id}", "GET",
                                        f"/api/crm/track/click/{rng.choice(self.click_ids)}", ok=(302,))
            else:
                status, _ = client.call("GET /track/open/{id}", "GET",
                                        f"/api/crm/track/open/{rng.choice(self.open_ids)}", ok=(200,))
            if status in (200, 302):
                with self.lock:
                    self.tracking_answered += 1

    def run(self, seconds: float, clients: int) -> float:
        kinds = [self._customers, self._purchases, self._timelines, self._tracking]
        threads = [threading.Thread(target=kinds[i % len(kinds)], args=(Client(self.port, self.token, self.stats),),
                                    daemon=True) for i in range(max(clients, len(kinds)))]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        self.stop.set()
        for thread in threads:
            thread.join(60)
        return time.perf_counter() - started


def _tracking_ids(env: BenchEnvironment, campaign_id: int) -> tuple[list[str], list[str]]:
    """Open and click ids of the campaign's sent messages, as they appear in the mail."""
    from webapp.mail.tracking import click_id, open_id
    from webapp.models import CampaignLink, CampaignRecipient
    from webapp.services.tracking.delivery import _secret

    with env.app.app_context():
        tokens = list(db.session.scalars(select(CampaignRecipient.token).where(
            CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.status == "sent").limit(5000)))
        links = list(db.session.scalars(select(CampaignLink.id).where(CampaignLink.campaign_id == campaign_id)))
        secret = _secret()
        opens = [open_id(secret, token) for token in tokens]
        clicks = [click_id(secret, token, link, len(links)) for token in tokens[:1000] for link in links]
        db.session.remove()
    return opens, clicks


def _wait(what: str, condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--customers", type=int, default=5_000)
    args = parser.parse_args(argv)

    env = BenchEnvironment().start()
    processes: list[subprocess.Popen] = []
    try:
        with env.app.app_context(), Sink() as sink:
            env.app.config["MAIL_URL"] = f"smtp://127.0.0.1:{sink.port}"
            campaign_id = _prepare_campaign(env, args.customers)
            from webapp.models import Customer

            before = {row.id: (row.total_spent, row.orders_count) for row in db.session.execute(
                select(Customer.id, Customer.total_spent, Customer.orders_count)
                .where(Customer.tenant_id == env.tenant_id))}
            customer_ids = list(before)
            db.session.remove()
            port = free_port()
            environ = {**os.environ, "FLASK_APP": "wsgi", "DATABASE_URL": env.database_url,
                       "REDIS_URL": env.app.config["REDIS_URL"], "MAIL_URL": f"smtp://127.0.0.1:{sink.port}",
                       "SECRET_KEY": "bench-secret", "BASE_URL": env.app.config["BASE_URL"],
                       "RATELIMIT_DISABLED": "1", "RECONCILE_SECONDS": "5", "PYTHONUNBUFFERED": "1",
                       "TRACKING_SPOOL_DIR": env.app.config["TRACKING_SPOOL_DIR"]}
            environ.pop("FLASK_DEBUG", None)
            logs = tempfile.NamedTemporaryFile("w+", prefix="crm-soak-", suffix=".log", delete=False)  # noqa: SIM115
            print(f"soak: server and worker output in {logs.name}", flush=True)
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-w", str(args.web_workers), "-b", f"127.0.0.1:{port}",
                 "--keep-alive", "30", "wsgi:app"], cwd=ROOT, env=environ, stdout=logs, stderr=subprocess.STDOUT))
            for _ in range(2):
                processes.append(subprocess.Popen([sys.executable, "-m", "flask", "crm", "worker"], cwd=ROOT,
                                                  env=environ, stdout=logs, stderr=subprocess.STDOUT))
            probe = Client(port, env.token, Stats())
            _wait("gunicorn", lambda: probe.call("probe", "GET", "/api/crm/customers?limit=1")[0] == 200, 60)
            status, _ = probe.call("send", "POST", f"/api/crm/campaigns/{campaign_id}/send", {}, ok=(202,))
            if status != 202:
                raise RuntimeError(f"the campaign did not start: {status}")

            from webapp.models import CampaignRecipient, EmailCampaign

            def sent_count() -> int:
                with env.app.app_context():
                    try:
                        return db.session.scalar(select(func.count()).where(
                            CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.status == "sent"))
                    finally:
                        db.session.remove()

            _wait("the first messages", lambda: sent_count() >= 200, 120)
            open_ids, click_ids = _tracking_ids(env, campaign_id)
            traffic = Traffic(port, env.token, customer_ids, open_ids, click_ids)
            print(f"soak: {args.minutes:g} min against gunicorn -w {args.web_workers} on {env.backend}, "
                  f"{args.clients} client threads, campaign to {args.customers:,} sending...", flush=True)
            elapsed = traffic.run(args.minutes * 60, args.clients)

            def campaign_done() -> bool:
                with env.app.app_context():
                    try:
                        return db.session.get(EmailCampaign, campaign_id).status == "sent"
                    finally:
                        db.session.remove()

            _wait("the campaign to finish", campaign_done, 600)
            failures = _report(env, traffic, elapsed, campaign_id, sink, args.customers, before)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        env.stop()
    return 1 if failures else 0


def _report(env: BenchEnvironment, traffic: Traffic, elapsed: float, campaign_id: int, sink: Sink,
            recipients: int, before: dict[int, tuple]) -> list[str]:
    from webapp.models import CampaignRecipient, Customer, CustomerActivity

    print(f"\n{'endpoint':34} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    failures: list[str] = []
    for name, values in sorted(traffic.stats.latencies.items()):
        errors = traffic.stats.errors.get(name, [])
        print(f"{name:34} {len(values):9,} {len(values) / elapsed:8.1f} {percentile(values, 50) * 1000:8.1f} "
              f"{percentile(values, 99) * 1000:8.1f} {len(errors):7}")
        if errors:
            failures.append(f"{name}: {len(errors)} errors, e.g. {errors[0]}")
    with env.app.app_context():
        created = db.session.scalar(select(func.count()).where(
            Customer.tenant_id == env.tenant_id, Customer.email.like("soak%@soak.example.com")))
        purchases = dict(db.session.execute(
            select(CustomerActivity.order_id, func.count()).where(
                CustomerActivity.tenant_id == env.tenant_id, CustomerActivity.order_id.like("soak-order-%"))
            .group_by(CustomerActivity.order_id)).all())
        sent = db.session.scalar(select(func.count()).where(CampaignRecipient.campaign_id == campaign_id,
                                                            CampaignRecipient.status == "sent"))
        after = {row.id: (row.total_spent, row.orders_count) for row in db.session.execute(
            select(Customer.id, Customer.total_spent, Customer.orders_count).where(Customer.id.in_(list(before))))}
        hits = _recorded_hits(env)
        db.session.remove()
    expected_moves: dict[int, list] = defaultdict(lambda: [0, 0])
    for customer_id, total in traffic.orders.values():
        expected_moves[customer_id][0] += round(total * 100)
        expected_moves[customer_id][1] += 1
    wrong_aggregates = sum(
        1 for customer_id, (spent, orders) in after.items()
        if [round((spent - before[customer_id][0]) * 100), orders - before[customer_id][1]]
        != expected_moves.get(customer_id, [0, 0]))
    checks = [
        ("customers created", created, len(traffic.created_emails)),
        ("purchase orders stored", len(purchases), len(traffic.orders)),
        ("orders stored more than once", sum(1 for c in purchases.values() if c > 1), 0),
        ("customers whose totals moved wrongly", wrong_aggregates, 0),
        ("campaign messages sent (database)", sent, recipients),
        ("campaign messages received (sink)", sink.window().total_recipients, recipients),
    ]
    checks.append(("tracking hits recorded", hits, traffic.tracking_answered))
    print()
    for what, got, expected in checks:
        print(f"{what:40} {got:>10,} expected {expected:>10,}  {'ok' if got == expected else 'MISMATCH'}")
        if got != expected:
            failures.append(f"{what}: {got} != {expected}")
    print("\nSOAK " + ("PASSED" if not failures else "FAILED:\n  " + "\n  ".join(failures)))
    return failures


def _recorded_hits(env: BenchEnvironment) -> int:
    """Hits the tracking writer stored, after draining what is still queued."""
    from webapp.models import TrackingHit
    from webapp.services.tracking import drain_hits

    deadline = time.monotonic() + 120
    while drain_hits(max_seconds=30)["read"] and time.monotonic() < deadline:
        pass
    return db.session.scalar(select(func.count()).select_from(TrackingHit))


if __name__ == "__main__":
    sys.exit(main())
