"""In a browser: a timeline item says what happened in a sentence; the stored values (a
user agent, an address) are hidden until "Details" is opened."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from webapp.extensions import db
from webapp.models import CustomerActivity

from .conftest import release_database

pytestmark = pytest.mark.browser

UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


def test_a_ticket_scan_and_an_open_read_as_sentences_with_the_detail_one_click_away(page: Page, log_in, tenant_a,
                                                                                     shop):
    db.session.add_all([
        CustomerActivity(tenant_id=tenant_a.id, customer_id=shop["grace"], type="email_opened",
                         properties={"campaign_id": None, "campaign_name": "Autumn season", "user_agent": UA,
                                     "ip": "198.51.100.7"}),
        CustomerActivity(tenant_id=tenant_a.id, customer_id=shop["grace"], type="ticket_scan",
                         properties={"event": {"id": "evt_1007", "name": "Jazz Night"}, "gate": "North"})])
    release_database()
    log_in(tenant_a.owner_email)
    page.goto(f"/customers/{shop['grace']}")

    scan = page.locator("#timeline .timeline-item.type-ticket_scan")
    expect(scan).to_contain_text("Scanned in at North gate for Jazz Night")
    expect(scan.locator(".when time")).to_have_text("just now")
    opened = page.locator("#timeline .timeline-item.type-email_opened")
    expect(opened).to_contain_text("Opened Autumn season on iPhone")
    expect(opened.get_by_text(UA)).to_be_hidden()

    opened.get_by_text("Details").click()

    expect(opened.get_by_text(UA)).to_be_visible()
    expect(opened.get_by_text("198.51.100.7")).to_be_visible()
