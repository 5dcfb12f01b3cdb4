"""The workflow builder in a real Chromium: build a three-step workflow by adding steps and
dragging one to the top (the order is saved via htmx and survives a reload), write the email
on its page, switch it on,
fire a purchase through the API, and see the customer on the first wait and the email in
the outbox."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import Locator, Page, expect

from webapp.extensions import db
from webapp.models import Tenant
from webapp.services import workflows
from webapp.services.workflows.engine import run_due

from .conftest import release_database

pytestmark = pytest.mark.browser

SHOTS = "/tmp/shots"


def settled(page: Page) -> None:
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added")).to_have_count(0)


def drag_above(page: Page, handle: Locator, target: Locator) -> None:
    """Drag by the handle to just above the target, in small moves as a hand would."""
    start, goal = handle.bounding_box(), target.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(goal["x"] + 10, goal["y"] + 4, steps=12)
    page.mouse.move(goal["x"] + 10, goal["y"] + 2, steps=3)
    page.mouse.up()


def step_types(page: Page) -> list[str]:
    return page.locator("#steps .step .step-type").all_inner_texts()


def test_build_drag_activate_and_watch_a_purchase_go_through(page: Page, log_in, tenant_a, client):
    tenant = db.session.get(Tenant, tenant_a.id)
    tenant.postal_address, tenant.sender_email = "1 Stage Door, Leeds", "hello@alpha.example.com"
    db.session.commit()
    release_database()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(tenant_a.owner_email)

    page.get_by_role("link", name="Workflows").click()
    expect(page.get_by_text("No workflows yet")).to_be_visible()
    page.get_by_label("Name").fill("Thank you, then upsell")
    page.get_by_label("Starts with").select_option("purchase")
    page.get_by_role("button", name="Create workflow").click()
    expect(page.get_by_text("No steps yet")).to_be_visible()

    for label in ("Wait", "Add tag", "Send email"):
        page.get_by_label("Add a step").select_option(label=label)
        page.get_by_role("button", name="Add step").click()
        settled(page)
    expect(page.locator("#steps .step")).to_have_count(3)
    assert step_types(page) == ["Wait", "Add tag", "Send email"]

    # The email goes first: drag it by its handle above the wait.
    steps = page.locator("#steps .step")
    drag_above(page, steps.nth(2).locator(".drag-handle"), steps.nth(0))
    settled(page)
    expect(page.locator("#steps .step .step-type").first).to_have_text("Send email")
    assert step_types(page) == ["Send email", "Wait", "Add tag"]
    page.reload()
    assert step_types(page) == ["Send email", "Wait", "Add tag"]  # saved, not only moved on screen

    # The email is written on its own page (the builder, as for campaigns): the trigger's data
    # personalises it.
    page.locator("#steps .step").first.get_by_role("link", name="Edit email").click()
    page.get_by_label("Subject").fill("Thanks for order {{ trigger.order_id }}")
    # The starting design's placeholder text would not let the workflow switch on: write the email.
    page.locator(".eb-top > .eb-card-heading").click()
    page.get_by_role("region", name="Selected block").get_by_label("Text", exact=True).fill("Your seats are booked")
    page.locator(".eb-top > .eb-card-text").click()
    editor = page.get_by_role("region", name="Selected block").locator(".ql-editor")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Shift+Home")
    page.keyboard.type("See you at the show.")
    page.get_by_role("button", name="Save email").click()
    expect(page.get_by_text("Email saved")).to_be_visible()
    page.get_by_role("link", name="Back to the workflow").first.click()
    expect(page.locator("#steps .step").first).to_contain_text("Send “Thanks for order [Order number]”")

    page.get_by_role("switch").click()
    settled(page)
    expect(page.get_by_role("switch")).to_have_attribute("aria-checked", "true")

    customer = client.post("/api/crm/customers", json={"email": "ada@example.com", "first_name": "Ada"},
                           headers=tenant_a.headers).get_json()
    response = client.post("/api/crm/activities", headers=tenant_a.headers, json={
        "customer_id": customer["id"], "type": "purchase", "properties": {"order_total": 120, "order_id": "ORD-77"}})
    assert response.status_code == 201
    run_due()  # what a worker does with the job the purchase enqueued
    release_database()

    page.reload()
    steps = page.locator("#steps .step")
    expect(steps.nth(0).locator("[data-testid=passed]")).to_have_text("1 passed")
    expect(steps.nth(0).locator("[data-testid=email-figures]")).to_contain_text("1 sent")
    expect(steps.nth(1).locator("[data-testid=on-step-now]")).to_have_text("1 on it now")
    os.makedirs("/tmp/shots", exist_ok=True)
    page.screenshot(path="/tmp/shots/workflows-builder.png", full_page=True)

    page.get_by_role("link", name="Enrollments (1)").click()
    row = page.locator("#enrollment-rows tr").first
    expect(row).to_contain_text("ada@example.com")
    expect(row).to_contain_text("waiting")
    expect(row).to_contain_text("Wait (step 2)")
    row.get_by_role("link").click()
    expect(page.locator(".trace-step")).to_have_count(2)
    expect(page.locator(".trace-step").nth(0)).to_contain_text("Thanks for order ORD-77")

    page.get_by_role("link", name="Outbox").click()
    expect(page.get_by_text("Thanks for order ORD-77")).to_be_visible()
    assert errors == []
    [workflow] = workflows.workflows_page(tenant_a.id).items
    assert workflow.active


def stored_steps(workflow_id: int) -> list:
    db.session.rollback()  # read what the live server committed
    return workflows.steps_of(workflow_id)


def test_a_condition_step_is_built_with_the_segment_builders_rows_and_saved(page: Page, log_in, tenant_a):
    workflow = workflows.create_workflow(tenant_a.id, {"name": "VIP upsell", "trigger_type": "purchase"})
    release_database()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    log_in(tenant_a.owner_email)
    page.goto(f"/workflows/{workflow.id}")

    page.get_by_label("Add a step").select_option(label="Condition")
    page.get_by_role("button", name="Add step").click()
    settled(page)
    step = page.locator("#steps .step").first
    rows = step.get_by_test_id("step-conditions")
    expect(step.locator("textarea")).to_have_count(0)  # no JSON to type
    expect(rows.get_by_test_id("condition")).to_have_count(1)
    first = rows.get_by_test_id("condition").first
    expect(first.get_by_label("Condition type")).to_have_value("tag")  # the step's starting condition
    first.get_by_label("Tag", exact=True).fill("student")
    rows.locator(":scope .cond-root > .group-actions [data-action=add-condition]").click()
    spent = rows.get_by_test_id("condition").nth(1)
    expect(spent.get_by_label("Condition type")).to_have_value("total_spent")
    spent.get_by_label("Amount").fill("50")
    step.get_by_label("Customers who match").select_option("any")
    expect(rows.locator(".cond-joiner")).to_have_text("or")
    page.screenshot(path=f"{SHOTS}/workflow-condition-step.png", full_page=True)

    step.get_by_role("button", name="Save step").click()
    settled(page)
    [saved] = stored_steps(workflow.id)
    assert saved.config == {"conditions": [{"type": "tag", "operator": "has", "value": "student"},
                                           {"type": "total_spent", "operator": ">=", "value": 50}],
                            "match": "any"}
    expect(page.locator("#steps .step").first.locator(".step-summary")).to_have_text(
        "Continue if has tag “student” or total spent at least 50, else exit")

    # A refused save: the message sits beside the row it is about, what was typed is kept.
    step = page.locator("#steps .step").first
    step.get_by_text("Edit", exact=True).click()
    spent = step.get_by_test_id("condition").nth(1)
    spent.get_by_label("Amount").fill("")
    step.get_by_role("button", name="Save step").click()
    settled(page)
    step = page.locator("#steps .step").first
    spent = step.get_by_test_id("condition").nth(1)
    expect(spent.locator(".cond-error")).to_have_text("Value: must be a number")
    expect(spent.get_by_label("Amount")).to_have_attribute("aria-invalid", "true")
    expect(step.get_by_test_id("condition").first.get_by_label("Tag", exact=True)).to_have_value("student")
    page.screenshot(path=f"{SHOTS}/workflow-condition-step-error.png", full_page=True)
    [unchanged] = stored_steps(workflow.id)
    assert unchanged.config == saved.config
    assert [p for p in problems if "422" not in p] == []  # the refused save itself is the only 4xx


def test_steps_reorder_from_the_keyboard_and_the_order_is_saved(page: Page, log_in, tenant_a):
    workflow = workflows.create_workflow(tenant_a.id, {
        "name": "Three steps", "trigger_type": "custom",
        "steps": [{"type": "wait", "config": {"days": 1}}, {"type": "add_tag", "config": {"tag": "a"}},
                  {"type": "remove_tag", "config": {"tag": "b"}}]})
    release_database()
    log_in(tenant_a.owner_email)
    page.goto(f"/workflows/{workflow.id}")
    assert step_types(page) == ["Wait", "Add tag", "Remove tag"]

    # Alt+ArrowUp on the third step's handle: it moves to position 2, and keeps the focus.
    page.locator("#steps .step").nth(2).locator("[data-move-handle]").focus()
    page.keyboard.press("Alt+ArrowUp")
    settled(page)
    expect(page.locator("#steps-announcer")).to_have_text("Step 3 moved to position 2")
    assert step_types(page) == ["Wait", "Remove tag", "Add tag"]
    expect(page.locator("#steps .step").nth(1).locator("[data-move-handle]")).to_be_focused()

    # The Move up / Move down buttons do the same.
    page.get_by_role("button", name="Move step 1 down").click()
    settled(page)
    expect(page.locator("#steps-announcer")).to_have_text("Step 1 moved to position 2")
    assert step_types(page) == ["Remove tag", "Wait", "Add tag"]
    expect(page.get_by_role("button", name="Move step 2 down")).to_be_focused()
    expect(page.get_by_role("button", name="Move step 1 up")).to_be_disabled()

    page.reload()
    assert step_types(page) == ["Remove tag", "Wait", "Add tag"]  # saved, not only moved on screen
    assert [s.type for s in stored_steps(workflow.id)] == ["remove_tag", "wait", "add_tag"]


def test_delete_workflow_sits_in_a_danger_zone_and_remove_step_is_a_button(page: Page, log_in, tenant_a):
    workflow = workflows.create_workflow(tenant_a.id, {
        "name": "Short", "trigger_type": "custom", "steps": [{"type": "add_tag", "config": {"tag": "a"}}]})
    release_database()
    log_in(tenant_a.owner_email)
    page.goto(f"/workflows/{workflow.id}")

    trigger_card = page.locator("section.card", has=page.get_by_role("heading", name="Trigger"))
    expect(trigger_card.get_by_role("button", name="Delete workflow")).to_have_count(0)
    danger = page.get_by_role("region", name="Delete this workflow")
    expect(danger.get_by_role("button", name="Delete workflow")).to_be_visible()

    step = page.locator("#steps .step").first
    step.get_by_text("Edit", exact=True).click()
    remove = step.get_by_role("button", name="Remove step 1")
    expect(remove).to_have_class(re.compile(r"\bdanger\b"))
    page.once("dialog", lambda dialog: dialog.accept())
    remove.click()
    settled(page)
    expect(page.get_by_text("No steps yet")).to_be_visible()
    assert stored_steps(workflow.id) == []
