"""Nobody gets a campaign twice, and nobody is forgotten, when a worker is killed with
kill -9 mid-batch, when Redis is flushed mid-campaign, or when two workers fight over the
same recipients. Workers are real `flask crm worker` processes; the sink is a real SMTP
server; the database is the test database (SQLite file or PostgreSQL)."""

from __future__ import annotations

import pytest
from campaign_support import (
    activities_of,
    add_audience,
    assert_counters_match_rows,
    audience_segment,
    campaign,
    new_campaign,
    ready_tenant,
    recipient_rows,
    statuses,
    wait_until,
)
from redis import Redis

from webapp.services import campaigns
from webapp.services.campaigns import sending
from webapp.tasks.delivery import reconcile_campaigns, start_campaign


@pytest.fixture
def start_sending(app, tenant_a, smtp_mail, monkeypatch):
    """start_sending(count, rate) -> campaign id: `count` fans, snapshotted into batches of
    20 and enqueued (the start job, run here so the batch size can be small), not delivered."""
    monkeypatch.setattr(sending, "BATCH_SIZE", 20)

    def start(count: int, rate: int) -> int:
        ready_tenant(tenant_a.id, rate=rate)
        add_audience(tenant_a.id, count)
        campaign_id = new_campaign(tenant_a.id, audience_segment(tenant_a.id)).id
        campaigns.send_campaign(tenant_a.id, campaign_id)
        start_campaign(campaign_id)
        assert campaign(campaign_id).batches_count == -(-count // 20)
        return campaign_id

    return start


def assert_everyone_got_exactly_one(campaign_id: int, smtp_mail, count: int) -> None:
    everyone = {f"fan{i}@example.com" for i in range(count)}
    received = smtp_mail.per_recipient()
    assert {a: n for a, n in received.items() if n != 1} == {}, "someone got more than one copy"
    rows = recipient_rows(campaign_id)
    missing = everyone - set(received)
    assert missing == set(), \
        f"someone got nothing: {[(r.email, r.status, r.attempts, r.error) for r in rows if r.email in missing]}"
    assert {r.status for r in rows} == {"sent"} and len(rows) == count
    final = assert_counters_match_rows(campaign_id)
    assert (final.status, final.sent_count) == ("sent", count)
    assert {m.message["Message-ID"] for m in smtp_mail.messages()} == {r.message_id for r in rows}
    assert all(len(activities_of(r.customer_id, "email_sent")) == 1 for r in rows)


def reconcile_until_sent(campaign_id: int, timeout: float) -> None:
    """What the periodic scheduler does, every 0.3 s here, until the campaign is done."""
    wait_until(lambda: campaign(campaign_id).status == "sent", timeout, "the campaign to finish",
               every=0.3, between=reconcile_campaigns)


def test_a_worker_killed_mid_batch_is_replaced_and_everyone_gets_exactly_one(
        app_config, start_sending, smtp_mail, worker_processes):
    app_config(DELIVERY_LEASE_SECONDS=2)
    campaign_id = start_sending(60, rate=20)
    first = worker_processes()
    smtp_mail.wait_for(8, timeout=30)

    first.kill()

    received_before = smtp_mail.count()
    assert received_before < 60, "the worker finished before it could be killed"
    assert statuses(campaign_id).get("sending"), "the killed worker held no claimed rows"
    worker_processes()
    reconcile_until_sent(campaign_id, timeout=40)

    assert_everyone_got_exactly_one(campaign_id, smtp_mail, 60)


def test_a_redis_flush_mid_campaign_is_repaired_from_the_database(
        start_sending, smtp_mail, worker_processes, redis_server):
    campaign_id = start_sending(60, rate=20)
    worker_processes()
    smtp_mail.wait_for(8, timeout=30)

    Redis.from_url(redis_server.url).flushall()  # every queued batch job is gone

    assert smtp_mail.count() < 60, "the campaign finished before Redis could be flushed"
    reconcile_until_sent(campaign_id, timeout=40)

    assert_everyone_got_exactly_one(campaign_id, smtp_mail, 60)


def test_two_workers_on_one_campaign_never_send_anyone_two_copies(
        app_config, start_sending, smtp_mail, worker_processes):
    # One batch takes one worker three seconds or more (20 messages at 5 a second); the
    # lease is one second, so the reconciler hands the rows it is still sending to the idle
    # worker, and both hold claims on the same recipients (then back again, until all are sent).
    app_config(DELIVERY_LEASE_SECONDS=1)
    campaign_id = start_sending(20, rate=5)
    worker_processes()
    worker_processes()

    reconcile_until_sent(campaign_id, timeout=40)

    assert_everyone_got_exactly_one(campaign_id, smtp_mail, 20)
    assert max(r.attempts for r in recipient_rows(campaign_id)) > 1, "no recipient was ever claimed twice"


def test_a_row_whose_worker_died_max_attempts_times_is_failed_not_retried_forever(app, tenant_a, smtp_mail,
                                                                                   app_config):
    from datetime import timedelta

    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.infra.types import utcnow
    from webapp.models import CampaignRecipient
    from webapp.services.campaigns.claims import MAX_ATTEMPTS
    from webapp.tasks.delivery import deliver_batch

    app_config(DELIVERY_LEASE_SECONDS=1)
    ready_tenant(tenant_a.id)
    add_audience(tenant_a.id, 2)
    created = new_campaign(tenant_a.id, audience_segment(tenant_a.id))
    campaigns.send_campaign(tenant_a.id, created.id)
    campaigns.snapshot_recipients(created.id)
    doomed, fine = db.session.scalars(select(CampaignRecipient).where(CampaignRecipient.campaign_id == created.id)
                                      .order_by(CampaignRecipient.id)).all()
    # As a worker that died mid-send MAX_ATTEMPTS times would leave it.
    doomed.status, doomed.attempts, doomed.claim_token = "sending", MAX_ATTEMPTS, "dead"
    doomed.claimed_at = utcnow() - timedelta(minutes=5)
    db.session.commit()

    deliver_batch(created.id, doomed.batch_no)

    db.session.expire_all()
    assert db.session.get(CampaignRecipient, doomed.id).status == "failed"
    assert "interrupted" in db.session.get(CampaignRecipient, doomed.id).error
    assert db.session.get(CampaignRecipient, fine.id).status == "sent"
    assert [m.rcpt_tos for m in smtp_mail.messages()] == [[fine.email]]
