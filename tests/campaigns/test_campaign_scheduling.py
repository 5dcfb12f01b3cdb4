"""A scheduled campaign starts when its time comes (the periodic reconciler finds it even if
Redis lost the job enqueued at scheduling time), and not before."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from campaign_support import (
    add_audience,
    assert_counters_match_rows,
    audience_segment,
    campaign,
    new_campaign,
    ready_tenant,
    recipient_rows,
    run_burst_worker,
)
from redis import Redis

from webapp.services import campaigns
from webapp.tasks.delivery import reconcile_campaigns
from webapp.tasks.schedule import enqueue_due, periodic_jobs


@pytest.fixture
def draft_id(app, tenant_a, smtp_mail):
    ready_tenant(tenant_a.id)
    add_audience(tenant_a.id, 3)
    return new_campaign(tenant_a.id, audience_segment(tenant_a.id)).id


def periodic_tick(redis_url: str, runner, at: float) -> list[str]:
    """One tick of the periodic scheduler at time `at`, then a burst worker runs what it enqueued."""
    enqueued = enqueue_due(Redis.from_url(redis_url), periodic_jobs(), now=at)
    run_burst_worker(runner)
    return enqueued


def test_a_campaign_scheduled_for_later_is_not_started_before_its_time(
        api, runner, tenant_a, draft_id, smtp_mail, redis_server):
    send_at = datetime.now(UTC) + timedelta(hours=1)
    assert api.post(f"/campaigns/{draft_id}/schedule", json={"send_at": send_at.isoformat()}).status_code == 200

    assert reconcile_campaigns()["scheduled_started"] == 0
    assert "campaigns-reconcile" in periodic_tick(redis_server.url, runner, time.time())

    row = campaign(draft_id)
    assert (row.status, row.started_at, row.snapshot_at) == ("scheduled", None, None)
    assert recipient_rows(draft_id) == [] and smtp_mail.count() == 0


def test_the_periodic_reconciler_starts_a_campaign_whose_time_has_come(
        app, runner, tenant_a, draft_id, smtp_mail, redis_server):
    send_at = datetime.now(UTC) + timedelta(seconds=1.5)
    campaigns.schedule_campaign(tenant_a.id, draft_id, send_at)
    # Redis loses the job enqueued for send_at: only the database still knows.
    Redis.from_url(redis_server.url).flushall()

    first = time.time()
    periodic_tick(redis_server.url, runner, first)
    assert campaign(draft_id).status == "scheduled" and smtp_mail.count() == 0

    time.sleep(max(send_at.timestamp() - time.time(), 0) + 0.05)
    interval = app.config["RECONCILE_SECONDS"]
    assert "campaigns-reconcile" in periodic_tick(redis_server.url, runner, first + interval)  # the next period

    assert smtp_mail.per_recipient() == {"fan0@example.com": 1, "fan1@example.com": 1, "fan2@example.com": 1}
    assert min(m.at for m in smtp_mail.messages()) >= send_at.timestamp()
    row = assert_counters_match_rows(draft_id)
    assert row.status == "sent" and row.started_at >= send_at


def test_reconciling_a_due_campaign_twice_starts_it_once(runner, tenant_a, draft_id, smtp_mail):
    from sqlalchemy import update

    from webapp.extensions import db
    from webapp.models import EmailCampaign

    campaigns.schedule_campaign(tenant_a.id, draft_id, datetime.now(UTC) + timedelta(minutes=5))
    db.session.execute(update(EmailCampaign).where(EmailCampaign.id == draft_id)
                       .values(scheduled_at=datetime.now(UTC) - timedelta(seconds=1)))
    db.session.commit()

    assert reconcile_campaigns()["scheduled_started"] == 1
    reconcile_campaigns()
    run_burst_worker(runner)
    reconcile_campaigns()
    run_burst_worker(runner)

    assert smtp_mail.per_recipient() == {"fan0@example.com": 1, "fan1@example.com": 1, "fan2@example.com": 1}
    assert campaign(draft_id).status == "sent"


def test_the_job_enqueued_at_scheduling_time_starts_it_through_rqs_scheduler(
        tenant_a, draft_id, smtp_mail, worker_processes):
    from campaign_support import wait_until

    send_at = datetime.now(UTC) + timedelta(seconds=1)
    campaigns.schedule_campaign(tenant_a.id, draft_id, send_at)

    worker_processes(scheduler=True)  # RQ's scheduler moves the job when it falls due
    smtp_mail.wait_for(3, timeout=20)

    assert min(m.at for m in smtp_mail.messages()) >= send_at.timestamp()
    wait_until(lambda: campaign(draft_id).status == "sent", 10, "the campaign to finish")
    assert set(smtp_mail.per_recipient().values()) == {1}


def test_a_rescheduled_campaign_is_not_started_by_the_job_for_its_old_time(
        api, runner, tenant_a, draft_id, smtp_mail):
    from webapp.tasks.delivery import start_scheduled_campaign

    api.post(f"/campaigns/{draft_id}/schedule", json={"send_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()})
    later = datetime.now(UTC) + timedelta(hours=2)
    assert api.post(f"/campaigns/{draft_id}/schedule", json={"send_at": later.isoformat()}).status_code == 200

    start_scheduled_campaign(draft_id)  # the first job, run at its (old) time

    row = campaign(draft_id)
    assert row.status == "scheduled" and abs(row.scheduled_at - later) < timedelta(seconds=1)
    assert recipient_rows(draft_id) == [] and smtp_mail.count() == 0
