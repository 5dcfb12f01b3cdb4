"""The settings page's currency and number format: picking them shows how amounts will look
before saving, and once saved the customer list reads in them."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_picking_a_currency_and_locale_shows_the_example_then_pages_use_them(page: Page, log_in, tenant_a, shop):
    log_in(tenant_a.owner_email)
    page.goto("/settings/")
    example = page.get_by_test_id("money-example")
    expect(example).to_have_text("£1,234.50")

    page.get_by_label("Currency").select_option("EUR")
    expect(example).to_have_text("€1,234.50")
    page.get_by_label("Number format").select_option(label="German (Germany)")
    expect(example).to_have_text("1.234,50\xa0€")

    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    page.goto("/customers/")
    expect(page.locator("tr", has_text="Ada").locator("td.num").first).to_have_text("180,00\xa0€")
