"""Unsubscribe links: a GET only asks, the one-click POST (no cookie, no CSRF token) works,
forged tokens change nothing, and someone who leaves after the snapshot gets nothing."""

from __future__ import annotations

import pytest
from campaign_support import (
    ONE_CLICK,
    activities_of,
    add_audience,
    assert_counters_match_rows,
    audience_segment,
    new_campaign,
    ready_tenant,
    recipient_rows,
    run_burst_worker,
)

from webapp.extensions import db
from webapp.models import Customer
from webapp.services import campaigns
from webapp.services.preferences import mask_email
from webapp.tasks.delivery import start_campaign


@pytest.fixture
def snapshotted(app, tenant_a, smtp_mail):
    """A campaign whose recipients are snapshotted (fan0..fan2) but not yet delivered."""
    ready_tenant(tenant_a.id)
    add_audience(tenant_a.id, 3)
    campaign = new_campaign(tenant_a.id, audience_segment(tenant_a.id))
    campaigns.send_campaign(tenant_a.id, campaign.id)
    start_campaign(campaign.id)  # the start job: snapshot and enqueue the batch
    return campaign.id


def customer_of(recipient) -> Customer:
    db.session.expire_all()
    customer = db.session.get(Customer, recipient.customer_id)
    db.session.commit()
    return customer


def test_a_get_shows_the_preference_centre_and_changes_nothing(app, snapshotted):
    recipient = recipient_rows(snapshotted)[0]

    response = app.test_client().get(f"/u/{recipient.token}")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    # The address masked (a forwarded email must not reveal it), and a form to post.
    assert recipient.email not in page and mask_email(recipient.email) in page and 'method="post"' in page
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert customer_of(recipient).email_status == "subscribed"
    assert activities_of(recipient.customer_id, "unsubscribed") == []


def test_the_one_click_post_unsubscribes_without_cookie_or_csrf_token(app, snapshotted):
    recipient = recipient_rows(snapshotted)[0]
    mail_provider = app.test_client(use_cookies=False)

    response = mail_provider.post(f"/u/{recipient.token}", **ONE_CLICK)

    assert response.status_code == 200
    assert customer_of(recipient).email_status == "unsubscribed"
    [activity] = activities_of(recipient.customer_id, "unsubscribed")
    assert activity.properties["campaign_id"] == snapshotted


def test_unsubscribing_twice_changes_nothing_more(app, snapshotted):
    recipient = recipient_rows(snapshotted)[0]
    client = app.test_client(use_cookies=False)

    first = client.post(f"/u/{recipient.token}", **ONE_CLICK)
    second = client.post(f"/u/{recipient.token}")  # a bare POST is one-click too

    assert first.status_code == second.status_code == 200
    assert len(activities_of(recipient.customer_id, "unsubscribed")) == 1
    assert customer_of(recipient).email_status == "unsubscribed"
    assert "already" in app.test_client().get(f"/u/{recipient.token}").get_data(as_text=True)


@pytest.mark.parametrize("token", [
    "5f0c8e2a9b7d41c6a3e2f19d8b6c4a70",  # well-formed, unknown
    "1",                                # a guessable id
    "x" * 65,                           # longer than any token
    "' OR '1'='1",
])
def test_forged_or_unknown_tokens_are_404_and_change_nothing(app, snapshotted, token):
    client = app.test_client(use_cookies=False)

    assert client.get(f"/u/{token}").status_code == 404
    assert client.post(f"/u/{token}", **ONE_CLICK).status_code == 404
    assert client.get(f"/v/{token}").status_code == 404
    assert {customer_of(r).email_status for r in recipient_rows(snapshotted)} == {"subscribed"}


def test_someone_who_unsubscribes_after_the_snapshot_is_skipped_at_delivery(
        app, runner, snapshotted, smtp_mail):
    leaver = next(r for r in recipient_rows(snapshotted) if r.email == "fan1@example.com")
    assert app.test_client(use_cookies=False).post(f"/u/{leaver.token}", **ONE_CLICK).status_code == 200

    run_burst_worker(runner)

    assert smtp_mail.per_recipient() == {"fan0@example.com": 1, "fan2@example.com": 1}
    row = next(r for r in recipient_rows(snapshotted) if r.email == "fan1@example.com")
    assert (row.status, row.error) == ("skipped", "not subscribed any more")
    final = assert_counters_match_rows(snapshotted)
    assert (final.status, final.sent_count, final.skipped_count) == ("sent", 2, 1)
    assert activities_of(leaver.customer_id, "email_sent") == []


def test_an_unsubscribed_customer_gets_no_further_campaigns_until_resubscribed(
        api, app, runner, tenant_a, snapshotted, smtp_mail):
    run_burst_worker(runner)
    leaver = next(r for r in recipient_rows(snapshotted) if r.email == "fan0@example.com")
    app.test_client(use_cookies=False).post(f"/u/{leaver.token}", **ONE_CLICK)
    segment_id = audience_segment(tenant_a.id, "fans")

    second = new_campaign(tenant_a.id, segment_id, name="Second")
    campaigns.send_campaign(tenant_a.id, second.id)
    run_burst_worker(runner)
    assert sorted(r.email for r in recipient_rows(second.id)) == ["fan1@example.com", "fan2@example.com"]

    assert api.patch(f"/customers/{leaver.customer_id}", json={"email_status": "subscribed"}).status_code == 200
    third = new_campaign(tenant_a.id, segment_id, name="Third")
    campaigns.send_campaign(tenant_a.id, third.id)
    run_burst_worker(runner)
    assert "fan0@example.com" in {r.email for r in recipient_rows(third.id)}
    assert smtp_mail.per_recipient()["fan0@example.com"] == 2  # the first and the third
