"""Campaigns under a topic: the snapshot keeps only the topic's subscribers (its default or
their own choice), someone who leaves the topic after the snapshot is skipped with the
reason, one-click leaves only the campaign's topic, and the preference centre's choices
are consent records with the request's address and browser."""

from __future__ import annotations

import re

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
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import ConsentRecord, Customer, EmailCampaign
from webapp.services import campaigns, consent, topics
from webapp.tasks.delivery import start_campaign


@pytest.fixture
def audience(app, tenant_a, smtp_mail):
    """fan0..fan3, subscribed; a segment of them; topics Jazz (opt-out) and Surveys (opt-in)."""
    ready_tenant(tenant_a.id)
    ids = add_audience(tenant_a.id, 4)
    jazz = topics.create_topic(tenant_a.id, {"name": "Jazz listings", "description": "New jazz nights"})
    surveys = topics.create_topic(tenant_a.id, {"name": "Surveys", "default_subscribed": False})
    return {"ids": ids, "segment": audience_segment(tenant_a.id), "jazz": jazz.id, "surveys": surveys.id,
            "tenant": tenant_a.id}


def _choose(tenant_id: int, customer_id: int, choices: dict[int, bool]) -> None:
    customer = db.session.get(Customer, customer_id)
    consent.set_topic_choices(customer, choices, consent.Evidence("admin"))
    db.session.commit()


def _snapshot(tenant_id: int, segment_id: int, topic_id: int | None, name: str = "Jazz news") -> int:
    campaign = new_campaign(tenant_id, segment_id, topic_id=topic_id, name=name)
    campaigns.send_campaign(tenant_id, campaign.id)
    start_campaign(campaign.id)
    return campaign.id


def test_an_opt_out_topic_reaches_everyone_but_those_who_said_no(audience):
    _choose(audience["tenant"], audience["ids"][1], {audience["jazz"]: False})
    campaign_id = _snapshot(audience["tenant"], audience["segment"], audience["jazz"])
    assert sorted(r.email for r in recipient_rows(campaign_id)) == [
        "fan0@example.com", "fan2@example.com", "fan3@example.com"]


def test_an_opt_in_topic_reaches_only_those_who_said_yes(audience):
    _choose(audience["tenant"], audience["ids"][2], {audience["surveys"]: True})
    campaign_id = _snapshot(audience["tenant"], audience["segment"], audience["surveys"])
    assert [r.email for r in recipient_rows(campaign_id)] == ["fan2@example.com"]


def test_a_campaign_without_a_topic_reaches_everyone_subscribed(audience):
    _choose(audience["tenant"], audience["ids"][1], {audience["jazz"]: False, audience["surveys"]: False})
    campaign_id = _snapshot(audience["tenant"], audience["segment"], None)
    assert len(recipient_rows(campaign_id)) == 4


def test_leaving_the_topic_after_the_snapshot_skips_with_the_reason(app, runner, audience, smtp_mail):
    campaign_id = _snapshot(audience["tenant"], audience["segment"], audience["jazz"])
    leaver = next(r for r in recipient_rows(campaign_id) if r.email == "fan3@example.com")
    _choose(audience["tenant"], leaver.customer_id, {audience["jazz"]: False})

    run_burst_worker(runner)

    assert set(smtp_mail.per_recipient()) == {"fan0@example.com", "fan1@example.com", "fan2@example.com"}
    row = next(r for r in recipient_rows(campaign_id) if r.email == "fan3@example.com")
    assert (row.status, row.error) == ("skipped", "unsubscribed from Jazz listings")
    final = assert_counters_match_rows(campaign_id)
    assert (final.sent_count, final.skipped_count) == (3, 1)


