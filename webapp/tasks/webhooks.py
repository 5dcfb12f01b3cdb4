"""Webhook jobs: deliver given deliveries, the periodic sweep that re-enqueues every delivery
the database says is due (retries coming due, jobs Redis lost), and the periodic pruning of
finished deliveries past their keeping time."""

from __future__ import annotations

from webapp.infra.queues import enqueue_unique
from webapp.infra.types import utcnow
from webapp.services import webhooks

CHUNK = 50


def deliver(delivery_ids: list[int]) -> int:
    """Attempt these deliveries (those still due and unclaimed); idempotent by claims."""
    return webhooks.deliver(delivery_ids)


def enqueue_due_deliveries() -> int:
    """Periodic: queue every due delivery, in chunks (a chunk still waiting is not queued twice)."""
    ids = webhooks.due_delivery_ids()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        enqueue_unique("webhooks.deliver", chunk, job_id=f"webhooks-deliver-{chunk[0]}", queue="default",
                       lease_seconds=300, job_timeout=600)
    return len(ids)


def prune_deliveries() -> int:
    """Periodic: finished deliveries older than WEBHOOK_KEEP_DAYS go, with their attempts."""
    return webhooks.prune_deliveries(utcnow())
