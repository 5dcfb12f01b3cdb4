"""The campaign report in a real browser: chart, people/all toggle, the htmx recipient filter."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.campaigns.tracking_support import age_delivery, hit, outbox_html, send_to_audience, tracking_urls, write_hits

pytestmark = pytest.mark.browser


@pytest.fixture
def problems(page: Page) -> list[str]:
    """Console errors, uncaught exceptions and failed requests seen while the test runs."""
    seen: list[str] = []
    page.on("console", lambda msg: seen.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: seen.append(f"page error: {exc}"))
    page.on("response", lambda res: seen.append(f"{res.status}: {res.url}") if res.status >= 400 else None)
    return seen


def test_report_chart_toggle_and_recipient_filter(page: Page, log_in, client, tenant_a, runner, problems):
    from .conftest import release_database

    cid = send_to_audience(runner, tenant_a.id, 3)
    age_delivery(cid)
    pages = outbox_html(cid)
    pixel0, clicks0 = tracking_urls(pages["fan0@example.com"])
    pixel1, _ = tracking_urls(pages["fan1@example.com"])
    hit(client, pixel0)
    hit(client, clicks0[1])
    hit(client, pixel1, ua="Mozilla/5.0")  # Apple's proxy
    write_hits()
    release_database()

    log_in(tenant_a.owner_email)
    problems.clear()  # the browser's own /favicon.ico request on its first page (a 404 by design)
    page.goto(f"/campaigns/{cid}/report")
    expect(page.get_by_role("heading", name="Report: Summer line-up")).to_be_visible()
    expect(page.locator("[data-testid=open-rate]")).to_have_text("33.3%")
    expect(page.get_by_role("img", name=re.compile("^People who opened and clicked since sending started"))) \
        .to_be_visible()
    expect(page.locator("#report-recipients tbody tr")).to_have_count(3)

    page.get_by_label("Engagement").select_option("clicked")
    expect(page.locator("#report-recipients tbody tr")).to_have_count(1)
    expect(page.locator("#report-recipients")).to_contain_text("fan0@example.com")
    assert "engagement=clicked" in page.url  # the filter is in the address, for Back and sharing

    page.get_by_role("link", name="All hits").click()
    expect(page.locator("[data-testid=open-rate]")).to_have_text("66.7%")
    assert problems == []
