"""Periodic jobs, declared in one list with stable ids, and the loop that enqueues them.

Many workers may run the loop; a Redis key per job and period (SET NX with expiry) makes
sure each period's run is enqueued once across all of them. Jobs are idempotent anyway,
so a duplicate after a Redis restart only costs time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

from webapp.tasks.attendance import settle_ended_events
from webapp.tasks.counts import fold_kept_counts
from webapp.tasks.delivery import reconcile_campaigns
from webapp.tasks.imports import resume_lost_imports
from webapp.tasks.ingest import enqueue_due_followups
from webapp.tasks.segments import recalculate_time_relative_segments
from webapp.tasks.signup_forms import forget_unconfirmed_signups, send_unsent_confirmations
from webapp.tasks.tracking import write_tracking_hits
from webapp.tasks.waitlists import expire_waitlist_offers
from webapp.tasks.webhooks import enqueue_due_deliveries, prune_deliveries
from webapp.tasks.workflows import enqueue_due_enrollments, enroll_event_day, send_event_reminders

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    id: str
    func: Callable
    interval_seconds: int
    queue: str = "default"
    timeout: int = 600
    kwargs: dict = field(default_factory=dict)


def periodic_jobs() -> list[PeriodicJob]:
    """Every periodic job of the product, with stable ids (read inside the app context)."""
    return [
        PeriodicJob("segments-time-relative", recalculate_time_relative_segments,
                    interval_seconds=current_app.config["SEGMENT_RECALC_SECONDS"]),
        # The counts kept as deltas (segment reachable counts, workflow enrollment counts).
        PeriodicJob("kept-counts-fold", fold_kept_counts, queue="bulk",
                    interval_seconds=current_app.config["KEPT_COUNT_FOLD_SECONDS"]),
        # Starts scheduled campaigns (within this interval of their time) and re-enqueues
        # delivery work the database says is due.
        PeriodicJob("campaigns-reconcile", reconcile_campaigns, queue="mail",
                    interval_seconds=current_app.config["RECONCILE_SECONDS"]),
        # Opens and clicks wait in a Redis stream until this writes them in batches.
        PeriodicJob("tracking-write-hits", write_tracking_hits, timeout=120,
                    interval_seconds=current_app.config["TRACKING_WRITER_SECONDS"]),
        # Large batches' segments, enrollments and goals whose job Redis lost, or whose retry is due.
        PeriodicJob("ingest-followups", enqueue_due_followups, timeout=120,
                    interval_seconds=current_app.config["INGEST_FOLLOWUP_SWEEP_SECONDS"]),
        # Imports whose job Redis lost, or whose worker died, continue where they stopped.
        PeriodicJob("imports-resume", resume_lost_imports, queue="bulk",
                    interval_seconds=current_app.config["IMPORT_RESUME_SECONDS"]),
        # Workflow enrollments whose wait ran out, whose retry is due, or whose job was lost;
        # the sweeps queue behind campaign work (the runs they enqueue go to "default").
        PeriodicJob("workflows-due", enqueue_due_enrollments, queue="bulk",
                    interval_seconds=current_app.config["WORKFLOW_TICK_SECONDS"]),
        PeriodicJob("workflows-event-day", enroll_event_day, queue="bulk",
                    interval_seconds=current_app.config["WORKFLOW_EVENT_DAY_SECONDS"]),
        # Events past their end (plus the grace for late scans): no-shows written, event_ended fired.
        PeriodicJob("events-settle-attendance", settle_ended_events, queue="bulk",
                    interval_seconds=current_app.config["EVENT_SETTLE_SECONDS"]),
        PeriodicJob("events-reminders", send_event_reminders, queue="bulk",
                    interval_seconds=current_app.config["EVENT_REMINDER_SECONDS"]),
        # Waitlist offers that ran out pass to the next in line (an indexed probe when none did).
        PeriodicJob("waitlist-offers-expire", expire_waitlist_offers, queue="bulk",
                    interval_seconds=current_app.config["WAITLIST_SWEEP_SECONDS"]),
        # Webhook deliveries whose retry came due, or whose job Redis lost.
        PeriodicJob("webhooks-due", enqueue_due_deliveries, timeout=120,
                    interval_seconds=current_app.config["WEBHOOK_SWEEP_SECONDS"]),
        # Finished deliveries past WEBHOOK_KEEP_DAYS go, a batch per transaction.
        PeriodicJob("webhooks-prune", prune_deliveries, queue="bulk",
                    interval_seconds=current_app.config["WEBHOOK_PRUNE_SECONDS"]),
        # Signup confirmation emails whose job Redis lost.
        PeriodicJob("signup-confirmations", send_unsent_confirmations, queue="mail", timeout=300,
                    interval_seconds=current_app.config["SIGNUP_SWEEP_SECONDS"]),
        # Signups never confirmed: what they hold was never consented to, so it is not kept.
        PeriodicJob("signup-forget-unconfirmed", forget_unconfirmed_signups, queue="bulk",
                    interval_seconds=current_app.config["SIGNUP_FORGET_SECONDS"]),
    ]


def enqueue_due(redis: Redis, jobs: list[PeriodicJob], now: float | None = None) -> list[str]:
    """Enqueue each job whose current period has not been claimed yet; returns their ids."""
    now = time.time() if now is None else now
    enqueued = []
    for job in jobs:
        period = int(now // job.interval_seconds)
        key = f"crm:periodic:{job.id}:{period}"
        if redis.set(key, "1", nx=True, ex=job.interval_seconds * 2):
            Queue(job.queue, connection=redis).enqueue(
                job.func, kwargs=job.kwargs, job_timeout=job.timeout,
                job_id=f"periodic-{job.id}-{period}", result_ttl=3600)
            enqueued.append(job.id)
    return enqueued


def run_scheduler_loop(redis_url: str, app_factory: Callable, tick_seconds: float = 5.0) -> None:
    """Child process of `flask crm worker`: enqueue due periodic jobs until terminated."""
    app = app_factory()
    redis = Redis.from_url(redis_url)
    try:
        with app.app_context():
            while True:
                try:
                    for job_id in enqueue_due(redis, periodic_jobs()):
                        log.info("enqueued periodic job %s", job_id)
                except RedisError:  # a Redis blip must not kill the scheduler; it tries again
                    log.exception("periodic scheduler tick failed")
                time.sleep(tick_seconds)
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; stop quietly
        return
