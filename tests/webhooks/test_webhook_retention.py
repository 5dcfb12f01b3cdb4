"""Finished deliveries (delivered, or failed for good) are removed WEBHOOK_KEEP_DAYS (30)
after they were made, with their attempts' log, every tenant's alike, a batch per
transaction; waiting and retrying ones are kept however old."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from webapp.config import INTERVALS, ConfigError, derive_settings
from webapp.extensions import db
from webapp.models import WebhookAttempt, WebhookDelivery
from webapp.services import webhooks
from webapp.tasks.schedule import periodic_jobs

NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
AGES = (timedelta(0), timedelta(days=29, hours=23), timedelta(days=30), timedelta(days=30, seconds=1),
        timedelta(days=400))
STATUSES = ("pending", "succeeded", "failed")


def _delivery(tenant_id: int, status: str, made: datetime, attempts: int = 1) -> int:
    webhooks.emit(tenant_id, "customer.created", {"customer": {"id": 1}})
    db.session.flush()
    delivery_id = db.session.scalar(select(func.max(WebhookDelivery.id)))
    db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                       .values(status=status, created_at=made, attempts=attempts))
    for n in range(attempts):
        db.session.add(WebhookAttempt(delivery_id=delivery_id, attempted_at=made + timedelta(minutes=n),
                                      succeeded=status == "succeeded" and n == attempts - 1))
    db.session.commit()
    return delivery_id


def _left() -> set[int]:
    return set(db.session.scalars(select(WebhookDelivery.id)))


def test_only_finished_deliveries_past_the_keeping_time_go_with_their_attempts(tenant_a, tenant_b, subscribe):
    subscribe(tenant_a.id)
    subscribe(tenant_b.id)
    made = {}
    for tenant, age, status in itertools.product((tenant_a, tenant_b), AGES, STATUSES):
        made[_delivery(tenant.id, status, NOW - age, attempts=2)] = (age, status)
    expected_gone = {d for d, (age, status) in made.items() if status != "pending" and age > timedelta(days=30)}
    assert len(expected_gone) == 8  # 2 tenants x 2 ages x 2 finished statuses

    # Batches of 3: the run goes on past a full batch until a short one.
    assert webhooks.prune_deliveries(NOW, batch=3) == 8

    assert _left() == set(made) - expected_gone
    attempts_left = set(db.session.scalars(select(WebhookAttempt.delivery_id)))
    assert attempts_left == set(made) - expected_gone
    # Nothing more to do: nothing goes.
    assert webhooks.prune_deliveries(NOW, batch=3) == 0
    assert _left() == set(made) - expected_gone


def test_a_run_out_of_time_stops_after_its_batch_and_the_next_goes_on(tenant_a, subscribe):
    subscribe(tenant_a.id)
    old = [_delivery(tenant_a.id, "succeeded", NOW - timedelta(days=40 + n)) for n in range(5)]
    assert webhooks.prune_deliveries(NOW, batch=2, seconds=0) == 2
    # Oldest first.
    assert _left() == set(old[:3])
    assert webhooks.prune_deliveries(NOW, batch=2) == 3
    assert _left() == set()


def test_the_keeping_time_is_the_operators(tenant_a, subscribe, app, monkeypatch):
    subscribe(tenant_a.id)
    monkeypatch.setitem(app.config, "WEBHOOK_KEEP_DAYS", 7)
    week_old = _delivery(tenant_a.id, "failed", NOW - timedelta(days=8))
    fresh = _delivery(tenant_a.id, "failed", NOW - timedelta(days=6))
    assert webhooks.prune_deliveries(NOW) == 1
    assert _left() == {fresh} and week_old not in _left()


def test_the_periodic_job_prunes_on_the_bulk_queue(app):
    [job] = [job for job in periodic_jobs() if job.id == "webhooks-prune"]
    assert job.queue == "bulk" and job.interval_seconds == 3600
    assert job.func.__module__ == "webapp.tasks.webhooks" and job.func.__name__ == "prune_deliveries"


def _refused_by(parse):
    """A filter keeping the text `parse` (float, int) refuses."""
    def refused(text: str) -> bool:
        try:
            parse(text)
        except ValueError:
            return True
        return False
    return refused


refused_days = (st.text(max_size=10).filter(_refused_by(float)) | st.sampled_from(["nan", "inf", "-inf", "0", "-30"])
                | st.floats(max_value=1, exclude_max=True, allow_nan=False).map(repr))


@given(refused_days)
def test_a_keeping_time_under_a_day_or_not_a_number_is_refused_at_start_up(value):
    with pytest.raises(ConfigError, match="WEBHOOK_KEEP_DAYS"):
        derive_settings({"WEBHOOK_KEEP_DAYS": value})


@given(st.floats(min_value=1, max_value=100_000), st.integers(1, 10**6))
def test_a_keeping_time_and_a_pruning_interval_given_as_text_are_read_as_numbers(days, seconds):
    config = {"WEBHOOK_KEEP_DAYS": repr(days), "WEBHOOK_PRUNE_SECONDS": str(seconds)}
    derive_settings(config)
    assert config["WEBHOOK_KEEP_DAYS"] == days and math.isfinite(config["WEBHOOK_KEEP_DAYS"])
    assert config["WEBHOOK_PRUNE_SECONDS"] == seconds
    assert config["WEBHOOK_SWEEP_SECONDS"] == INTERVALS["WEBHOOK_SWEEP_SECONDS"]  # the default, as a number


@given(st.sampled_from(sorted(INTERVALS)),
       st.text(max_size=10).filter(_refused_by(int)) | st.integers(-10, 0).map(str) | st.integers(-10, 0)
       | st.sampled_from([0.5, 2.5, math.nan]))
def test_a_periodic_interval_that_is_not_a_whole_second_or_more_is_refused_naming_it(name, value):
    with pytest.raises(ConfigError, match=name):
        derive_settings({name: value})
