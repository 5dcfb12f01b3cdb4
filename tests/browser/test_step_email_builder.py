"""A workflow's email step in a real Chromium: add a Send email step, open it with "Edit
email", change the heading in the builder, insert the trigger's order number from the merge
tag picker, save, preview as a customer (with a sample purchase), send a test and read it in
the Outbox, then go back to the workflow and switch it on. At 390 px the page fits the screen."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import Locator, Page, expect

from webapp.extensions import db
from webapp.models import AutomationStep, Tenant
from webapp.services.sending_domains import add_domain_of

from .conftest import make_customer, release_database

pytestmark = pytest.mark.browser

SHOTS = "/work/shots/steps" if os.path.isdir("/work/shots") else "/tmp/shots/steps"


def settled(page: Page) -> None:
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added")).to_have_count(0)


def shot(page: Page, name: str) -> None:
    settled(page)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def card(page: Page, block_type: str) -> Locator:
    return page.locator(f".eb-top > .eb-card-{block_type}")


def panel(page: Page) -> Locator:
    return page.get_by_role("region", name="Selected block")


def preview(page: Page):
    return page.get_by_test_id("preview-frame").content_frame


@pytest.fixture
def box_office(tenant_a):
    """A sender on a verified domain, a postal address, and Ada."""
    tenant = db.session.get(Tenant, tenant_a.id)
    tenant.sender_name, tenant.sender_email = "Arena Alpha Box Office", "tickets@alpha.example.com"
    tenant.postal_address = "1 Arena Way, 10115 Berlin"
    add_domain_of(tenant_a.id, tenant.sender_email)
    make_customer(tenant_a.id, "ada@example.com", first_name="Ada")
    release_database()


def new_workflow_with_an_email_step(page: Page) -> None:
    page.get_by_role("link", name="Workflows").click()
    page.get_by_label("Name").fill("Thank you for your order")
    page.get_by_label("Starts with").select_option("purchase")
    page.get_by_role("button", name="Create workflow").click()
    page.get_by_label("Add a step").select_option(label="Send email")
    page.get_by_role("button", name="Add step").click()
    settled(page)


def test_write_a_workflow_email_with_the_builder_preview_test_and_switch_it_on(
        page: Page, log_in, tenant_a, box_office, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_URL", "outbox")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size({"width": 1440, "height": 1000})
    log_in(tenant_a.owner_email)
    new_workflow_with_an_email_step(page)

    step = page.locator("#steps .step").first
    expect(step).to_contain_text("An email not written yet")
    # Not written yet: the workflow will not switch on, and says which step to write.
    page.get_by_role("switch").click()
    expect(page.get_by_role("alert").filter(has_text="step 1 (send email)")).to_contain_text(
        "the email is not written yet: write its subject and message first")
    shot(page, "workflow-builder-new-email-1440")
    step.get_by_role("link", name="Edit email").click()

    expect(page.get_by_role("heading", name="Step 1: Send email")).to_be_visible()
    expect(page.get_by_test_id("step-context")).to_contain_text("A purchase")
    expect(page.get_by_label("Subject")).to_have_value("")
    page.get_by_label("Subject").fill("Thanks for order {{ trigger.order_id }}")

    # The heading, in the builder's side panel.
    card(page, "heading").click()
    panel(page).get_by_label("Text", exact=True).fill("Your seats are booked")
    expect(card(page, "heading")).to_contain_text("Your seats are booked")
    expect(preview(page).get_by_role("heading", name="Your seats are booked")).to_be_visible()

    # The trigger's order number from the merge tag picker, at the end of the text.
    card(page, "text").click()
    editor = panel(page).locator(".ql-editor")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Shift+Home")
    page.keyboard.type("Your order number is ")
    panel(page).get_by_role("button", name="Insert a merge tag").click()
    picker = page.get_by_role("dialog", name="Insert a merge tag")
    picker.get_by_role("searchbox").fill("order")
    picker.get_by_role("button", name="Order number").click()
    expect(card(page, "text").locator(".eb-chip").last).to_have_text("Order number")
    # The preview reads a sample purchase for {{ trigger.* }}.
    expect(preview(page).get_by_text("Your order number is ORDER-1001")).to_be_visible()
    card(page, "button").click()
    panel(page).get_by_label("Link", exact=True).fill("https://tickets.example.com/orders")
    shot(page, "step-email-1440")

    page.get_by_role("button", name="Save email").click()
    expect(page.get_by_text("Email saved")).to_be_visible()
    config = db.session.get(AutomationStep, db.session.query(AutomationStep.id).scalar()).config
    release_database()
    assert config["subject"] == "Thanks for order {{ trigger.order_id }}"
    assert config["design"]["blocks"][0]["text"] == "Your seats are booked"
    assert config["design"]["blocks"][1]["html"].endswith("Your order number is {{ trigger.order_id }}</p>")

    # As Ada would get it.
    page.get_by_label("Preview as").fill("ada@example.com")
    expect(preview(page).get_by_text("Hi Ada,")).to_be_visible()
    expect(page.get_by_test_id("preview-subject")).to_have_text("Thanks for order ORDER-1001")
    settled(page)
    page.get_by_label("Send a test to").fill(tenant_a.owner_email)
    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_test_id("test-results")).to_contain_text(tenant_a.owner_email)

    # Up to the top bar first, as a person would: scrolled down, the editor's sticky preview
    # column lies over the bar's right-hand links, and a click there lands in the preview.
    page.evaluate("window.scrollTo(0, 0)")
    page.get_by_role("navigation").get_by_role("link", name="Outbox").click()
    row = page.locator("tr.outbox-row").first
    expect(row).to_contain_text("[TEST] Thanks for order ORDER-1001")
    row.get_by_role("link", name=tenant_a.owner_email).click()
    message = page.get_by_test_id("html-part").content_frame
    expect(message.get_by_role("heading", name="Your seats are booked")).to_be_visible()
    expect(message.get_by_text("Hi Ada,")).to_be_visible()
    expect(page.get_by_test_id("text-part")).to_contain_text("Your order number is ORDER-1001")

    # Back to the workflow (the page said where it was), and on.
    page.go_back()
    page.go_back()
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Thank you for your order").click()
    step = page.locator("#steps .step").first
    expect(step).to_contain_text("Send “Thanks for order [Order number]”")
    expect(step).to_contain_text("built with blocks")
    page.get_by_role("switch").click()
    settled(page)
    expect(page.get_by_role("switch")).to_have_attribute("aria-checked", "true")
    shot(page, "workflow-builder-email-1440")
    assert errors == []


def test_a_bad_link_is_marked_on_its_block_and_html_can_be_chosen_one_way(page: Page, log_in, tenant_a, box_office):
    page.set_viewport_size({"width": 1440, "height": 1000})
    log_in(tenant_a.owner_email)
    new_workflow_with_an_email_step(page)
    page.locator("#steps .step").first.get_by_role("link", name="Edit email").click()
    page.get_by_label("Subject").fill("Your order")
    card(page, "button").click()
    panel(page).get_by_label("Link", exact=True).fill("tickets page")

    page.get_by_role("button", name="Save email").click()

    expect(page.get_by_role("alert").filter(has_text="Not saved: Block 3 (Button), Link")).to_be_visible()
    expect(card(page, "button")).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(page.get_by_label("Subject")).to_have_value("Your order")
    panel(page).get_by_label("Link", exact=True).fill("https://tickets.example.com/")
    page.get_by_role("button", name="Save email").click()
    expect(page.get_by_text("Email saved")).to_be_visible()

    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Convert to HTML…").click()
    # A post, a redirect and the editor's page again: on a loaded box (CI runs two browsers
    # beside the database) that once took longer than the default five seconds.
    expect(page.get_by_text("Converted to HTML")).to_be_visible(timeout=15_000)
    assert "one-way" in asked[0]
    expect(page.get_by_label("HTML content")).to_contain_text("Your headline")
    expect(page.locator(".eb-card")).to_have_count(0)
    expect(page.get_by_text("{{ trigger.order_id }}")).to_be_visible()  # the trigger's fields, beside the code


def test_at_390_px_the_step_email_page_fits_the_screen(page: Page, log_in, tenant_a, box_office):
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(tenant_a.owner_email)
    page.get_by_role("button", name="Menu").click()  # on a phone the navigation folds behind it
    new_workflow_with_an_email_step(page)
    shot(page, "workflow-builder-390")
    page.locator("#steps .step").first.get_by_role("link", name="Edit email").click()
    expect(preview(page).get_by_role("heading", name="Your headline")).to_be_visible()

    wide = page.evaluate("""() => [...document.querySelectorAll('main, main *')]
        .filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
        .map((el) => el.className || el.tagName)""")
    assert wide == []
    shot(page, "step-email-390")
