"""What the SMTP server says decides each recipient's fate: 4xx and dropped connections are
retried with backoff, 5xx fails the recipient (and a hard bounce suppresses the customer)."""

from __future__ import annotations

from datetime import timedelta

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
    run_burst_worker,
)
from sqlalchemy import update

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import CampaignRecipient, Customer
from webapp.services import campaigns
from webapp.services.campaigns.claims import MAX_ATTEMPTS
from webapp.tasks.delivery import reconcile_campaigns

EVERYONE = {f"fan{i}@example.com" for i in range(5)}


@pytest.fixture
def campaign_id(app, tenant_a, smtp_mail):
    """A campaign to fan0..fan4@example.com, not sent yet."""
    ready_tenant(tenant_a.id)
    add_audience(tenant_a.id, 5)
    return new_campaign(tenant_a.id, audience_segment(tenant_a.id)).id


def send(tenant_id: int, campaign_id: int, runner) -> None:
    campaigns.send_campaign(tenant_id, campaign_id)
    run_burst_worker(runner)


def row_for(campaign_id: int, email: str) -> CampaignRecipient:
    [row] = [r for r in recipient_rows(campaign_id) if r.email == email]
    return row


def make_due(row_id: int) -> None:
    """Time passes: the retry's moment has come."""
    db.session.execute(update(CampaignRecipient).where(CampaignRecipient.id == row_id)
                       .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def test_a_451_is_retried_and_the_recipient_gets_one_copy(tenant_a, campaign_id, runner, smtp_mail):
    smtp_mail.temporary["fan2@example.com"] = 2

    send(tenant_a.id, campaign_id, runner)

    assert smtp_mail.refusals == [("fan2@example.com", "451")] * 2
    assert smtp_mail.per_recipient() == dict.fromkeys(EVERYONE, 1)
    row = row_for(campaign_id, "fan2@example.com")
    assert (row.status, row.attempts, row.error) == ("sent", 3, None)
    assert assert_counters_match_rows(campaign_id).status == "sent"


def test_retries_back_off_exponentially(tenant_a, campaign_id, runner, smtp_mail, app_config):
    app_config(DELIVERY_RETRY_BASE_SECONDS=60)
    smtp_mail.temporary["fan2@example.com"] = 2
    send(tenant_a.id, campaign_id, runner)

    delays = []
    for _ in range(2):
        row = row_for(campaign_id, "fan2@example.com")
        assert row.status == "pending" and row.error.startswith("451 4.7.1")
        delays.append((row.next_attempt_at - utcnow()).total_seconds())
        assert campaign(campaign_id).status == "sending"
        make_due(row.id)
        reconcile_campaigns()
        run_burst_worker(runner)

    assert 50 < delays[0] <= 60 and 110 < delays[1] <= 120
    assert smtp_mail.per_recipient()["fan2@example.com"] == 1
    assert campaign(campaign_id).status == "sent"


def test_a_recipient_that_keeps_deferring_fails_after_the_last_attempt(tenant_a, campaign_id, runner, smtp_mail):
    smtp_mail.temporary["fan3@example.com"] = 100

    send(tenant_a.id, campaign_id, runner)

    row = row_for(campaign_id, "fan3@example.com")
    assert row.status == "failed" and row.attempts == MAX_ATTEMPTS
    assert row.error.startswith(f"gave up after {MAX_ATTEMPTS} attempts: 451")
    assert len(smtp_mail.refusals) == MAX_ATTEMPTS
    assert db.session.get(Customer, row.customer_id).email_status == "subscribed"  # deferred is not a bounce
    final = assert_counters_match_rows(campaign_id)
    assert (final.status, final.sent_count, final.failed_count) == ("sent", 4, 1)


def test_a_550_fails_the_recipient_with_the_reply_and_marks_the_customer_bounced(
        api, tenant_a, campaign_id, runner, smtp_mail):
    smtp_mail.permanent.add("fan1@example.com")

    send(tenant_a.id, campaign_id, runner)

    row = row_for(campaign_id, "fan1@example.com")
    assert row.status == "failed" and row.attempts == 1
    assert row.error.startswith("550 5.1.1 <fan1@example.com>: Recipient address rejected")
    customer = db.session.get(Customer, row.customer_id)
    db.session.refresh(customer)
    assert customer.email_status == "bounced"
    [bounced] = activities_of(customer.id, "email_bounced")
    assert bounced.properties["campaign_id"] == campaign_id and "550 5.1.1" in bounced.properties["reply"]
    assert api.get(f"/customers/{customer.id}").get_json()["email_status"] == "bounced"
    assert smtp_mail.per_recipient() == dict.fromkeys(EVERYONE - {"fan1@example.com"}, 1)
    final = assert_counters_match_rows(campaign_id)
    assert (final.status, final.sent_count, final.failed_count) == ("sent", 4, 1)


def test_a_dropped_connection_mid_batch_is_retried_and_the_rest_still_arrive_once(
        tenant_a, campaign_id, runner, smtp_mail):
    smtp_mail.drop["fan1@example.com"] = 1

    send(tenant_a.id, campaign_id, runner)

    assert smtp_mail.refusals == [("fan1@example.com", "drop")]
    assert smtp_mail.per_recipient() == dict.fromkeys(EVERYONE, 1)
    row = row_for(campaign_id, "fan1@example.com")
    assert (row.status, row.attempts) == ("sent", 2)
    assert assert_counters_match_rows(campaign_id).status == "sent"


def test_a_message_refused_after_its_data_is_failed_not_counted_as_sent(
        api, tenant_a, campaign_id, runner, smtp_mail):
    # The row is committed as sent before the final "."; the server's 5xx then takes it back.
    smtp_mail.after_data["fan4@example.com"] = "554 5.7.1 Message rejected as spam"

    send(tenant_a.id, campaign_id, runner)

    row = row_for(campaign_id, "fan4@example.com")
    assert (row.status, row.error, row.sent_at) == ("failed", "554 5.7.1 Message rejected as spam", None)
    customer = db.session.get(Customer, row.customer_id)
    assert customer.email_status == "subscribed"  # a content refusal says nothing about the address
    assert activities_of(customer.id, "email_sent") == []
    assert smtp_mail.per_recipient() == dict.fromkeys(EVERYONE - {"fan4@example.com"}, 1)
    final = assert_counters_match_rows(campaign_id)
    assert (final.status, final.sent_count, final.failed_count) == ("sent", 4, 1)


def test_a_451_after_the_data_is_retried_and_arrives_once(tenant_a, campaign_id, runner, smtp_mail):
    smtp_mail.after_data["fan0@example.com"] = "451 4.3.0 Try again"

    send(tenant_a.id, campaign_id, runner)

    assert smtp_mail.per_recipient() == dict.fromkeys(EVERYONE, 1)
    row = row_for(campaign_id, "fan0@example.com")
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(activities_of(row.customer_id, "email_sent")) == 1
    assert assert_counters_match_rows(campaign_id).status == "sent"