def test_one_click_leaves_only_the_campaigns_topic(app, audience):
    campaign_id = _snapshot(audience["tenant"], audience["segment"], audience["jazz"])
    recipient = recipient_rows(campaign_id)[0]

    response = app.test_client(use_cookies=False).post(f"/u/{recipient.token}", **ONE_CLICK,
                                                       headers={"User-Agent": "Gmail one-click"})

    assert response.status_code == 200 and "Jazz listings" in response.get_data(as_text=True)
    db.session.expire_all()
    customer = db.session.get(Customer, recipient.customer_id)
    assert customer.email_status == "subscribed"
    assert consent.topic_states(audience["tenant"], customer.id) == {audience["jazz"]: False,
                                                                     audience["surveys"]: False}
    [record] = db.session.scalars(select(ConsentRecord).where(ConsentRecord.customer_id == customer.id)).all()
    assert (record.topic_id, record.granted, record.source, record.user_agent) == (
        audience["jazz"], False, "unsubscribe_link", "Gmail one-click")
    assert record.ip_address and "one-click" in record.wording
    assert [a.properties["topic_name"] for a in activities_of(customer.id, "topic_unsubscribed")] == ["Jazz listings"]
    assert db.session.get(EmailCampaign, campaign_id).unsubscribed_count == 1
    # Again: nothing more.
    app.test_client(use_cookies=False).post(f"/u/{recipient.token}", **ONE_CLICK)
    db.session.expire_all()
    assert db.session.get(EmailCampaign, campaign_id).unsubscribed_count == 1
    assert len(activities_of(customer.id, "topic_unsubscribed")) == 1


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def test_the_preference_centre_saves_choices_as_consent_and_a_get_changes_nothing(app, audience):
    campaign_id = _snapshot(audience["tenant"], audience["segment"], audience["jazz"])
    recipient = recipient_rows(campaign_id)[0]
    browser = app.test_client()

    page = browser.get(f"/u/{recipient.token}").get_data(as_text=True)
    assert "f***@e***.com" in page and "Jazz listings" in page and "New jazz nights" in page
    assert "Unsubscribe from everything" in page and tenant_name(audience) in page
    assert db.session.scalars(select(ConsentRecord)).all() == []

    # Without the CSRF token nothing is saved.
    refused = browser.post(f"/u/{recipient.token}/preferences", data={"topics": [audience["surveys"]],
                                                                       "action": "save"})
    assert refused.status_code == 400 and db.session.scalars(select(ConsentRecord)).all() == []

    saved = browser.post(f"/u/{recipient.token}/preferences", headers={"User-Agent": "Firefox/140"},
                         data={"csrf_token": _csrf(page), "topics": [str(audience["surveys"])], "action": "save"})
    assert saved.status_code == 200 and "Saved" in saved.get_data(as_text=True)
    db.session.expire_all()
    assert consent.topic_states(audience["tenant"], recipient.customer_id) == {
        audience["jazz"]: False, audience["surveys"]: True}
    records = db.session.scalars(select(ConsentRecord).order_by(ConsentRecord.topic_name)).all()
    assert [(r.topic_name, r.granted, r.source, r.user_agent) for r in records] == [
        ("Jazz listings", False, "preference_centre", "Firefox/140"),
        ("Surveys", True, "preference_centre", "Firefox/140")]
    assert "[x] Jazz listings" in records[0].wording  # what the page showed when they chose
    assert db.session.get(EmailCampaign, campaign_id).unsubscribed_count == 1


def tenant_name(audience) -> str:
    from webapp.models import Tenant

    return db.session.get(Tenant, audience["tenant"]).name


def test_everything_then_subscribe_again_from_the_preference_centre(app, audience):
    campaign_id = _snapshot(audience["tenant"], audience["segment"], None)
    recipient = recipient_rows(campaign_id)[0]
    browser = app.test_client()
    page = browser.get(f"/u/{recipient.token}").get_data(as_text=True)

    browser.post(f"/u/{recipient.token}/preferences", data={"csrf_token": _csrf(page), "action": "unsubscribe_all"})
    db.session.expire_all()
    assert db.session.get(Customer, recipient.customer_id).email_status == "unsubscribed"
    page = browser.get(f"/u/{recipient.token}").get_data(as_text=True)
    assert "already unsubscribed" in page and "Subscribe again" in page

    browser.post(f"/u/{recipient.token}/preferences",
                 data={"csrf_token": _csrf(page), "action": "resubscribe", "topics": [str(audience["jazz"])]})
    db.session.expire_all()
    assert db.session.get(Customer, recipient.customer_id).email_status == "subscribed"
    all_marketing = db.session.scalars(select(ConsentRecord).where(ConsentRecord.topic_id.is_(None))
                                       .order_by(ConsentRecord.id)).all()
    assert [(r.granted, r.source) for r in all_marketing] == [(False, "preference_centre"),
                                                              (True, "preference_centre")]
    assert len(activities_of(recipient.customer_id, "resubscribed")) == 1
    assert db.session.get(EmailCampaign, campaign_id).unsubscribed_count == 1


def test_a_workflow_emails_one_click_leaves_all_marketing(app, audience):
    campaign_id = _snapshot(audience["tenant"], audience["segment"], None)
    recipient = recipient_rows(campaign_id)[0]
    app.test_client(use_cookies=False).post(f"/u/{recipient.token}", **ONE_CLICK)
    db.session.expire_all()
    assert db.session.get(Customer, recipient.customer_id).email_status == "unsubscribed"
    [record] = db.session.scalars(select(ConsentRecord)).all()
    assert (record.topic_id, record.granted, record.source) == (None, False, "unsubscribe_link")
