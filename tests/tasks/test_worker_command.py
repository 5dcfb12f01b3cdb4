"""`flask crm worker --burst` runs queued jobs inside the app context, then exits."""

from __future__ import annotations

from crm_test_jobs import fail_loudly, record_customer
from rq.job import Job, JobStatus

from webapp.extensions import db
from webapp.infra.queues import get_queue, redis_connection
from webapp.services.customers import find_customer


def run_burst_worker(runner):
    # Our own transaction must be over first: on SQLite an open one holds the write lock
    # the job needs.
    db.session.commit()
    result = runner.invoke(args=["crm", "worker", "--burst"])
    db.session.expire_all()
    return result


def test_a_burst_worker_runs_a_default_queue_job_inside_the_app_context(app, runner, tenant_a):
    job = get_queue("default").enqueue(record_customer, tenant_a.id, "queued@x.com")

    result = run_burst_worker(runner)

    assert result.exit_code == 0, result.output
    assert Job.fetch(job.id, connection=redis_connection()).get_status() == JobStatus.FINISHED
    customer = find_customer(tenant_a.id, email="queued@x.com")
    assert customer is not None
    assert customer.tags == ["from-worker"]


def test_a_burst_worker_drains_every_queue_and_exits(app, runner, tenant_a):
    for i, name in enumerate(("default", "mail", "bulk")):
        get_queue(name).enqueue(record_customer, tenant_a.id, f"q{i}@x.com")

    assert run_burst_worker(runner).exit_code == 0

    for name in ("default", "mail", "bulk"):
        assert get_queue(name).count == 0
    assert all(find_customer(tenant_a.id, email=f"q{i}@x.com") for i in range(3))


def test_a_failing_job_is_recorded_as_failed_not_swallowed(app, runner, tenant_a):
    job = get_queue("default").enqueue(fail_loudly, tenant_a.id)

    assert run_burst_worker(runner).exit_code == 0

    fetched = Job.fetch(job.id, connection=redis_connection())
    assert fetched.get_status() == JobStatus.FAILED
    assert "failed on purpose" in (fetched.latest_result().exc_string or "")


def test_the_callers_database_connection_still_works_after_the_worker_forked_jobs(app, runner, tenant_a):
    # Job horses are forks of the worker process; they must not use (and so corrupt) the
    # connections the forking process holds in its pool.
    for round_ in range(3):
        for _ in range(8):  # repeated statements become prepared statements on PostgreSQL
            find_customer(tenant_a.id, email="warm@x.com")
        get_queue("default").enqueue(record_customer, tenant_a.id, f"round{round_}@x.com")

        assert run_burst_worker(runner).exit_code == 0

        for _ in range(8):
            assert find_customer(tenant_a.id, email=f"round{round_}@x.com") is not None
