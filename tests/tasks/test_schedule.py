"""enqueue_due against a real Redis: each periodic job once per period, across workers."""

from __future__ import annotations

import importlib
import threading

import pytest
from crm_test_jobs import count_ticks
from redis import Redis
from rq import Queue

from webapp.infra.queues import QUEUE_NAMES
from webapp.tasks.schedule import PeriodicJob, enqueue_due, periodic_jobs

HOURLY = PeriodicJob("test-ticks", count_ticks, interval_seconds=3600)
NOW = 1_800_000_000.0  # a fixed instant, so the test does not straddle a period boundary


@pytest.fixture
def redis(redis_server) -> Redis:
    return Redis.from_url(redis_server.url)


def queued(redis: Redis, name: str = "default") -> list[str]:
    return Queue(name, connection=redis).get_job_ids()


def test_a_due_job_is_enqueued_with_its_function_and_timeout(redis):
    assert enqueue_due(redis, [HOURLY], now=NOW) == ["test-ticks"]

    [job] = Queue("default", connection=redis).get_jobs()
    assert job.func_name == "crm_test_jobs.count_ticks"
    assert job.timeout == HOURLY.timeout


def test_calling_twice_in_one_period_enqueues_once(redis):
    assert enqueue_due(redis, [HOURLY], now=NOW) == ["test-ticks"]
    assert enqueue_due(redis, [HOURLY], now=NOW + 1800) == []
    assert len(queued(redis)) == 1


def test_two_workers_racing_in_one_period_enqueue_once(redis_server):
    results: list[list[str]] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        connection = Redis.from_url(redis_server.url)  # each "worker" has its own connection
        barrier.wait()
        results.append(enqueue_due(connection, [HOURLY], now=NOW))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert sorted(map(len, results)) == [0] * 7 + [1]
    assert len(queued(Redis.from_url(redis_server.url))) == 1


def test_the_next_period_enqueues_again(redis):
    enqueue_due(redis, [HOURLY], now=NOW)
    assert enqueue_due(redis, [HOURLY], now=NOW + 3600) == ["test-ticks"]
    assert len(set(queued(redis))) == 2


def test_jobs_go_to_their_own_queue_and_are_claimed_independently(redis):
    bulk = PeriodicJob("test-bulk", count_ticks, interval_seconds=60, queue="bulk")
    assert sorted(enqueue_due(redis, [HOURLY, bulk], now=NOW)) == ["test-bulk", "test-ticks"]
    assert enqueue_due(redis, [HOURLY, bulk], now=NOW + 61) == ["test-bulk"]
    assert len(queued(redis, "bulk")) == 2
    assert len(queued(redis, "default")) == 1


def test_the_period_claim_expires_so_redis_does_not_fill_up(redis):
    enqueue_due(redis, [HOURLY], now=NOW)
    [key] = redis.keys("crm:periodic:test-ticks:*")
    assert 0 < redis.ttl(key) <= 2 * 3600


def test_the_products_periodic_jobs_have_stable_unique_ids_and_importable_functions(app):
    jobs = periodic_jobs()
    ids = [job.id for job in jobs]
    assert len(ids) == len(set(ids))
    for job in jobs:
        assert job.interval_seconds > 0
        assert job.queue in QUEUE_NAMES
        # RQ stores the function by dotted name: it must import back to the same function.
        assert getattr(importlib.import_module(job.func.__module__), job.func.__name__) is job.func
    assert ids == [job.id for job in periodic_jobs()]  # ids do not change between calls
