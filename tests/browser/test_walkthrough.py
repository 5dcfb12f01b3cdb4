"""Every page renders in a real browser without a script error or a failed request.
With CRM_SCREENSHOTS=/some/dir each page is also saved as a PNG to look at."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


@pytest.fixture
def shots(page: Page):
    """shots(name): screenshot the page if CRM_SCREENSHOTS names a folder."""
    folder = os.environ.get("CRM_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)

    def take(name: str) -> None:
        if folder:
            # htmx has finished swapping (it marks elements while it works).
            expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added")).to_have_count(0)
            page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)

    return take


@pytest.fixture
def problems(page: Page) -> list[str]:
    """Console errors, uncaught exceptions and failed requests seen while the test runs."""
    seen: list[str] = []
    page.on("console", lambda msg: seen.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: seen.append(f"page error: {exc}"))
    # net::ERR_ABORTED is the browser dropping a request of a page the test has already
    # left (a click before the last page's script finished loading), not a failure.
    page.on("requestfailed", lambda req: None if req.failure == "net::ERR_ABORTED"
            else seen.append(f"failed: {req.url} ({req.failure})"))
    page.on("response", lambda res: seen.append(f"{res.status}: {res.url}") if res.status >= 400 else None)
    return seen


def test_every_page_renders_cleanly(page: Page, log_in, tenant_a, shop, shots, problems):
    page.goto("/login")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    shots("01-login")

    page.get_by_label("Email").fill(tenant_a.owner_email)
    page.get_by_label("Password").fill("wrong-password-here")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    shots("02-login-failed")
    problems.clear()  # the 401 above is the point of that step

    log_in(tenant_a.owner_email)
    expect(page.locator("[data-testid=customer-count]")).to_have_text("3")
    shots("03-dashboard")

    page.get_by_role("link", name="Customers").click()
    expect(page.locator("#customer-rows tr.customer-row")).to_have_count(3)
    shots("04-customers")

    page.get_by_role("link", name="Ada Lovelace").click()
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    page.get_by_placeholder("Add a note about this customer").fill("Asked about wheelchair access at Riverside Hall.")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#timeline .timeline-item").first).to_contain_text("wheelchair")
    shots("05-customer")

    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", name="Edit customer")).to_be_visible()
    shots("06-customer-edit")

    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    page.get_by_label("Token name").fill("Box office")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("[data-testid=new-token]")).to_be_visible()
    shots("07-settings")

    assert problems == []


def test_empty_states_render_cleanly(page: Page, log_in, tenant_a, shots, problems):
    from .conftest import make_customer, release_database

    quiet = make_customer(tenant_a.id, "quiet@example.com")
    release_database()
    log_in(tenant_a.owner_email)
    page.goto("/dashboard")
    expect(page.get_by_text("Nothing has happened yet")).to_be_visible()
    shots("08-dashboard-quiet")

    page.goto("/customers/?q=nobody")
    expect(page.locator(".empty-row")).to_contain_text("No customers match")
    shots("09-customers-no-match")

    page.goto(f"/customers/{quiet}")
    expect(page.get_by_text("No activity yet")).to_be_visible()
    shots("10-customer-empty")

    assert problems == []
