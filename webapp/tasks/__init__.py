"""RQ plumbing: the Redis connection, queues, and the enqueue helper services use."""

from __future__ import annotations

from flask import current_app
from redis import Redis
from rq import Queue

# Queues in priority order: a worker drains earlier queues first.
QUEUE_NAMES = ("default", "mail", "bulk")


def redis_connection() -> Redis:
    """The app's Redis, created once per app (RQ shares it between queues)."""
    conn = current_app.extensions.get("crm_redis")
    if conn is None:
        conn = Redis.from_url(current_app.config["REDIS_URL"])
        current_app.extensions["crm_redis"] = conn
    return conn


def get_queue(name: str = "default") -> Queue:
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=redis_connection())
