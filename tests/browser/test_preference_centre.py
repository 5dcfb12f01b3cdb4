"""In Chromium: a fan opens the unsubscribe link of a campaign sent under "Jazz listings" from
the message in the outbox, unticks the topic and saves; the marketer sees it on the profile
(the toggle and the consent history), and the next Jazz campaign skips the fan."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.campaigns.campaign_support import audience_segment, new_campaign, recipient_rows, run_burst_worker
from tests.campaigns.tracking_support import outbox_html, send_to_audience
from webapp.extensions import db
from webapp.services import campaigns, customers, topics

from .conftest import release_database

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def test_a_fan_leaves_one_topic_from_the_preference_centre(page: Page, log_in, tenant_a, runner):
    jazz = topics.create_topic(tenant_a.id, {"name": "Jazz listings", "description": "New jazz nights, weekly"}).id
    topics.create_topic(tenant_a.id, {"name": "Surveys", "description": "A few questions, twice a year",
                                      "default_subscribed": False})
    sent = send_to_audience(runner, tenant_a.id, 2, topic_id=jazz)
    link = re.search(r'href="https?://[^"/]+(/u/[0-9a-f]+)"', outbox_html(sent)["fan0@example.com"]).group(1)
    release_database()

    page.set_viewport_size(PHONE)
    page.goto(link)
    expect(page.get_by_role("heading", name="Your emails from Arena Alpha")).to_be_visible()
    expect(page.get_by_test_id("masked-email")).to_have_text("f***@e***.com")
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    jazz_box = page.get_by_role("checkbox", name=re.compile("Jazz listings"))
    expect(jazz_box).to_be_checked()
    expect(page.get_by_role("checkbox", name=re.compile("Surveys"))).not_to_be_checked()
    jazz_box.uncheck()
    page.get_by_role("button", name="Save my choices").click()
    expect(page.locator(".flash-success")).to_contain_text("Saved")
    expect(page.get_by_role("checkbox", name=re.compile("Jazz listings"))).not_to_be_checked()

    fan = customers.find_customer(tenant_a.id, email="fan0@example.com").id
    release_database()
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(tenant_a.owner_email)
    page.goto(f"/customers/{fan}")
    expect(page.get_by_role("checkbox", name="Jazz listings")).not_to_be_checked()
    history = page.get_by_test_id("consent-history")
    expect(history).to_contain_text("Opted out of Jazz listings")
    expect(history).to_contain_text("preference page")
    history.get_by_text("Wording and browser").first.click()
    expect(history).to_contain_text("Chrome")

    second = new_campaign(tenant_a.id, audience_segment(tenant_a.id, "fan-tag"), name="Jazz in June", topic_id=jazz)
    campaigns.send_campaign(tenant_a.id, second.id)
    run_burst_worker(runner)
    assert [r.email for r in recipient_rows(second.id)] == ["fan1@example.com"]
    db.session.commit()
