"""In Chromium: a fan joins an event's waitlist on its hosted page; tickets come back, the
offer workflow emails the link; the offer page holds the tickets until the fan presses the
button, which takes them to the platform with the offer's token; an expired link says the
tickets passed on. The pages pass axe and fit a phone screen (screenshots in SHOTS)."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import EventWaitlist, OutboxMessage, Tenant, WaitlistEntry
from webapp.services import workflows
from webapp.services.customers import upsert_customer
from webapp.services.events import waitlist
from webapp.services.events.catalogue import upsert_event
from webapp.services.events.inventory import report_inventory
from webapp.services.outbox import read_message
from webapp.services.signup_forms import MIN_FILL_SECONDS
from webapp.services.tenants import hash_token
from webapp.services.workflows.engine import run_due

from .conftest import release_database
from .test_accessibility import DESKTOP, PHONE, assert_clean, check

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("CRM_SCREENSHOTS", "/tmp/crm-screenshots"))


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """The public pages allow no script (their CSP): axe is injected past it here."""
    return {**browser_context_args, "bypass_csp": True}


def _shot(page: Page, name: str, viewport: dict) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"waitlist-{name}-{viewport['width']}.png"), full_page=True)


def fits_the_screen(page: Page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def offer_link(recipient: str) -> str:
    db.session.commit()
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.recipient == recipient))
    db.session.commit()
    assert message is not None, f"no offer email to {recipient}"
    return re.search(r"https?://\S+(/w/offer/[A-Za-z0-9_-]+)", read_message(message.raw).text).group(1)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1440px"])
def test_a_fan_joins_gets_an_offer_and_takes_it_to_the_platform(page: Page, tenant_a, viewport):
    tenant = db.session.get(Tenant, tenant_a.id)
    tenant.postal_address, tenant.sender_email = "1 Stage Door, Leeds", "hello@alpha.example.com"
    event = upsert_event(tenant_a.id, {
        "external_id": "evt-1", "name": "Nightjar — Live at The Crypt", "starts_at": "2030-03-01T20:00:00+00:00",
        "doors_at": "2030-03-01T19:00:00+00:00", "timezone": "Europe/London", "capacity": 300,
        "venue": {"name": "The Crypt", "city": "Leeds"}, "url": "https://tickets.example.com/e/1"}).event
    report_inventory(tenant_a.id, event.id, {"available": 0})
    token = waitlist.waitlist_of(event).public_token
    flow = workflows.create_workflow(tenant_a.id, {
        "name": "Waitlist offer", "trigger_type": "waitlist_offer", "reentry": "always",
        "steps": [{"type": "send_email", "config": {
            "subject": "Tickets for {{ trigger.event.name }}",
            "content": '<p>Until {{ trigger.expires_when }}: <a href="{{ trigger.offer_url }}">get them</a></p>'}}]})
    workflows.set_active(tenant_a.id, flow.id, True)
    release_database()
    page.set_viewport_size(viewport)
    problems: list[str] = []

    page.goto(f"/w/{token}")
    expect(page.get_by_role("heading", name="Nightjar — Live at The Crypt")).to_be_visible()
    problems += check(page, "waitlist page")
    assert fits_the_screen(page)
    _shot(page, "join", viewport)
    page.get_by_label("Email address").fill("fan@example.com")
    page.get_by_label("Tickets wanted").select_option("2")
    page.wait_for_timeout(MIN_FILL_SECONDS * 1000)
    page.get_by_role("button", name="Join the waitlist").click()
    expect(page.get_by_role("heading", name="You are on the waitlist")).to_be_visible()
    problems += check(page, "joined")
    _shot(page, "joined", viewport)

    report_inventory(tenant_a.id, event.id, {"available": 2})
    run_due(now=utcnow())
    link = offer_link("fan@example.com")
    release_database()
    page.goto(link)
    expect(page.get_by_role("heading", name="Your tickets are waiting")).to_be_visible()
    problems += check(page, "offer")
    assert fits_the_screen(page)
    _shot(page, "offer", viewport)
    page.route("https://tickets.example.com/**", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<title>Platform</title><h1>Checkout</h1>"))
    page.get_by_role("button", name="Get my tickets").click()
    page.wait_for_url(re.compile(r"https://tickets\.example\.com/e/1\?waitlist_offer=.+"))

    page.goto(link)
    expect(page.get_by_role("heading", name="This offer was already used")).to_be_visible()
    _shot(page, "used", viewport)
    assert_clean(problems)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1440px"])
def test_an_expired_offer_says_the_tickets_passed_on(page: Page, tenant_a, viewport):
    event = upsert_event(tenant_a.id, {"external_id": "evt-2", "name": "Low Roar", "capacity": 10,
                                       "starts_at": "2030-05-01T19:30:00+02:00", "timezone": "Europe/Berlin"}).event
    report_inventory(tenant_a.id, event.id, {"available": 0})
    fan, _ = upsert_customer(tenant_a.id, {"email": "late@example.com"})
    entry, _ = waitlist.join(tenant_a.id, event, fan.id)
    db.session.commit()
    report_inventory(tenant_a.id, event.id, {"available": 1})
    entry = db.session.get(WaitlistEntry, entry.id)
    entry.offer_token_hash = hash_token("expired-offer-token")
    db.session.commit()
    waitlist.expire_offers(now=utcnow() + timedelta(hours=2))
    release_database()
    page.set_viewport_size(viewport)

    page.goto("/w/offer/expired-offer-token")
    expect(page.get_by_role("heading", name="This offer has expired")).to_be_visible()
    expect(page.get_by_text("the tickets passed to the next person on the waitlist")).to_be_visible()
    assert fits_the_screen(page)
    _shot(page, "expired", viewport)
    assert_clean(check(page, "expired offer"))
    assert db.session.scalar(select(EventWaitlist.offer_minutes)) == 60
