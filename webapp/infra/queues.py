"""The Redis connection, the RQ queues, and the one way the domain hands work to the workers.

Jobs are named, not imported: `enqueue("delivery.start_campaign", 7)` queues
`webapp.tasks.delivery.start_campaign(7)` (microblog's `enqueue('app.tasks.' + name)`), so
nothing below the entry points imports `webapp.tasks`. Work that must only start once the
caller's transaction is durable is asked for with `after_commit(...)`: it is enqueued when
the session commits and forgotten when it rolls back.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Callback, Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import event
from sqlalchemy.orm import Session

from webapp.extensions import db

log = logging.getLogger(__name__)

# Queues in priority order: a worker drains earlier queues first.
QUEUE_NAMES = ("default", "mail", "bulk")
JOBS_PACKAGE = "webapp.tasks"
# Jobs that will still run: enqueueing the same work again would only duplicate them.
WAITING_JOB_STATES = {"queued", "scheduled", "deferred"}


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


def job_path(name: str) -> str:
    """`"delivery.deliver_batch"` -> `"webapp.tasks.delivery.deliver_batch"`."""
    return f"{JOBS_PACKAGE}.{name}"


def enqueue(name: str, *args: Any, queue: str = "default", at: datetime | None = None,
            on_failure: str | None = None, **options: Any) -> Job:
    """Queue the job `name` (a function of `webapp.tasks`, by its dotted name below it) with
    `args`; `at` in the future goes through RQ's scheduler. `options` are RQ's (job_id,
    job_timeout, result_ttl, failure_ttl); `on_failure` names a callback job the same way."""
    if on_failure is not None:
        options["on_failure"] = Callback(job_path(on_failure))
    target = get_queue(queue)
    if at is not None and at > datetime.now(UTC):
        return target.enqueue_at(at, job_path(name), *args, **options)
    # Due now: straight to the queue, without waiting for RQ's scheduler to move it.
    return target.enqueue(job_path(name), *args, **options)


def enqueue_chunks(name: str, items: list, *, chunk: int, **options: Any) -> None:
    """Queue `name` once per `chunk` items of `items` (each job takes its slice as one list)."""
    for start in range(0, len(items), chunk):
        enqueue(name, items[start:start + chunk], **options)


def job_status(job_id: str) -> str | None:
    try:
        return Job.fetch(job_id, connection=redis_connection()).get_status(refresh=False)
    except NoSuchJobError:
        return None


def enqueue_unique(name: str, *args: Any, job_id: str, queue: str, lease_seconds: float,
                   at: datetime | None = None, **options: Any) -> None:
    """Enqueue unless the same work is already waiting. A *started* job is either the
    caller itself (a batch scheduling its retry) or may belong to a worker killed with
    kill -9, which RQ notices only many minutes later: the work then goes under a second
    id, one per lease period (the jobs' own claims decide who does the work, so a
    duplicate costs a query)."""
    status = job_status(job_id)
    if status == "started":
        job_id = f"{job_id}-{int(time.time() // max(lease_seconds, 1))}"
        status = job_status(job_id)
    if status in WAITING_JOB_STATES:
        return
    enqueue(name, *args, queue=queue, at=at, job_id=job_id, **options)


# --- after commit -------------------------------------------------------------------------

@dataclass
class _Pending:
    name: str
    args: tuple
    options: dict[str, Any] = field(default_factory=dict)
    merge: bool = False


_SESSION_KEY = "crm_after_commit"


def after_commit(name: str, *args: Any, **options: Any) -> None:
    """Enqueue job `name` once the current transaction commits (nothing if it rolls back).
    Redis trouble then is logged, not raised: the transaction is already committed, and the
    periodic sweeps find work the database says is due."""
    db.session.info.setdefault(_SESSION_KEY, []).append(_Pending(name, args, options))


def after_commit_merged(name: str, items: list, *, chunk: int, **options: Any) -> None:
    """Like after_commit for a job taking one list: every list asked for in the transaction
    is joined, in the order asked, and goes to `name` in jobs of at most `chunk` items
    (several triggers in one unit of work hand their new enrollments over together)."""
    pending = db.session.info.setdefault(_SESSION_KEY, [])
    for entry in pending:
        if entry.merge and entry.name == name:
            entry.args[0].extend(items)
            return
    pending.append(_Pending(name, (list(items),), {**options, "chunk": chunk}, merge=True))


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    pending = session.info.pop(_SESSION_KEY, None)
    for entry in pending or ():
        try:
            if entry.merge:
                enqueue_chunks(entry.name, entry.args[0], **entry.options)
            else:
                enqueue(entry.name, *entry.args, **entry.options)
        except RedisError:
            log.exception("could not enqueue %s; the periodic sweep will pick the work up", entry.name)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_SESSION_KEY, None)
