"""bench_send_design: bench_send with the campaign built by the email builder (a design
compiled once through MJML) instead of hand-written HTML: sending must not get slower."""

from __future__ import annotations

from bench import bench_send
from bench.harness import BenchEnvironment, Result, Size

NEEDS_SEED_DATA = False


def run(env: BenchEnvironment, size: Size) -> Result:
    return bench_send.run(env, size, design=True)
