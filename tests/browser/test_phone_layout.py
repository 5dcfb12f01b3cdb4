"""At a phone's width (390x844) every main page fits the screen: nothing makes the page
wider than the viewport (wide tables scroll inside their card), and the navigation folds
behind a Menu button that opens it. With CRM_SCREENSHOTS=/some/dir each page is saved."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .conftest import page_ready
from .main_pages import build_demo

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def everything(app, tenant_a, shop, runner) -> dict[str, str]:
    """One of every kind of thing a marketer has, and the address of each main page."""
    return build_demo(app, tenant_a.id, shop, runner).pages


def shot(page: Page, name: str) -> None:
    folder = os.environ.get("CRM_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_every_main_page_fits_a_phone_screen(page: Page, log_in, tenant_a, everything):
    page.set_viewport_size(PHONE)
    log_in(tenant_a.owner_email)
    too_wide = {}
    for name, address in everything.items():
        response = page.goto(address)
        assert response is not None and response.ok, f"{name} ({address}) answered {response and response.status}"
        page_ready(page)
        widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        if widths[0] > widths[1]:
            # What sticks out, to say which element to fix.
            culprits = page.evaluate("""() => [...document.querySelectorAll('body *')]
                .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1
                        && !el.closest('.table-scroll, .table-card'))
                .slice(0, 5).map((el) => el.tagName.toLowerCase() + '.' + el.className)""")
            too_wide[name] = (widths, culprits)
        shot(page, f"phone-{name.replace(' ', '-').replace(chr(39), '')}")
    assert too_wide == {}, f"pages wider than a 390 px screen: {too_wide}"


def test_the_menu_button_opens_the_navigation_and_every_link_works(page: Page, log_in, tenant_a):
    page.set_viewport_size(PHONE)
    log_in(tenant_a.owner_email)
    page.goto("/customers/")
    menu = page.get_by_role("button", name="Menu")
    links = page.locator(".topbar nav a")
    expect(menu).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")
    # Folded: only the current section shows in the bar.
    expect(page.locator(".topbar .nav-current")).to_have_text("Customers")
    expect(page.locator(".topbar nav a:not(.active)").first).to_be_hidden()

    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    labels = links.all_inner_texts()
    assert {"Dashboard", "Customers", "Segments", "Campaigns", "Workflows", "Images", "Settings"} <= set(labels)
    for label in labels:
        link = page.locator(".topbar nav a", has_text=label)
        expect(link).to_be_visible()
        link.click(trial=True)  # visible, enabled, not covered: a tap would land on it
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    shot(page, "phone-menu-open")

    page.locator(".topbar nav a", has_text="Segments").click()
    page.wait_for_url("**/segments/")
    expect(page.locator(".topbar .nav-current")).to_have_text("Segments")
    expect(page.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "false")


def test_at_desktop_width_the_navigation_is_open_without_a_menu_button(page: Page, log_in, tenant_a):
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(tenant_a.owner_email)
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    for label in ("Dashboard", "Customers", "Segments", "Campaigns", "Workflows", "Images", "Settings"):
        expect(page.locator(".topbar nav a", has_text=label)).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
