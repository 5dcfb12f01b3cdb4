"""Starting RQ workers from `flask crm worker`."""

from __future__ import annotations

import multiprocessing

from flask import Flask
from rq import Worker

from webapp.tasks import QUEUE_NAMES, redis_connection
from webapp.tasks.schedule import enqueue_due, periodic_jobs, run_scheduler_loop


class AppWorker(Worker):
    """Runs every job inside the Flask app context (jobs use db and config)."""

    flask_app: Flask | None = None

    def main_work_horse(self, job, queue):
        # The horse is a fork of this process. Sharing the parent's pooled database
        # connections would corrupt them for both (psycopg's prepared statements, SQLite's
        # file locks), so the horse forgets them, without closing, and opens its own.
        from webapp.extensions import db

        assert self.flask_app is not None
        with self.flask_app.app_context():
            db.engine.dispose(close=False)
        return super().main_work_horse(job, queue)

    def perform_job(self, job, queue):
        assert self.flask_app is not None
        with self.flask_app.app_context():
            return super().perform_job(job, queue)


def run_worker(app: Flask, *, burst: bool = False, with_scheduler: bool = True) -> bool:
    """Work all queues. With the scheduler, RQ's own scheduler (enqueue_at jobs) runs and
    a child process enqueues periodic jobs; burst mode enqueues due ones once and exits
    when the queues are empty."""
    from webapp import create_app

    conn = redis_connection()
    AppWorker.flask_app = app
    worker = AppWorker(list(QUEUE_NAMES), connection=conn)
    scheduler = None
    if with_scheduler:
        if burst:
            enqueue_due(conn, periodic_jobs())
        else:
            scheduler = multiprocessing.get_context("spawn").Process(
                target=run_scheduler_loop, args=(app.config["REDIS_URL"], create_app),
                name="crm-periodic-scheduler", daemon=True)
            scheduler.start()
    try:
        return worker.work(burst=burst, with_scheduler=with_scheduler)
    finally:
        if scheduler is not None:
            scheduler.terminate()
            scheduler.join(5)
