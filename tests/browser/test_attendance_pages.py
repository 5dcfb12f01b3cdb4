"""Attendance in a real Chromium: a marketer sets a workflow to start when an event ends, for
its no-shows, with the event chosen by name; a customer's timeline says where they scanned in."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import Page, expect

from webapp.services import workflows
from webapp.services.activities import record_activity
from webapp.services.events.catalogue import upsert_event

from .conftest import release_database

pytestmark = pytest.mark.browser

SHOTS = os.environ.get("CRM_SHOTS_DIR", "/tmp/shots")
SHOW = {"external_id": "evt-100", "name": "Nils Frahm live", "starts_at": "2027-03-14T20:00:00+01:00",
        "ends_at": "2027-03-14T22:30:00+01:00", "venue": {"name": "Philharmonie", "city": "Berlin"},
        "timezone": "Europe/Berlin"}


def shoot(page: Page, name: str) -> None:
    os.makedirs(SHOTS, exist_ok=True)
    for width, height in ((1440, 1000), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1440, "height": 1000})


def test_a_workflow_for_the_no_shows_of_one_event_is_set_in_the_builder(page: Page, log_in, tenant_a):
    upsert_event(tenant_a.id, SHOW)
    created = workflows.create_workflow(tenant_a.id, {"name": "We missed you", "trigger_type": "event_ended",
                                                      "trigger_config": {}})
    release_database()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(tenant_a.owner_email)

    page.goto(f"/workflows/{created.id}")
    expect(page.get_by_test_id("trigger-summary")).to_have_text("When an event ends: everyone who held a ticket")
    page.get_by_label("Event").select_option(label="Nils Frahm live (14 Mar 2027)")
    page.get_by_label("Which ticket holders").select_option(label="Only no-shows")
    page.get_by_role("button", name="Save trigger").click()

    expect(page.get_by_test_id("trigger-summary")).to_have_text("When an event ends: no-shows of Nils Frahm live")
    expect(page.get_by_label("Which ticket holders")).to_have_value("False")  # the saved choice shows as chosen
    expect(page.get_by_label("Event")).to_contain_text("Nils Frahm live")
    shoot(page, "attendance-builder-event-ended")
    assert errors == []


def test_the_timeline_says_where_and_for_what_the_customer_scanned_in(page: Page, log_in, tenant_a):
    upsert_event(tenant_a.id, SHOW)
    record_activity(tenant_a.id, "purchase", customer={"email": "ada@example.com", "first_name": "Ada"},
                    properties={"order_total": 40, "order_id": "o-1", "currency": "EUR",
                                "event": {"id": "evt-100"}})
    activity, _ = record_activity(tenant_a.id, "ticket_scanned", customer={"email": "ada@example.com"},
                                  properties={"event": {"external_id": "evt-100"}, "ticket": "T-0001", "gate": "B"})
    release_database()
    log_in(tenant_a.owner_email)

    page.goto(f"/customers/{activity.customer_id}")

    scan = page.locator("#timeline .timeline-item.type-ticket_scanned")
    expect(scan).to_contain_text("Scanned in at gate B for Nils Frahm live")
    shoot(page, "attendance-timeline-scan")
