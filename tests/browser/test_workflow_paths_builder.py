"""The builder shows a split's and a wait_for's paths side by side, each with its own
ordered steps and "Add step"; steps move within their path; on a phone the paths stack
with their headings. Screenshots go to /work/shots/paths/ for a person to look at."""

from __future__ import annotations

import os
import random

import pytest
from playwright.sync_api import Page, expect

from webapp.extensions import db
from webapp.models import AutomationStep
from webapp.services import workflows
from webapp.services.activities import record_activity
from webapp.services.customers import upsert_customer
from webapp.services.workflows.engine import run_due

from .conftest import release_database

pytestmark = pytest.mark.browser

SHOTS = os.environ.get("PATHS_SHOTS", "/tmp/shots/paths")


def settled(page: Page) -> None:
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added")).to_have_count(0)


def column(page: Page, heading: str):
    return page.locator("[data-testid=path]").filter(has=page.get_by_role("heading", name=heading, exact=True))


def test_add_a_split_then_a_step_on_path_b_and_see_it_there(page: Page, log_in, tenant_a):
    workflow = workflows.create_workflow(tenant_a.id, {"name": "Split test", "trigger_type": "purchase",
                                                       "steps": [{"type": "add_tag", "config": {"tag": "buyer"}}]})
    release_database()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(tenant_a.owner_email)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"/workflows/{workflow.id}")

    page.get_by_label("Add a step", exact=True).select_option(label="Random split")
    page.get_by_role("button", name="Add step", exact=True).click()
    settled(page)
    expect(column(page, "Path A · 50%")).to_be_visible()
    path_b = column(page, "Path B · 50%")
    expect(path_b).to_contain_text("No steps yet")
    # Side by side at 1440 px: B sits to the right of A, on the same row.
    a_box, b_box = column(page, "Path A · 50%").bounding_box(), path_b.bounding_box()
    assert b_box["x"] > a_box["x"] and abs(b_box["y"] - a_box["y"]) < 2

    path_b.get_by_label("Add a step to Path B · 50%").select_option(label="Add tag")
    path_b.get_by_role("button", name="Add step to Path B · 50%").click()
    settled(page)
    path_b.get_by_label("Add a step to Path B · 50%").select_option(label="Wait")
    path_b.get_by_role("button", name="Add step to Path B · 50%").click()
    settled(page)
    expect(path_b.locator(".step .step-type")).to_have_text(["Add tag", "Wait"])
    expect(column(page, "Path A · 50%").locator(".step")).to_have_count(0)
    expect(page.locator("#steps > li.step > .step-head .step-type")).to_have_text(["Add tag", "Random split"])
    expect(page.get_by_text("Then continue below.")).to_be_visible()

    # The keyboard move inside path B stays inside path B and is saved.
    path_b.get_by_role("button", name="Move step 2 of Path B · 50% up").click()
    settled(page)
    expect(path_b.locator(".step .step-type")).to_have_text(["Wait", "Add tag"])
    page.reload()
    expect(column(page, "Path B · 50%").locator(".step .step-type")).to_have_text(["Wait", "Add tag"])
    db.session.expire_all()
    on_b = db.session.query(AutomationStep).filter(AutomationStep.branch == 1).order_by(AutomationStep.position)
    assert [s.type for s in on_b] == ["wait", "add_tag"]
    release_database()

    # A wait_for's paths: "Happened" | "Timed out".
    page.get_by_label("Add a step", exact=True).select_option(label="Wait for an activity")
    page.get_by_role("button", name="Add step", exact=True).click()
    settled(page)
    expect(column(page, "Happened")).to_be_visible()
    expect(column(page, "Timed out")).to_be_visible()
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=f"{SHOTS}/builder-1440.png", full_page=True)

    # Four paths still sit side by side at 1440 px.
    split = next(s for s in workflows.steps_of(workflow.id) if s.type == "split")
    workflows.update_step(tenant_a.id, workflow.id, split.id, {"paths": [
        {"percent": 40}, {"percent": 30}, {"percent": 20, "name": "Offer"}, {"percent": 10}]})
    release_database()
    page.reload()
    tops = {round(column(page, h).bounding_box()["y"]) for h in
            ("Path A · 40%", "Path B · 30%", "Path C “Offer” · 20%", "Path D · 10%")}
    assert len(tops) == 1
    page.screenshot(path=f"{SHOTS}/builder-1440-four-paths.png", full_page=True)

    # A phone: the paths stack, each under its heading.
    page.set_viewport_size({"width": 390, "height": 900})
    page.reload()
    a_box, b_box = column(page, "Path A · 40%").bounding_box(), column(page, "Path B · 30%").bounding_box()
    assert b_box["y"] > a_box["y"] + a_box["height"] - 1 and abs(b_box["x"] - a_box["x"]) < 2
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=f"{SHOTS}/builder-390.png", full_page=True)
    assert errors == []


def test_the_trace_shows_the_paths_taken_at_both_widths(page: Page, log_in, tenant_a):
    workflow = workflows.create_workflow(tenant_a.id, {"name": "After the gig", "trigger_type": "purchase", "steps": [
        {"type": "split", "config": {"paths": [{"percent": 30}, {"percent": 70, "name": "Offer"}]}},
        {"type": "wait_for", "config": {"activity_type": "checked_in", "timeout": {"days": 2}}}]})
    split, wait_for = workflows.steps_of(workflow.id)
    for branch in (0, 1):
        workflows.add_step(tenant_a.id, workflow.id, "add_tag", {"tag": f"path-{branch}"}, parent_step_id=split.id,
                           branch=branch)
    workflows.add_step(tenant_a.id, workflow.id, "add_tag", {"tag": "came"}, parent_step_id=wait_for.id, branch=0)
    workflows.set_active(tenant_a.id, workflow.id, True)
    ada = upsert_customer(tenant_a.id, {"email": "ada@example.com", "first_name": "Ada"})[0]
    record_activity(tenant_a.id, "purchase", customer_id=ada.id, properties={"order_total": 10})
    run_due(rng=random.Random(4))
    record_activity(tenant_a.id, "checked_in", customer_id=ada.id)
    run_due()
    [(enrollment, _)] = workflows.enrollments_page(tenant_a.id, workflow.id).items
    release_database()
    log_in(tenant_a.owner_email)
    os.makedirs(SHOTS, exist_ok=True)
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"/workflows/{workflow.id}/enrollments/{enrollment.id}")
        expect(page.get_by_test_id("enrollment-path")).to_have_text(f"{enrollment.path}")
        expect(page.locator(".trace-step").first).to_contain_text("Took path")
        expect(page.locator(".trace-step").filter(has_text="Wait for an activity")).to_contain_text(
            "on the happened path")
        page.screenshot(path=f"{SHOTS}/trace-{width}.png", full_page=True)
    page.goto(f"/workflows/{workflow.id}/enrollments")
    expect(page.locator("#enrollment-rows tr").first).to_contain_text(f"took {enrollment.path}")
    page.screenshot(path=f"{SHOTS}/enrollments-390.png", full_page=True)
