"""Settings › Webhooks in a browser: add an endpoint by ticking events, copy the secret shown
once, reveal it again, and read the delivery log, at desktop and phone widths
(CRM_SHOTS_DIR=folder keeps screenshots of each page)."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from tests.browser.conftest import release_database
from webapp.extensions import db
from webapp.models import WebhookDelivery
from webapp.services import webhooks

pytestmark = pytest.mark.browser


def _shot(page: Page, name: str) -> None:
    folder = os.environ.get("CRM_SHOTS_DIR")
    if folder:
        page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)


def _log(tenant_id: int, endpoint_id: int) -> None:
    """Three deliveries: one delivered, one failing and retrying, one given up on."""
    webhooks.emit_many(tenant_id, "email.clicked", [{"n": n} for n in range(3)])
    db.session.commit()
    rows = [(200, 84, None, "succeeded", 1), (503, 5012, "HTTP 503 Service Unavailable", "pending", 2),
            (None, 5003, "request failed: timed out", "failed", 8)]
    ids = sorted(d.id for d in db.session.query(WebhookDelivery).filter_by(endpoint_id=endpoint_id))
    for delivery_id, (code, ms, error, status, attempts) in zip(ids, rows, strict=True):
        db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(
            last_status_code=code, last_response_ms=ms, last_error=error, status=status, attempts=attempts))
    db.session.commit()


@pytest.mark.parametrize("width, height", [(1440, 900), (390, 844)], ids=["desktop", "phone"])
def test_adding_an_endpoint_and_reading_its_log(page: Page, log_in, tenant_a, width, height):
    page.set_viewport_size({"width": width, "height": height})
    log_in(tenant_a.owner_email)
    page.goto("/settings/")
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_text("No endpoints yet")).to_be_visible()
    _shot(page, f"webhooks-empty-{width}")

    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_text("Choose at least one event.")).to_be_visible()
    page.get_by_label("Endpoint URL").fill("https://hooks.example.com/crm/events")
    page.get_by_label("Description").fill("Data warehouse")
    page.get_by_label("A link in an email is clicked").check()
    page.get_by_label("A customer unsubscribes from all marketing").check()
    page.get_by_role("button", name="Add endpoint").click()

    secret = page.get_by_test_id("webhook-secret")
    expect(secret).to_contain_text("whsec_")
    expect(page.get_by_role("button", name="Copy the signing secret")).to_be_visible()
    _shot(page, f"webhooks-created-{width}")
    shown = secret.inner_text()

    [endpoint] = webhooks.tenant_endpoints(tenant_a.id)
    _log(tenant_a.id, endpoint.id)
    release_database()
    page.goto(f"/settings/webhooks/{endpoint.id}")
    expect(page.get_by_test_id("webhook-secret")).to_have_count(0)
    expect(page.get_by_text("HTTP 503 Service Unavailable")).to_be_visible()
    expect(page.get_by_role("button", name="Resend this email.clicked event")).to_have_count(2)
    expect(page.get_by_text("Finished deliveries are kept for 30 days.")).to_be_visible()
    page.get_by_role("button", name="Reveal secret").click()
    expect(page.get_by_test_id("webhook-secret")).to_have_text(shown)
    _shot(page, f"webhooks-endpoint-{width}")

    page.get_by_role("link", name="Webhooks").last.click()
    expect(page.locator("tr.endpoint-row")).to_have_count(1)
    _shot(page, f"webhooks-list-{width}")
