"""The performance clock in a real Chromium: a marketer sets a reminder's offset, anchor,
late-buyer policy and event in the builder, reads the summary in words, and ticks "attach the
event" on the email step; both pages are looked at on a desktop and a phone."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import Page, expect

from webapp.extensions import db
from webapp.models import Tenant
from webapp.services import workflows
from webapp.services.events.catalogue import upsert_event

from .conftest import release_database

pytestmark = pytest.mark.browser

SHOTS = "/tmp/shots"


def shoot(page: Page, name: str) -> None:
    os.makedirs(SHOTS, exist_ok=True)
    for width, height in ((1440, 1000), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=f"{SHOTS}/event-clock-{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1440, "height": 1000})


def test_set_a_reminder_and_attach_the_event_to_its_email(page: Page, log_in, tenant_a):
    tenant = db.session.get(Tenant, tenant_a.id)
    tenant.postal_address, tenant.sender_email = "1 Stage Door, Leeds", "hello@alpha.example.com"
    show = upsert_event(tenant_a.id, {"external_id": "hl-1", "name": "Harbour Lights",
                                      "starts_at": "2027-05-01T20:00:00+01:00", "timezone": "Europe/London"}).event
    flow = workflows.create_workflow(tenant_a.id, {
        "name": "The night before", "trigger_type": "event_reminder", "trigger_config": {"offset": "-24h"},
        "steps": [{"type": "send_email", "config": {"subject": "Tomorrow: {{ trigger.event.name }}",
                                                    "content": "<p>See you at {{ trigger.event.when }}</p>"}}]})
    release_database()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(tenant_a.owner_email)

    page.goto(f"/workflows/{flow.id}")
    page.get_by_label("How long before").fill("-2h")
    page.get_by_label("Before", exact=True).select_option("doors_at")
    page.get_by_label("People who buy after that time").select_option("skip")
    page.get_by_label("Event", exact=True).select_option(str(show.id))
    page.get_by_role("button", name="Save trigger").click()
    expect(page.get_by_test_id("trigger-summary")).to_have_text(
        "2 hours before doors open for “Harbour Lights” (the venue's clock); late buyers are skipped")
    shoot(page, "builder")

    page.get_by_label("How long before").fill("next week")
    page.get_by_role("button", name="Save trigger").click()
    expect(page.get_by_text("must be like -7d, -24h, -2h or -30m")).to_be_visible()
    shoot(page, "builder-error")

    page.goto(f"/workflows/{flow.id}/steps/{workflows.steps_of(flow.id)[0].id}/email")
    page.get_by_label("Attach the event to add to a calendar (.ics)").check()
    page.get_by_role("button", name="Save").first.click()
    expect(page.get_by_label("Attach the event to add to a calendar (.ics)")).to_be_checked()
    shoot(page, "email-step")
    assert errors == []
