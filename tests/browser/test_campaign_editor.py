"""The campaign editor in a real Chromium: the live preview is an empty-sandbox iframe, so a
script in a campaign's content cannot reach the app; the preview follows the typing and
the chosen customer; a test send lands in the Outbox; the progress card updates itself."""

from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest
from playwright.sync_api import Frame, FrameLocator, Locator, Page, expect

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import EmailCampaign, Tenant
from webapp.services import campaigns, segments
from webapp.services.sending_domains import add_domain_of

from .conftest import release_database

pytestmark = pytest.mark.browser

SHOTS = "/tmp/shots"
HOSTILE_CONTENT = (
    "<h1>Big news</h1>"
    "<script>window.parent.document.title='pwned'; document.title='ran';"
    "try { parent.localStorage.setItem('pwned', 'script') } catch (e) {}</script>"
    "<img src=\"/nowhere.png\" onerror=\"window.parent.document.title='pwned-img';"
    " document.title='ran-img'; parent.localStorage.setItem('pwned', 'img')\">"
    "<p>Hello {{ customer.first_name | default('there') }}</p>"
)


def shot(page: Page, name: str) -> None:
    """A full-page screenshot, from the top (the sticky preview stays in place) and once
    htmx has settled and a new preview iframe has had a moment to paint."""
    settled(page)
    for frame in page.locator("iframe.email-frame").all():
        expect(frame.content_frame.locator("body > *").first).to_be_attached()
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=f"{SHOTS}/campaigns-{name}.png", full_page=True)


def settled(page: Page) -> None:
    """Wait until htmx has finished its requests and swaps."""
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added")).to_have_count(0)


def follow(link: Locator) -> None:
    """Click a link far up or down the page. Scrolled there first: on these long pages
    Chromium otherwise sometimes takes the click before the scroll has landed."""
    link.scroll_into_view_if_needed()
    link.click()


def preview(page: Page) -> FrameLocator:
    """The document inside the live preview's iframe, whichever iframe is there now (each
    refresh of the preview brings a new one)."""
    return page.get_by_test_id("preview-frame").content_frame


def preview_frame(page: Page) -> Frame:
    """The current preview iframe's document, to evaluate in."""
    frame = page.get_by_test_id("preview-frame").element_handle().content_frame()
    assert frame is not None
    return frame


@pytest.fixture
def sender(tenant_a) -> None:
    tenant = db.session.get(Tenant, tenant_a.id)
    tenant.sender_name, tenant.sender_email = "Arena Alpha Box Office", "tickets@alpha.example.com"
    tenant.postal_address = "1 Arena Way, 10115 Berlin"
    add_domain_of(tenant_a.id, tenant.sender_email)
    release_database()


@pytest.fixture
def vips(tenant_a, shop, sender) -> int:
    segment_id = segments.create_segment(tenant_a.id, "VIPs", [{"type": "tag", "operator": "has",
                                                               "value": "vip"}]).id
    release_database()
    return segment_id


def campaign(tenant_id: int, segment_id: int, html: str, **fields) -> EmailCampaign:
    created = campaigns.create_campaign(tenant_id, {
        "name": "Summer Jazz Night", "subject": "Your seats, {{ customer.first_name | default('friend') }}",
        "html_content": html, "segment_id": segment_id, **fields})
    release_database()
    return created


