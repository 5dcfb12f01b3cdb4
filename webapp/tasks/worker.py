"""Starting RQ workers from `flask crm worker`."""

from __future__ import annotations

import multiprocessing

from flask import Flask
from rq import SimpleWorker

from webapp.infra.queues import QUEUE_NAMES, redis_connection
from webapp.tasks.schedule import enqueue_due, periodic_jobs, run_scheduler_loop


class AppWorker(SimpleWorker):
    """Runs every job in this process, inside the Flask app context (jobs use db and config).

    RQ's default worker forks a fresh process per job: every delivery batch then paid
    0.1-0.3 s to open its connections and compile its templates again (about 0.7 ms per
    message). Jobs here are idempotent and keep their state in the database, so a job that
    dies takes the worker with it and is simply picked up again, as after a kill -9; RQ's
    timeout still stops a job that runs too long. The session is removed after each job
    (app context teardown), so nothing carries over from one job to the next but caches.
    """

    flask_app: Flask | None = None

    def perform_job(self, job, queue):
        assert self.flask_app is not None
        with self.flask_app.app_context():
            return super().perform_job(job, queue)


def run_worker(app: Flask, *, burst: bool = False, with_scheduler: bool = True) -> bool:
    """Work all queues. With the scheduler, RQ's own scheduler (enqueue_at jobs) runs and
    a child process enqueues periodic jobs; burst mode enqueues due ones once and exits
    when the queues are empty.

    The child builds its own app with the factory that built `app` (create_app leaves itself
    in app.extensions["crm_app_factory"]): jobs sit below the app and never import it."""
    conn = redis_connection()
    AppWorker.flask_app = app
    worker = AppWorker(list(QUEUE_NAMES), connection=conn)
    scheduler = None
    if with_scheduler:
        if burst:
            enqueue_due(conn, periodic_jobs())
        else:
            scheduler = multiprocessing.get_context("spawn").Process(
                target=run_scheduler_loop, args=(app.config["REDIS_URL"], app.extensions["crm_app_factory"]),
                name="crm-periodic-scheduler", daemon=True)
            scheduler.start()
    try:
        return worker.work(burst=burst, with_scheduler=with_scheduler)
    finally:
        if scheduler is not None:
            scheduler.terminate()
            scheduler.join(5)
