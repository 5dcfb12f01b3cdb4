"""The workflow engine: claims due enrollments and runs their steps.

A batch claims enrollments with one conditional UPDATE (claims.py), passes the waits that
ran out in bulk (expired_waits.py), then runs the rest one by one (runner.py), whose
step handlers are the step types' own (steps/). All times come from `now`, so tests move
the clock instead of sleeping.
"""

from __future__ import annotations

import random
import time
from datetime import datetime

from webapp.infra.types import utcnow
from webapp.services.workflows.claims import claim, due_enrollment_ids, lease, release_claims
from webapp.services.workflows.expired_waits import advance_expired_waits
from webapp.services.workflows.runner import Runner


def run_batch(ids: list[int], *, now: datetime | None = None, rng: random.Random | None = None) -> dict[str, int]:
    """Claim what is still due among `ids` and run each claimed enrollment's steps
    (`rng`: the splits' draws, seeded by tests; the system's randomness otherwise)."""
    live = now is None
    now = now or utcnow()
    token, claimed = claim(ids, now)
    counts = {"claimed": len(claimed), "steps": 0}
    if not claimed:
        return counts
    remaining = advance_expired_waits(token, claimed, now)
    runner = Runner(token, now, live=live, rng=rng)
    # Half the lease: a batch slowed down (the tenant's sending rate, slow webhooks) hands
    # back what it has not started, still due, before its claim could run out under it.
    hand_back_at = time.monotonic() + lease().total_seconds() / 2
    try:
        for index, enrollment_id in enumerate(remaining):
            if time.monotonic() >= hand_back_at:
                counts["handed_back"] = release_claims(token, remaining[index:])
                break
            counts["steps"] += runner.run(enrollment_id)
    finally:
        runner.close()
    return counts


def run_due(*, now: datetime | None = None, limit: int = 100_000, rng: random.Random | None = None
            ) -> dict[str, int]:
    """Everything due now, in this process (tests and the browser walkthrough use it)."""
    now = now or utcnow()
    ids = due_enrollment_ids(now, limit)
    totals = {"claimed": 0, "steps": 0}
    for start in range(0, len(ids), 500):
        result = run_batch(ids[start:start + 500], now=now, rng=rng)
        totals = {k: totals[k] + result[k] for k in totals}
    return totals