def test_a_script_in_the_content_does_not_run_in_the_apps_origin(page: Page, log_in, tenant_a, vips):
    hostile = campaign(tenant_a.id, vips, HOSTILE_CONTENT)
    log_in(tenant_a.owner_email)
    page.evaluate("localStorage.setItem('probe', 'untouched')")

    page.goto(f"/campaigns/{hostile.id}/edit")
    frame_element = page.get_by_test_id("preview-frame")
    expect(frame_element).to_be_attached()
    settled(page)
    expect(preview(page).get_by_role("heading", name="Big news")).to_be_visible()  # the content did render
    frame = preview_frame(page)
    page.wait_for_timeout(500)  # time for the script and the broken image's onerror, if they could run

    sandbox = frame_element.get_attribute("sandbox")
    assert sandbox == "", f"sandbox={sandbox!r}"  # no allow-scripts, no allow-same-origin
    assert page.title() == "Edit Summer Jazz Night · Ticketing CRM"
    assert page.evaluate("localStorage.getItem('pwned')") is None
    assert page.evaluate("localStorage.getItem('probe')") == "untouched"
    assert frame.evaluate("document.title") == ""  # not even inside its own document
    assert frame.evaluate("self.origin") == "null"  # an opaque origin, not the app's
    shot(page, "editor-hostile-content")

    # Typing the same payload again goes through the live preview path: still inert.
    textarea = page.get_by_label("HTML content")
    textarea.fill(HOSTILE_CONTENT.replace("Big news", "Bigger news"))
    expect(preview(page).get_by_role("heading", name="Bigger news")).to_be_visible()
    page.wait_for_timeout(500)
    assert page.title() == "Edit Summer Jazz Night · Ticketing CRM"
    assert page.evaluate("localStorage.getItem('pwned')") is None
    assert page.get_by_test_id("preview-frame").get_attribute("sandbox") == ""
    assert preview_frame(page).evaluate("document.title") == ""


def test_the_preview_follows_the_typing_the_width_and_the_chosen_customer(page: Page, log_in, tenant_a, vips):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(tenant_a.owner_email)
    page.get_by_role("link", name="Campaigns").click()
    expect(page.get_by_role("heading", name="No campaigns yet")).to_be_visible()
    shot(page, "list-empty")

    page.get_by_role("link", name="Write your first campaign").click()
    page.get_by_role("link", name="Write HTML instead").click()  # new campaigns start in the block builder
    expect(page.get_by_text("Write the HTML content and the email appears here")).to_be_visible()
    page.get_by_label("Campaign name").fill("Summer Jazz Night")
    page.get_by_label("Send to").select_option(label="VIPs")
    expect(page.get_by_test_id("audience-count")).to_have_text("2 people")  # Ada and Grace
    page.get_by_label("Subject").fill("Your seats, {{ customer.first_name | default('friend') }}")
    page.get_by_label("HTML content").fill(
        "<html><head><style>h1 { color: #4b3fd6; font-family: Georgia, serif; }</style></head><body>"
        "<h1>Hello {{ customer.first_name | default('friend') }}</h1>"
        "<p>Summer Jazz Night is back at Riverside Hall. Your early-bird seats are waiting.</p>"
        "<p><a href=\"https://tickets.example.com/jazz\">Choose your seats</a></p></body></html>")

    expect(preview(page).get_by_role("heading", name="Hello friend")).to_be_visible()
    expect(page.get_by_test_id("preview-subject")).to_have_text("Your seats, friend")
    expect(page.get_by_test_id("preview-from")).to_have_text("Arena Alpha Box Office <tickets@alpha.example.com>")

    page.get_by_label("Preview as").fill("ada@example.com")
    expect(page.get_by_test_id("preview-subject")).to_have_text("Your seats, Ada")
    expect(preview(page).get_by_role("heading", name="Hello Ada")).to_be_visible()
    desktop_width = page.get_by_test_id("preview-frame").bounding_box()["width"]
    shot(page, "editor")

    page.get_by_text("Mobile", exact=True).click()
    expect(page.get_by_test_id("preview-frame")).to_have_css("width", "375px")
    assert desktop_width > 500
    shot(page, "editor-mobile")
    page.get_by_text("Desktop", exact=True).click()

    # A template error shows in the preview at once, and beside the field when saving.
    page.get_by_label("HTML content").fill("<h1>Hello</h1>\n<p>{{ customer.first_name </p>")
    expect(page.get_by_test_id("preview-error")).to_contain_text("line 2")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_test_id("html-content-error")).to_contain_text("line 2")
    expect(page.get_by_label("Campaign name")).to_have_value("Summer Jazz Night")  # nothing lost
    shot(page, "editor-error")

    page.get_by_label("HTML content").fill("<h1>Hello {{ customer.first_name | default('friend') }}</h1>")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved")).to_be_visible()
    assert db.session.query(EmailCampaign).count() == 1
    release_database()
    assert errors == []


