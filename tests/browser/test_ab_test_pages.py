"""A/B tests in a real Chromium: the report's variants table while the test runs, the
"Send B to the rest" button (confirmed), then who won; screenshots at 1440 and 390 px."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import Page, expect

from tests.campaigns.ab_support import SUBJECTS, engage
from tests.campaigns.campaign_support import add_audience, audience_segment, ready_tenant, run_burst_worker
from webapp.services import campaigns

from .conftest import release_database

pytestmark = pytest.mark.browser

SHOTS = os.environ.get("CRM_SHOTS_DIR", "/tmp/shots")


def shoot(page: Page, name: str) -> None:
    """Screenshots at 1440 and 390 px; at 390 nothing but a scrolling table may stick out."""
    os.makedirs(SHOTS, exist_ok=True)
    for width, height in ((1440, 1000), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)
        sticking_out = page.evaluate("""() => [...document.querySelectorAll('body *')]
            .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1
                    && !el.closest('.table-scroll, .table-card, #report-recipients, .report-filters'))
            .map((el) => el.tagName.toLowerCase() + '.' + el.className)""")
        assert sticking_out == [], f"{name} at {width} px: {sticking_out[:5]}"
    page.set_viewport_size({"width": 1440, "height": 1000})


def test_the_report_shows_the_variants_and_sends_the_chosen_one_to_the_rest(page: Page, log_in, tenant_a, runner):
    ready_tenant(tenant_a.id)
    add_audience(tenant_a.id, 60)
    created = campaigns.create_campaign(tenant_a.id, {
        "name": "Summer line-up", "subject": "The line-up", "html_content": "<p>Hi</p>",
        "segment_id": audience_segment(tenant_a.id),
        "variants": [{"subject": SUBJECTS[0]}, {"subject": SUBJECTS[1], "preheader": "Doors at 7"}],
        "ab_test": {"share_percent": 50, "duration_minutes": 240, "metric": "clicks"}})
    campaigns.send_campaign(tenant_a.id, created.id)
    run_burst_worker(runner)
    engage(created.id, 0, opens=6, clicks=2)
    engage(created.id, 1, opens=11, clicks=8, machine_opens=4)
    release_database()

    log_in(tenant_a.owner_email)
    page.goto(f"/campaigns/{created.id}/report")
    card = page.get_by_test_id("ab-test")
    expect(card.get_by_test_id("variant-A")).to_contain_text(SUBJECTS[0])
    expect(card.get_by_test_id("variant-B")).to_contain_text("Doors at 7")
    expect(card.get_by_test_id("variant-B")).to_contain_text("53.3%")  # 8 of 15 clicked
    expect(card.get_by_test_id("ab-state")).to_contain_text("The winner is chosen automatically at")
    expect(page.get_by_test_id("campaign-status")).to_contain_text("A/B test running, winner at")
    shoot(page, "ab-report-testing")

    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_test_id("send-B").click()

    expect(page.get_by_test_id("ab-state")).to_contain_text("Variant B won (chosen by you)")
    release_database()
    run_burst_worker(runner)
    page.reload()
    shoot(page, "ab-report-decided")
    expect(page.get_by_test_id("campaign-status")).to_have_text("Sent")


def test_a_marketer_sets_up_a_test_in_the_editor_and_sees_the_plan_on_the_send_page(page: Page, log_in, tenant_a):
    ready_tenant(tenant_a.id)
    add_audience(tenant_a.id, 40)
    created = campaigns.create_campaign(tenant_a.id, {
        "name": "Autumn tour", "subject": "The autumn tour", "html_content": "<p>Hi {{ customer.first_name }}</p>",
        "segment_id": audience_segment(tenant_a.id)})
    release_database()

    log_in(tenant_a.owner_email)
    page.goto(f"/campaigns/{created.id}/edit")
    page.get_by_role("link", name="Set up an A/B test").click()
    expect(page.get_by_role("heading", name="A/B test", exact=True)).to_be_visible()
    page.get_by_test_id("variant-form-B").get_by_label("Subject").fill("Tickets for the autumn tour are out")
    page.get_by_test_id("add-variant").click()
    page.get_by_test_id("variant-form-C").get_by_label("Sender name").fill("The Box Office")
    page.get_by_label("People in the test").fill("30")
    page.get_by_label("Pick the winner after").select_option(label="2 hours")
    page.get_by_label("The winner is the variant where").select_option("clicks")
    page.get_by_role("button", name="Save the test").click()

    expect(page.get_by_test_id("ab-plan")).to_have_text(
        "30% (12 people) split between 3 variants; after 2 hours the variant with more human unique clicks "
        "goes to the remaining 28.")
    shoot(page, "ab-editor")
    page.get_by_role("link", name="Back to the email").click()
    expect(page.get_by_test_id("ab-summary")).to_contain_text("3 variants to 30% of recipients")
    shoot(page, "ab-editor-summary")
    page.goto(f"/campaigns/{created.id}/send")
    expect(page.get_by_test_id("ab-plan")).to_contain_text("30% (12 people) split between 3 variants")
    shoot(page, "ab-send-page")
