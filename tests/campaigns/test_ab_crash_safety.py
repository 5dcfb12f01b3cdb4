"""The winner's send survives a worker killed with kill -9 in the middle of it and two
workers racing for the winner: the claims left behind are taken over after the lease (the
reconciler re-enqueues the batches), nobody gets two emails, and everyone in the remainder
gets exactly the winning variant. Real `flask crm worker` processes, a real SMTP server."""

from __future__ import annotations

import pytest
from ab_support import SUBJECTS, variant_bodies
from campaign_support import (
    add_audience,
    assert_counters_match_rows,
    audience_segment,
    campaign,
    ready_tenant,
    recipient_rows,
    statuses,
    wait_until,
)

from webapp.services import campaigns
from webapp.services.campaigns import ab_winner, sending
from webapp.tasks.delivery import reconcile_campaigns, start_campaign

AUDIENCE = 100


@pytest.fixture
def tested_campaign(app, tenant_a, smtp_mail, monkeypatch):
    """tested_campaign(rate) -> id: an A/B test of 3 variants on a fifth of 100 fans,
    snapshotted into batches of 20 here; the sample not delivered yet."""
    monkeypatch.setattr(sending, "BATCH_SIZE", 20)

    def start(rate: int) -> int:
        ready_tenant(tenant_a.id, rate=rate)
        add_audience(tenant_a.id, AUDIENCE)
        created = campaigns.create_campaign(tenant_a.id, {
            "name": "Line-up", "subject": "The line-up", "html_content": "<p>Hi {{ customer.first_name }}</p>",
            "segment_id": audience_segment(tenant_a.id), "variants": [
                {**v, "html_content": v.pop("content")} if "content" in v else v for v in variant_bodies(3)],
            "ab_test": {"share_percent": 21, "duration_minutes": 60, "metric": "clicks"}})
        campaigns.send_campaign(tenant_a.id, created.id)
        start_campaign(created.id)
        return created.id

    return start


def reconcile_until(condition, timeout: float) -> None:
    wait_until(condition, timeout, "the campaign's work to be done", every=0.3, between=reconcile_campaigns)


def assert_one_each_and_the_remainder_got_the_winner(campaign_id: int, smtp_mail, winner: int) -> None:
    received = smtp_mail.per_recipient()
    assert {a: n for a, n in received.items() if n != 1} == {}, "someone got more than one email"
    rows = recipient_rows(campaign_id)
    assert set(received) == {r.email for r in rows} and len(rows) == AUDIENCE, "someone got nothing"
    subjects = {m.to: str(m.message["Subject"]) for m in smtp_mail.messages()}
    for row in rows:
        assert subjects[row.email] == SUBJECTS[winner if row.variant is None else row.variant], row.email
    final = assert_counters_match_rows(campaign_id)
    assert (final.status, final.sent_count) == ("sent", AUDIENCE)


def test_a_worker_killed_during_the_winners_send_leaves_nobody_out_and_nobody_twice(
        app_config, tested_campaign, smtp_mail, worker_processes):
    app_config(DELIVERY_LEASE_SECONDS=2)
    campaign_id = tested_campaign(rate=20)
    first = worker_processes()
    smtp_mail.wait_for(21, timeout=30)
    assert statuses(campaign_id) == {"sent": 21, "held": 79}

    assert ab_winner.record_winner(campaign_id, 2, "manual", "Variant C chosen by hand.")
    smtp_mail.wait_for(30, timeout=30)
    first.kill()

    assert smtp_mail.count() < AUDIENCE, "the winner's send finished before the worker could be killed"
    assert statuses(campaign_id).get("sending"), "the killed worker held no claimed rows"
    worker_processes()
    reconcile_until(lambda: campaign(campaign_id).status == "sent", timeout=60)

    assert_one_each_and_the_remainder_got_the_winner(campaign_id, smtp_mail, winner=2)


def test_two_workers_deciding_at_once_release_the_remainder_once(
        app, tested_campaign, smtp_mail, worker_processes, run_in_threads):
    campaign_id = tested_campaign(rate=1000)
    worker_processes()
    smtp_mail.wait_for(21, timeout=30)

    won = run_in_threads(app, 4, lambda i: ab_winner.record_winner(campaign_id, i % 3, "auto", f"try {i}"))
    reconcile_until(lambda: campaign(campaign_id).status == "sent", timeout=60)

    assert sorted(won) == [False, False, False, True]
    assert_one_each_and_the_remainder_got_the_winner(campaign_id, smtp_mail, winner=campaign(campaign_id).ab_winner)
