"""In Chromium: an owner invites a colleague from the Team page, the colleague opens the
emailed link in their own browser, chooses a name and password and lands in the app."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import OutboxMessage
from webapp.services.outbox import read_message

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def emailed_link(recipient: str) -> str:
    db.session.commit()
    raw = db.session.scalar(select(OutboxMessage.raw).where(OutboxMessage.recipient == recipient)
                            .order_by(OutboxMessage.id.desc()))
    db.session.commit()
    return re.search(r"https?://\S+(/invite/\S+)", read_message(raw).text).group(1)


def test_inviting_and_accepting_in_the_browser(page: Page, log_in, tenant_a, browser, base_url):
    log_in(tenant_a.owner_email)
    page.goto("/settings/")
    page.get_by_role("link", name="Team").click()
    page.wait_for_url("**/settings/team")
    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_label("Role", exact=True).select_option("admin")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".flash-success")).to_contain_text("Invitation sent to grace@example.com")
    expect(page.locator(".invite-row")).to_contain_text("Admin")

    colleague = browser.new_context(base_url=base_url, viewport=PHONE)
    their_page = colleague.new_page()
    their_page.goto(emailed_link("grace@example.com"))
    expect(their_page.get_by_role("heading", name="Join Arena Alpha")).to_be_visible()
    assert their_page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    their_page.get_by_label("Your name").fill("Grace Hopper")
    their_page.get_by_label("Choose a password").fill("a-long-new-password")
    their_page.get_by_role("button", name="Join and sign in").click()
    their_page.wait_for_url("**/dashboard")
    expect(their_page.locator(".flash-success")).to_contain_text("Welcome to Arena Alpha, Grace Hopper")
    colleague.close()

    page.reload()
    expect(page.locator(".member-row", has_text="grace@example.com")).to_contain_text("Grace Hopper")
    expect(page.locator(".invite-row")).to_have_count(0)
