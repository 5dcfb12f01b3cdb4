"""The goal panel in a real Chromium, at 1440 and 390 px: the report's figures and the
treated vs held out bars, the goal saved through htmx with its condition rows mounted again
after the swap, and a refusal beside the form. With CRM_SCREENSHOTS=/some/dir each view is
saved."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import AutomationEnrollment, AutomationStepExecution
from webapp.services import workflows
from webapp.services.customers import upsert_customer

from .conftest import release_database

pytestmark = pytest.mark.browser


def shot(page: Page, name: str) -> None:
    folder = os.environ.get("CRM_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _measured_workflow(tenant_id: int) -> int:
    flow = workflows.create_workflow(tenant_id, {
        "name": "Win back lapsed buyers", "trigger_type": "custom",
        "goal": {"conditions": [{"type": "purchased_since_entry"}], "within_days": 14},
        "exit_conditions": {"conditions": [{"type": "tag", "operator": "has", "value": "do-not-contact"}]},
        "steps": [{"type": "holdout", "config": {"percent": 10}}, {"type": "wait", "config": {"days": 2}},
                  {"type": "add_tag", "config": {"tag": "nudged"}}]})
    holdout = workflows.steps_of(flow.id)[0]
    now = utcnow()
    for i in range(80):
        who = upsert_customer(tenant_id, {"email": f"c{i}@example.com"})[0].id
        held = i % 4 == 0
        converted = (not held and i % 3 == 0) or (held and i % 8 == 0)
        e = AutomationEnrollment(tenant_id=tenant_id, workflow_id=flow.id, customer_id=who, status="completed",
                                 trigger_type="custom", trigger_payload={}, enrolled_at=now, held_out=held,
                                 converted_at=now if converted else None)
        db.session.add(e)
        db.session.flush()
        db.session.add(AutomationStepExecution(tenant_id=tenant_id, enrollment_id=e.id, step_id=holdout.id,
                                               step_type="holdout", started_at=now, finished_at=now, outcome="done"))
    db.session.commit()
    return flow.id


@pytest.mark.parametrize("width", [1440, 390])
def test_the_goal_panel_reads_and_saves_at_both_widths(page: Page, log_in, tenant_a, width):
    flow = _measured_workflow(tenant_a.id)
    release_database()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size({"width": width, "height": 900})
    log_in(tenant_a.owner_email)
    page.goto(f"/workflows/{flow}")

    panel = page.locator("#goal-panel")
    expect(panel.get_by_text("Converted when, within 14 days of entering, a customer made a purchase")).to_be_visible()
    expect(panel.locator("[data-testid=holdout-compare] .verdict")).to_contain_text(
        "Customers who got the workflow converted at")
    expect(panel.locator(".rate-bar")).to_have_count(2)
    expect(panel.locator("[data-testid=exit-form] [data-condition-builder]")).not_to_be_empty()
    panel.scroll_into_view_if_needed()
    shot(page, f"goal-panel-{width}")

    panel.get_by_label("Counts within (days after entering)").fill("500")
    panel.get_by_role("button", name="Save goal").click()
    expect(page.locator("#goal-panel .criteria-error")).to_contain_text("must be a whole number of days")
    shot(page, f"goal-panel-error-{width}")

    page.locator("#goal-panel").get_by_label("Counts within (days after entering)").fill("7")
    page.locator("#goal-panel").get_by_role("button", name="Save goal").click()
    expect(page.locator("#goal-panel").get_by_text("Goal saved.")).to_be_visible()
    expect(page.locator("#goal-panel [data-testid=goal-form] [data-condition-builder]")).to_have_attribute(
        "data-mounted", "true")
    db.session.expire_all()
    assert workflows.get_workflow(tenant_a.id, flow).goal["within_days"] == 7
    assert errors == []
