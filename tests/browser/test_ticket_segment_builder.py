"""The segment builder's ticket and event conditions in a real Chromium: "bought at least 4
VIP tickets in one order for Late Jazz" built from nothing while the count follows, the
event picked by name from a menu, saved and read back in words; the days until the next
event as a range; and the rows at a desktop's and a phone's width."""

from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest
from playwright.sync_api import Locator, Page, expect

from webapp.infra.types import utcnow

from .conftest import release_database

pytestmark = pytest.mark.browser

SHOTS = "/tmp/shots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


def shot(page: Page, name: str) -> None:
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=f"{SHOTS}/ticket-segments-{name}.png", full_page=True)


def count(page: Page) -> Locator:
    return page.get_by_test_id("preview-count")


def add_condition(page: Page) -> Locator:
    rows = page.get_by_test_id("condition")
    before = rows.count()
    page.get_by_test_id("root-group").locator(":scope > .group-actions [data-action=add-condition]").click()
    expect(rows).to_have_count(before + 1)
    return rows.nth(before)


@pytest.fixture
def ticket_buyers(tenant_a) -> dict[str, int]:
    """Ann bought 4 VIP seats for Late Jazz in one order, Bo 2, Cy a standing ticket for a
    rock night next week; Di bought nothing."""
    from webapp.services.activities import record_activity
    from webapp.services.customers import upsert_customer
    from webapp.services.events.catalogue import upsert_event

    soon = utcnow() + timedelta(days=10)
    jazz = upsert_event(tenant_a.id, {"external_id": "jazz-1", "name": "Late Jazz", "starts_at": soon.isoformat(),
                                      "venue": {"name": "Village Vanguard"}, "timezone": "America/New_York",
                                      "tags": {"genre": "Jazz"}}).event
    upsert_event(tenant_a.id, {"external_id": "rock-1", "name": "Loud Night",
                               "starts_at": (utcnow() + timedelta(days=5)).isoformat(), "venue": "Blue Note"})
    for email, first, order, event_id, items in (
            ("ann@example.com", "Ann", "o1", "jazz-1", [{"ticket_type": "Seated", "tier": "VIP", "quantity": 3},
                                                        {"ticket_type": "Seated", "tier": "VIP", "quantity": 1}]),
            ("bo@example.com", "Bo", "o2", "jazz-1", [{"ticket_type": "Seated", "tier": "VIP", "quantity": 2}]),
            ("cy@example.com", "Cy", "o3", "rock-1", [{"ticket_type": "Standing", "quantity": 1}])):
        upsert_customer(tenant_a.id, {"email": email, "first_name": first, "last_name": "Example"})
        record_activity(tenant_a.id, "purchase", customer={"email": email},
                        properties={"order_total": 100, "order_id": order, "event": {"id": event_id}, "items": items})
    upsert_customer(tenant_a.id, {"email": "di@example.com", "first_name": "Di", "last_name": "Example"})
    release_database()
    return {"jazz": jazz.id}


def test_build_a_group_buyers_segment_for_one_event_and_read_it_back(page: Page, log_in, tenant_a, ticket_buyers):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size(DESKTOP)
    log_in(tenant_a.owner_email)
    page.goto("/segments/new")
    page.get_by_label("Name", exact=True).fill("VIP groups at Late Jazz")

    row = add_condition(page)
    row.get_by_label("Condition type").select_option("ticket")
    expect(row.get_by_label("Operator")).to_have_value("bought")
    expect(count(page)).to_have_text("3")  # anyone with a ticket
    row.get_by_label("Tier", exact=True).fill("vip")
    expect(count(page)).to_have_text("2")
    row.get_by_label("Tickets in one order").fill("4")
    expect(count(page)).to_have_text("1")  # Ann's 3 + 1 in one order; Bo's 2 is no group of 4

    scope = row.get_by_label("Which events")
    expect(row.get_by_label("Event", exact=True)).to_be_hidden()
    scope.select_option("event")
    event_menu = row.get_by_label("Event", exact=True)
    expect(event_menu).to_be_visible()
    # Soonest first: Loud Night is in 5 days, Late Jazz in 10; labelled by name, date and venue.
    expect(event_menu.locator("option").first).to_contain_text("Loud Night")
    jazz_label = event_menu.locator("option", has_text="Late Jazz").inner_text()
    assert re.fullmatch(r"Late Jazz · \w{3} \d{1,2} \w{3}( \d{4})?, \d\d:\d\d · Village Vanguard", jazz_label)
    event_menu.select_option(label=jazz_label)
    expect(count(page)).to_have_text("1")
    expect(page.locator(".preview-sample")).to_contain_text("Ann Example")
    shot(page, "builder-1440")

    page.set_viewport_size(PHONE)
    shot(page, "builder-390")
    too_wide = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    assert not too_wide, "the builder is wider than a phone"
    page.set_viewport_size(DESKTOP)

    page.get_by_role("button", name="Save segment").click()
    expect(page).to_have_url(re.compile(r"/segments/\d+$"))
    expect(page.get_by_text(
        "Bought tickets (tier “vip”, at least 4 in one order) for “Late Jazz”")).to_be_visible()
    expect(page.locator("#member-rows .member-row")).to_have_count(1)
    shot(page, "saved")

    # Back in the builder, the row reads as it was saved.
    page.get_by_role("link", name=re.compile("Edit")).first.click()
    again = page.get_by_test_id("condition").first
    expect(again.get_by_label("Which events")).to_have_value("event")
    expect(again.get_by_label("Event", exact=True)).to_have_value(str(ticket_buyers["jazz"]))
    expect(again.get_by_label("Tickets in one order")).to_have_value("4")
    assert errors == []


def test_days_until_the_next_event_as_a_range_and_a_tag_scope(page: Page, log_in, tenant_a, ticket_buyers):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(tenant_a.owner_email)
    page.goto("/segments/new")

    row = add_condition(page)
    row.get_by_label("Condition type").select_option("days_until_next_event")
    row.get_by_label("Days", exact=True).fill("7")
    expect(count(page)).to_have_text("1")  # Cy's rock night in 5 days
    row.get_by_label("Operator").select_option("between")
    row.get_by_label("From days").fill("8")
    row.get_by_label("To days").fill("12")
    expect(count(page)).to_have_text("2")  # Ann and Bo: Late Jazz in 10 days

    upcoming = add_condition(page)
    upcoming.get_by_label("Condition type").select_option("upcoming_event")
    upcoming.get_by_label("Which events").select_option("event_tag")
    expect(upcoming.get_by_label("Tag kind")).to_have_value("genre")
    upcoming.get_by_label("Event tag").fill("rock")
    expect(count(page)).to_have_text("0")
    upcoming.get_by_label("Event tag").fill("JAZZ")
    expect(count(page)).to_have_text("2")
    shot(page, "days-and-tag-1440")

    # A range upside down: the message sits beside the row.
    row.get_by_label("To days").fill("3")
    expect(row.locator(".cond-error")).to_have_text("Value: to must not be below from")
    page.set_viewport_size(PHONE)
    shot(page, "days-and-tag-390")
    assert errors == []
