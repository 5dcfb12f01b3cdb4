"""bench_tracking: the open pixel under load through gunicorn, vs a bare Flask GIF endpoint.

Ours: the real app (`wsgi:app`) served by gunicorn; every request checks the id's
signature, decrypts the token in it and spools the hit, which the process's shipper thread sends to the Redis
stream in batches. Baseline: bench/bare_pixel.py, a Flask app that answers the same GIF
and records nothing, served by gunicorn with the same workers and threads. A small
multi-process keep-alive HTTP/1.1 client on 127.0.0.1 drives each for the same fixed
time. Then the writer drains the stream, and the hits written must equal the requests
our server answered.
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from bench.harness import BenchEnvironment, Result, Row, Size, percentile
from bench.load_client import connect as _connect
from bench.load_client import drive as _drive
from webapp.extensions import db

NEEDS_SEED_DATA = False
ROOT = Path(__file__).resolve().parents[1]
DURATION_SECONDS = {"smoke": 3.0, "medium": 10.0, "large": 30.0}
RECIPIENTS = 500
GUNICORN = ["-w", "2", "-k", "gthread", "--threads", "4", "--keep-alive", "30"]
CLIENT_PROCESSES = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _load(port: int, paths: list[str], seconds: float) -> tuple[int, int, list[float]]:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    start_at = time.time() + 1.5  # every client starts together, after spawning
    procs = [context.Process(target=_drive, args=(port, paths, seconds, start_at, out))
             for _ in range(CLIENT_PROCESSES)]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=seconds + 60) for _ in procs]
    for proc in procs:
        proc.join(10)
    return (sum(r[0] for r in results), sum(r[1] for r in results), [x for r in results for x in r[2]])


def _serve(target: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", *GUNICORN, "-b", f"127.0.0.1:{port}", target],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while True:
        try:
            with _connect(port) as sock:
                sock.sendall(b"GET /api/crm/track/open/warmup HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return server
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not start: {server.stderr.read().decode()[-2000:]}")
        time.sleep(0.1)


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(5)


def _recipients(env: BenchEnvironment) -> list[str]:
    """A sent campaign with RECIPIENTS recipients (set-based inserts); their open-pixel paths."""
    from webapp.infra.types import utcnow
    from webapp.mail.tracking import open_id
    from webapp.models import CampaignRecipient, Customer, EmailCampaign

    now = utcnow()
    campaign = EmailCampaign(tenant_id=env.tenant_id, name="Bench opens", subject="Hi", html_content="<p>Hi</p>",
                             status="sent", started_at=now - timedelta(hours=1), recipients_count=RECIPIENTS,
                             sent_count=RECIPIENTS)
    db.session.add(campaign)
    db.session.flush()
    db.session.execute(sa.insert(Customer.__table__), [
        {"tenant_id": env.tenant_id, "email": f"open{i}@bench.example.com", "email_status": "subscribed",
         "total_spent": 0, "orders_count": 0, "attributes": {}, "timezone": None, "created_at": now, "updated_at": now}
        for i in range(RECIPIENTS)])
    customer_ids = db.session.scalars(sa.select(Customer.id).where(Customer.email.like("open%@bench.example.com"))
                                      .order_by(Customer.id)).all()
    tokens = [secrets.token_hex(16) for _ in customer_ids]
    db.session.execute(sa.insert(CampaignRecipient.__table__), [
        {"campaign_id": campaign.id, "tenant_id": env.tenant_id, "customer_id": cid, "email": f"open{i}@bench",
         "batch_no": 0, "status": "sent", "token": token, "attempts": 1, "sent_at": now - timedelta(hours=1)}
        for i, (cid, token) in enumerate(zip(customer_ids, tokens, strict=True))])
    db.session.commit()
    secret = env.app.config["SECRET_KEY"]
    return [f"/api/crm/track/open/{open_id(secret, token)}" for token in tokens]


def redis_connection_info(env: BenchEnvironment) -> dict:
    from webapp.infra.queues import redis_connection

    with env.app.app_context():
        return redis_connection().info("server")


def _cpu_seconds(pid: int, *, tree: bool = True) -> float:
    """User + system CPU of a process (and its children: the gunicorn workers)."""
    import psutil

    procs = [psutil.Process(pid)]
    if tree:
        procs += procs[0].children(recursive=True)
    return sum(p.cpu_times().user + p.cpu_times().system for p in procs)


def run(env: BenchEnvironment, size: Size) -> Result:
    from webapp.infra.queues import redis_connection
    from webapp.models import TrackingHit
    from webapp.services.tracking import STREAM, drain_hits

    seconds = DURATION_SECONDS.get(size.name, 10.0)
    with env.app.app_context():
        paths = _recipients(env)
    server_env = {**os.environ, "DATABASE_URL": env.database_url, "REDIS_URL": env.app.config["REDIS_URL"],
                  "SECRET_KEY": env.app.config["SECRET_KEY"], "BASE_URL": env.app.config["BASE_URL"],
                  # Every request comes from 127.0.0.1: the per-address limit stays on (its
                  # counting is part of the cost) but is set out of reach.
                  "RATELIMIT_PUBLIC": "1000000000 per minute",
                  # The server's spooled hits, where this process's writer looks for leftovers.
                  "TRACKING_SPOOL_DIR": env.app.config["TRACKING_SPOOL_DIR"],
                  "PYTHONPATH": str(ROOT)}
    server_env.pop("FLASK_DEBUG", None)

    measured, cpu, redis_cpu = {}, {}, {}
    redis_pid = int(redis_connection_info(env)["process_id"])
    for name, target in (("ours", "wsgi:app"), ("bare", "bench.bare_pixel:app")):
        port = _free_port()
        server = _serve(target, port, server_env)
        try:
            before, redis_before = _cpu_seconds(server.pid), _cpu_seconds(redis_pid, tree=False)
            measured[name] = _load(port, paths, seconds)
            redis_cpu[name] = _cpu_seconds(redis_pid, tree=False) - redis_before
            cpu[name] = _cpu_seconds(server.pid) - before + redis_cpu[name]
        finally:
            _stop(server)

    with env.app.app_context():
        redis = redis_connection()
        drain_started = time.perf_counter()
        drain_hits(reclaim_idle_ms=0)  # first of all ships what a server process left spooled
        while redis.xlen(STREAM):
            drain_hits(reclaim_idle_ms=0)
        drain_seconds = time.perf_counter() - drain_started
        recorded = db.session.scalar(sa.select(sa.func.count()).select_from(TrackingHit))
        db.session.commit()

    ours_ok, ours_failed, ours_lat = measured["ours"]
    bare_ok, bare_failed, bare_lat = measured["bare"]
    ours_rps, bare_rps = ours_ok / seconds, bare_ok / seconds
    result = Result("bench_tracking",
                    f"GET /api/crm/track/open/{{id}} via gunicorn ({' '.join(GUNICORN)}), {CLIENT_PROCESSES} "
                    f"keep-alive clients for {seconds:.0f} s each; baseline: bare Flask GIF endpoint, same gunicorn.\n"
                    f"throughput ours/bare = {ours_rps / bare_rps:.2f} (goal >= 0.7); "
                    f"p99 ours = {percentile(ours_lat, 99) * 1000:.1f} ms (goal < 50 ms); "
                    f"server CPU per request (gunicorn workers + Redis) ours/bare = "
                    f"{cpu['ours'] / max(ours_ok, 1) * 1e6:.0f}/{cpu['bare'] / max(bare_ok, 1) * 1e6:.0f} us "
                    f"(Redis {redis_cpu['ours'] / max(ours_ok, 1) * 1e6:.0f} us of ours); "
                    f"hits recorded {recorded:,} of {ours_ok:,} answered (must be equal; "
                    f"writer drained them in {drain_seconds:.1f} s); errors ours/bare = {ours_failed}/{bare_failed}")
    result.rows.append(Row("requests/s", ours_ok, ours_rps, bare_rps, unit="req/s", higher_is_better=True))
    result.rows.append(Row("p50 latency", len(ours_lat), percentile(ours_lat, 50) * 1000,
                           percentile(bare_lat, 50) * 1000, unit="ms"))
    result.rows.append(Row("p99 latency", len(ours_lat), percentile(ours_lat, 99) * 1000,
                           percentile(bare_lat, 99) * 1000, unit="ms"))
    result.rows.append(Row("server CPU per request", ours_ok, cpu["ours"] / max(ours_ok, 1) * 1e6,
                           cpu["bare"] / max(bare_ok, 1) * 1e6, unit="us"))
    result.rows.append(Row("hits recorded / answered", ours_ok, recorded, ours_ok, unit="hits"))
    if recorded != ours_ok or ours_failed:
        raise AssertionError(f"hits recorded {recorded} != answered {ours_ok} (errors {ours_failed}); "
                             f"{result.description}")
    return result
