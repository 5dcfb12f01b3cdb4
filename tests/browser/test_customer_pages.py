"""A marketer in a real browser: log in, find a customer, note and tag them, all without
a page reload where the page promises one (htmx)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import make_customer, release_database

pytestmark = pytest.mark.browser

MARKER = "window.__marker"


def mark(page: Page) -> None:
    """A value that lives exactly as long as this document: a full page load erases it."""
    page.evaluate(f"{MARKER} = 42")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate(MARKER) == 42, "the page was reloaded"


def settled(page: Page) -> None:
    """Wait until htmx has finished swapping and wiring up new content (as a person would
    before using it): it marks elements with these classes while it works."""
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added")).to_have_count(0)


def test_log_in_search_open_a_customer_note_and_tag_without_reload(page: Page, log_in, tenant_a, shop):
    log_in(tenant_a.owner_email)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    page.get_by_role("link", name="Customers").click()
    rows = page.locator("#customer-rows tr.customer-row")
    expect(rows).to_have_count(3)
    # The rows arrive with the HTML, before the deferred htmx has wired the search box up;
    # a person does not type within those milliseconds, the test must not either.
    page.wait_for_load_state("load")
    mark(page)

    page.get_by_role("searchbox", name="Search customers").fill("hopper")

    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("grace@example.com")
    expect(page).to_have_url(re.compile(r"/customers/\?q=hopper"))  # shareable and Back-able
    assert_not_reloaded(page)

    rows.first.get_by_role("link", name="Grace Hopper").click()
    expect(page.get_by_role("heading", name="Grace Hopper")).to_be_visible()
    mark(page)
    timeline = page.locator("#timeline .timeline-item")
    expect(timeline).to_have_count(1)

    page.get_by_placeholder("Add a note about this customer").fill("Wants front-row seats for the gala")
    page.get_by_role("button", name="Add note").click()

    expect(timeline.first).to_contain_text("Wants front-row seats for the gala")
    expect(timeline.first).to_contain_text(tenant_a.owner_email)
    expect(page.get_by_placeholder("Add a note about this customer")).to_have_value("")

    page.get_by_label("New tag").fill("Front Row")
    page.get_by_role("button", name="Add tag").click()

    expect(page.locator("#tags .tag", has_text="front row")).to_be_visible()
    expect(timeline.first).to_contain_text("Tag added")
    expect(timeline.first).to_contain_text("front row")
    expect(timeline).to_have_count(3)
    expect(page.locator("#timeline")).to_contain_text("Wants front-row seats for the gala")
    expect(page.get_by_label("New tag")).to_have_value("")
    assert_not_reloaded(page)


def test_remove_a_tag_inline(page: Page, log_in, tenant_a, shop):
    log_in(tenant_a.owner_email)
    page.goto(f"/customers/{shop['grace']}")
    mark(page)

    page.get_by_role("button", name="Remove tag vip").click()

    expect(page.locator("#tags .tag", has_text="vip")).to_have_count(0)
    expect(page.locator("#tags .tag", has_text="newsletter")).to_be_visible()
    first = page.locator("#timeline .timeline-item").first
    expect(first).to_contain_text("Tag removed")
    expect(first).to_contain_text("vip")
    assert_not_reloaded(page)


def test_empty_note_and_bad_tag_are_explained_beside_their_fields(page: Page, log_in, tenant_a, shop):
    log_in(tenant_a.owner_email)
    page.goto(f"/customers/{shop['ada']}")
    mark(page)

    page.get_by_placeholder("Add a note about this customer").fill("   ")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#note-form .field-error")).to_have_text("Write something first.")

    page.get_by_label("New tag").fill("!!!")
    page.get_by_role("button", name="Add tag").click()
    expect(page.locator("#tags .field-error")).to_contain_text("letters, digits")
    expect(page.get_by_label("New tag")).to_have_value("!!!")

    expect(page.locator("#timeline .timeline-item")).to_have_count(2)  # the two purchases only
    assert_not_reloaded(page)


def test_timeline_loads_more_and_filters_by_type(page: Page, log_in, tenant_a):
    from webapp.services.activities import add_note

    busy = make_customer(tenant_a.id, "busy@example.com", first_name="Busy", tags=["vip"])
    for n in range(23):
        add_note(tenant_a.id, busy, f"Call number {n}")
    release_database()
    log_in(tenant_a.owner_email)
    page.goto(f"/customers/{busy}")
    mark(page)
    items = page.locator("#timeline .timeline-item")
    expect(items).to_have_count(20)

    page.locator("#timeline").get_by_role("button", name="Load more").click()

    expect(items).to_have_count(23)
    expect(items.last).to_contain_text("Call number 0")
    expect(page.locator("#timeline").get_by_role("button", name="Load more")).to_have_count(0)

    page.get_by_label("Filter timeline by type").select_option("purchase")

    expect(page.locator("#timeline .timeline-empty")).to_contain_text("No activity of this type")
    expect(items).to_have_count(0)
    settled(page)  # the filter itself was swapped in anew

    page.get_by_label("Filter timeline by type").select_option("note")

    expect(items).to_have_count(20)
    assert_not_reloaded(page)


def test_tag_filter_on_the_customer_list(page: Page, log_in, tenant_a, shop):
    log_in(tenant_a.owner_email)
    page.goto("/customers/")
    rows = page.locator("#customer-rows tr.customer-row")
    expect(rows).to_have_count(3)
    mark(page)

    page.get_by_label("Filter by tag").fill("vip")
    page.get_by_label("Filter by tag").press("Enter")

    expect(rows).to_have_count(2)
    expect(page.locator("#customer-rows")).not_to_contain_text("alan@example.com")
    expect(page).to_have_url(re.compile(r"tag=vip"))
    assert_not_reloaded(page)

    page.get_by_role("searchbox", name="Search customers").fill("zzz")

    expect(page.locator("#customer-rows .empty-row")).to_contain_text("No customers match")
    page.get_by_role("link", name="clear the search").click()
    expect(rows).to_have_count(3)


def test_action_after_the_session_ended_elsewhere_goes_to_the_login_page(page: Page, log_in, tenant_a, shop,
                                                                        password):
    from webapp.extensions import db
    from webapp.models import User
    from webapp.services.tenants import change_password

    log_in(tenant_a.owner_email)
    page.goto(f"/customers/{shop['ada']}")
    change_password(db.session.query(User).filter_by(email=tenant_a.owner_email).one(),
                    password, "changed-on-another-device")
    release_database()

    page.get_by_label("New tag").fill("late")
    page.get_by_role("button", name="Add tag").click()

    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
