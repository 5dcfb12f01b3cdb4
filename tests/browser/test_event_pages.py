"""The Events pages in a real browser: from the list to an event, to a holder's profile and
back through their upcoming tickets; and the demo season on a desktop and a phone (with
CRM_SCREENSHOTS=/some/dir each page is saved)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from webapp.services.demo import seed_demo

from .conftest import release_database
from .main_pages import build_demo
from .test_phone_layout import shot

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def test_from_the_events_list_to_a_holder_and_back(page: Page, log_in, app, tenant_a, shop, runner):
    pages = build_demo(app, tenant_a.id, shop, runner).pages
    page.set_viewport_size(DESKTOP)
    log_in(tenant_a.owner_email)

    page.get_by_role("link", name="Events", exact=True).first.click()
    row = page.locator("tr.event-row", has_text="Nils Frahm live")
    expect(row.get_by_test_id("tickets-sold")).to_have_text(re.compile(r"6\s+of 2,400"))
    expect(row.locator("time")).to_contain_text(re.compile(r"19:30 CES?T"))
    row.get_by_role("link").click()

    expect(page).to_have_url(re.compile(pages["an event"] + "$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Nils Frahm live")
    expect(page.get_by_test_id("event-doors")).to_have_text("18:45")
    page.get_by_role("link", name="ada@example.com").click()

    tickets = page.get_by_test_id("customer-tickets")
    expect(tickets).to_contain_text("3 tickets")
    tickets.get_by_role("link").click()
    expect(page).to_have_url(re.compile(pages["an event"] + "$"))

    page.goto(pages["past events"])
    expect(page.locator("tr.event-row", has_text="Spring gala").get_by_test_id("attendance")).to_have_text("50% came")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1440px", "390px"])
def test_the_demo_season_fits_the_screen(page: Page, log_in, tenant_a, viewport):
    seed_demo(400, tenant_id=tenant_a.id)
    release_database()
    page.set_viewport_size(viewport)
    log_in(tenant_a.owner_email)
    width = viewport["width"]
    for name, address in (("events", "/events/"), ("past-events", "/events/?when=past")):
        page.goto(address)
        expect(page.locator("tr.event-row").first).to_be_visible()
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width, name
        shot(page, f"{name}-{width}")
    for name, status in (("sold-out-event", "Sold out"), ("cancelled-event", "Cancelled")):
        page.goto("/events/")
        page.locator("tr.event-row", has_text=status).first.get_by_role("link").first.click()
        expect(page.get_by_test_id("event-status")).to_have_text(status)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width, name
        shot(page, f"{name}-{width}")
    page.goto("/events/?when=past")
    page.locator("tr.event-row").first.get_by_role("link").first.click()
    expect(page.get_by_test_id("attendance")).to_contain_text("% came")
    expect(page.locator("table.holders tbody tr").first).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    shot(page, f"past-event-{width}")
    page.locator("table.holders a").first.click()
    shot(page, f"holder-profile-{width}")
