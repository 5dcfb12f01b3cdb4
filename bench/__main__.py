"""`python -m bench --size smoke|medium|large|xl [--only NAME ...]`."""

from __future__ import annotations

import argparse
import sys
import time

from bench import (
    bench_batch,
    bench_import,
    bench_pages,
    bench_purchase_api,
    bench_seed,
    bench_segments,
    bench_send,
    bench_send_design,
    bench_timeline,
    bench_tracking,
    bench_workflows,
)
from bench.harness import SIZES, BenchEnvironment, Result, print_table

# bench_seed runs first: the tenant it fills is the data the others run on.
BENCHMARKS = {"seed": bench_seed, "timeline": bench_timeline, "purchase_api": bench_purchase_api,
              "batch": bench_batch,
              "segments": bench_segments, "send": bench_send, "send_design": bench_send_design,
              "tracking": bench_tracking,
              "import": bench_import, "workflows": bench_workflows, "pages": bench_pages}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--size", choices=list(SIZES), default="medium")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these benchmarks")
    args = parser.parse_args(argv)
    size = SIZES[args.size]
    chosen = args.only or list(BENCHMARKS)

    started = time.perf_counter()
    env = BenchEnvironment()
    print(f"bench: size={size.name}, database={env.backend} "
          f"({'BENCH_DATABASE_URL' if env.server_url else 'temporary SQLite file'}), starting...", flush=True)
    results: list[Result] = []
    try:
        env.start()
        # bench_send makes its own customers: `--only send` skips the demo data.
        if "seed" not in chosen and any(getattr(BENCHMARKS[name], "NEEDS_SEED_DATA", True) for name in chosen):
            _prepare(env, size.seed_customers)
        for name in chosen:
            began = time.perf_counter()
            result = BENCHMARKS[name].run(env, size)
            print_table(result, env.backend, size.name)
            print(f"({name} took {time.perf_counter() - began:.1f} s)")
            sys.stdout.flush()
            results.append(result)
    finally:
        env.stop()
    ratios = ", ".join(f"{result.name.removeprefix('bench_')}: {row.what} {row.ratio:.2f}x"
                       for result in results for row in result.rows)
    print(f"\nSUMMARY {env.backend} {size.name} ({time.perf_counter() - started:.0f} s; "
          f"ratio = our time / baseline time, lower is better): {ratios}")
    return 0


def _prepare(env: BenchEnvironment, customers: int) -> None:
    """The tenant's customers, when bench_seed is not run to make them."""
    from webapp.services.demo import seed_demo

    with env.app.app_context():
        seed_demo(customers, tenant_id=env.tenant_id)


if __name__ == "__main__":
    sys.exit(main())