def test_a_test_send_arrives_in_the_outbox(page: Page, log_in, tenant_a, vips, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_URL", "outbox")
    draft = campaign(tenant_a.id, vips, "<h1>Hello {{ customer.first_name | default('friend') }}</h1>"
                                        "<p>Doors open at 19:30.</p>")
    log_in(tenant_a.owner_email)
    page.goto(f"/campaigns/{draft.id}/edit")
    settled(page)

    page.get_by_label("Preview as").fill("grace@example.com")
    expect(page.get_by_test_id("preview-subject")).to_have_text("Your seats, Grace")
    settled(page)
    page.get_by_label("Preview as").press("Tab")  # done choosing: the suggestions close
    page.get_by_label("Send a test to").fill("me@example.com")
    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_test_id("test-results")).to_contain_text("me@example.com")
    shot(page, "test-sent")

    follow(page.get_by_role("navigation").get_by_role("link", name="Outbox"))
    row = page.locator("tr.outbox-row").first
    expect(row).to_contain_text("me@example.com")
    expect(row).to_contain_text("[TEST] Your seats, Grace")
    shot(page, "outbox")

    row.get_by_role("link", name="me@example.com").click()
    expect(page.get_by_test_id("headers")).to_contain_text("List-Unsubscribe-Post")
    html_part = page.get_by_test_id("html-part")
    assert html_part.get_attribute("sandbox") == ""
    expect(html_part.content_frame.get_by_role("heading", name="Hello Grace")).to_be_visible()
    expect(page.get_by_test_id("text-part")).to_contain_text("Hello Grace")
    shot(page, "outbox-message")


def test_send_now_confirms_the_count_and_the_progress_updates_itself(page: Page, log_in, tenant_a, vips):
    draft = campaign(tenant_a.id, vips, "<h1>Hello {{ customer.first_name | default('friend') }}</h1>")
    finished_one = campaign(tenant_a.id, vips, "<p>Spring</p>", name="Spring gala")
    row = db.session.get(EmailCampaign, finished_one.id)
    row.status, row.recipients_count, row.sent_count, row.failed_count = "sent", 1200, 1187, 13
    row.snapshot_at = row.started_at = utcnow() - timedelta(days=3, minutes=20)
    row.finished_at = utcnow() - timedelta(days=3)
    release_database()
    log_in(tenant_a.owner_email)

    page.goto(f"/campaigns/{draft.id}/edit")
    settled(page)
    follow(page.get_by_role("link", name="Send now…"))
    expect(page.get_by_test_id("confirm-count")).to_contain_text("2 people will get this email")
    shot(page, "confirm-send")

    page.get_by_role("button", name="Send to 2 people now").click()
    expect(page.get_by_text("Sending has started")).to_be_visible()
    card = page.locator("#campaign-progress")
    expect(card).to_have_attribute("hx-trigger", "every 2s")

    # No worker runs here: play its part, so the card has known numbers to follow.
    sending = db.session.get(EmailCampaign, draft.id)
    sending.status, sending.recipients_count, sending.sent_count, sending.skipped_count = "sending", 2, 1, 0
    sending.snapshot_at = utcnow()
    release_database()
    expect(page.get_by_test_id("count-sent")).to_have_text("1", timeout=6000)
    expect(page.get_by_test_id("count-remaining")).to_have_text("1")
    shot(page, "sending")

    sending = db.session.get(EmailCampaign, draft.id)
    sending.status, sending.sent_count, sending.finished_at = "sent", 2, utcnow()
    release_database()
    expect(card).to_have_attribute("data-status", "sent", timeout=6000)
    expect(page.get_by_test_id("count-remaining")).to_have_text("0")
    expect(card).not_to_have_attribute("hx-trigger", re.compile(".*"))  # the polling stopped
    expect(page.get_by_text("Sending has started")).to_have_count(0)  # the notice went with it
    shot(page, "sent")

    follow(page.get_by_role("navigation").get_by_role("link", name="Campaigns"))
    expect(page.locator("tr.campaign-row")).to_have_count(2)
    expect(page.locator("tr.campaign-row", has_text="Spring gala")).to_contain_text("1,187 / 1,200 sent")
    shot(page, "list")
