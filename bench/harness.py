"""What every benchmark shares: sizes, a throwaway database and Redis, the app, timing, tables.

A benchmark compares our code path with a baseline measured in the same run on the
same database, and reports the ratio of their times (ours / baseline: 1.0 means no
overhead, lower is better). Absolute numbers depend on the machine; ratios much less.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask


@dataclass(frozen=True)
class Size:
    name: str
    seed_customers: int  # customers seed_demo makes (bench_seed, and the data the others run on)
    timeline_activities: int  # activities of the one customer whose timeline is paged
    timeline_pages: int  # pages fetched per repeat, 50 activities each
    purchases: int  # purchase requests per side
    repeats: int  # timings are the best (timeline) or sum (purchases) of this many rounds
    send_recipients: int  # campaign recipients bench_send delivers (and the bare loop sends)
    import_rows: int  # rows of the CSV file bench_import imports (twice: new, then updates)
    page_requests: int  # GETs of each page bench_pages times (p50, p99)


SIZES = {
    "smoke": Size("smoke", seed_customers=1_000, timeline_activities=2_000, timeline_pages=40,
                  purchases=100, repeats=3, send_recipients=300, import_rows=5_000, page_requests=20),
    "medium": Size("medium", seed_customers=50_000, timeline_activities=50_000, timeline_pages=400,
                   purchases=1_000, repeats=5, send_recipients=10_000, import_rows=100_000, page_requests=100),
    "large": Size("large", seed_customers=1_000_000, timeline_activities=200_000, timeline_pages=1_000,
                  purchases=5_000, repeats=5, send_recipients=100_000, import_rows=500_000, page_requests=200),
    # The scale the product is sized for: a million customers with ten million activities
    # (seed_demo writes about ten per customer), and a customer with a million of their own.
    "xl": Size("xl", seed_customers=1_000_000, timeline_activities=1_000_000, timeline_pages=1_000,
               purchases=5_000, repeats=3, send_recipients=100_000, import_rows=1_000_000, page_requests=200),
}


@dataclass
class Row:
    """One line of a benchmark's table: per-operation times of ours and the baseline."""

    what: str
    n: int
    ours: float
    baseline: float
    unit: str = "ms/op"
    # For throughputs (rows/s) a bigger number is better, so the time ratio is inverted.
    higher_is_better: bool = False

    @property
    def ratio(self) -> float:
        if self.higher_is_better:
            return self.baseline / self.ours if self.ours else float("inf")
        return self.ours / self.baseline if self.baseline else float("inf")


@dataclass
class Result:
    name: str
    description: str
    rows: list[Row] = field(default_factory=list)


def print_table(result: Result, backend: str, size: str) -> None:
    print(f"\n== {result.name} ({backend}, {size}) ==")
    print(result.description)
    headers = ("what", "n", "ours", "baseline", "unit", "ratio")
    lines = [(r.what, f"{r.n:,}", _num(r.ours), _num(r.baseline), r.unit, f"{r.ratio:.2f}x")
             for r in result.rows]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]
    for line in (headers, *lines):
        # Text columns (what, unit) to the left, numbers to the right.
        print("  ".join(cell.ljust(w) if i in (0, 4) else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(line, widths, strict=True))))


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 1000 else f"{value:.3f}"


def best_of(repeats: int, run: Callable[[], Any]) -> float:
    """The fastest of `repeats` runs, in seconds: the least disturbed by the machine."""
    return min(_timed(run) for _ in range(repeats))


def _timed(run: Callable[[], Any]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


class BenchEnvironment:
    """A fresh database (SQLite file, or a throwaway PostgreSQL database when
    BENCH_DATABASE_URL is set), a private Redis, the migrated app and one tenant."""

    def __init__(self) -> None:
        self.server_url = os.environ.get("BENCH_DATABASE_URL")
        self._postgres = None
        self._folder: str | None = None
        self._redis = None
        self.app: Flask | None = None
        self.database_url = ""
        self.tenant_id = 0
        self.token = ""

    @property
    def backend(self) -> str:
        return "postgresql" if self.server_url else "sqlite"

    def start(self) -> BenchEnvironment:
        from flask_migrate import upgrade

        from webapp import create_app
        from webapp.testing import PrivateRedis, ThrowawayPostgres

        if self.server_url:
            self._postgres = ThrowawayPostgres(self.server_url).create()
            self.database_url = self._postgres.url
        else:
            self._folder = tempfile.mkdtemp(prefix="crm-bench-")
            self.database_url = f"sqlite:///{self._folder}/bench.sqlite3"
        self._redis = PrivateRedis().start()
        self.app = create_app({
            "TESTING": True,
            "SECRET_KEY": "bench-secret",
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "REDIS_URL": self._redis.url,
            "BASE_URL": "http://crm.bench",
            # Benchmarks send thousands of requests; a rate limit would measure itself.
            "RATELIMIT_ENABLED": False,
        })
        with self.app.app_context():
            # Alembic logs every migration at INFO to stderr; the tables are what matter here.
            with contextlib.redirect_stderr(io.StringIO()):
                upgrade()
            from webapp.services.tenants import create_tenant

            tenant, _, self.token = create_tenant("Bench Arena", "owner@bench.example.com",
                                                  "bench-password-1")
            self.tenant_id = tenant.id
        return self

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def stop(self) -> None:
        if self.app is not None:
            with self.app.app_context():
                from webapp.extensions import db

                db.engine.dispose()
        if self._redis is not None:
            self._redis.stop()
        if self._postgres is not None:
            self._postgres.drop()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)


def percentile(values: list[float], q: int) -> float:
    """The q-th percentile (1-99) of `values`, in the values' unit; 0 with fewer than two."""
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else 0.0
