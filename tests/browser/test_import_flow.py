"""A marketer imports a CSV in a real browser: upload, remap a column and watch the preview
follow without a reload, start, and see the progress card turn into the summary."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from webapp.extensions import db

from .conftest import release_database

pytestmark = pytest.mark.browser

CSV = (b"Email,Given name,Seat\n"
       b"ann@example.com,Ann,A1\n"
       b"broken-address,Bob,B2\n"
       b"cy@example.com,Cy,C3\n")


def test_upload_map_preview_start_and_follow_the_import(page: Page, log_in, tenant_a, tmp_path):
    from webapp.models import CustomerImport
    from webapp.services.imports import run_import

    log_in(tenant_a.owner_email)
    page.get_by_role("link", name="Customers").click()
    page.get_by_role("link", name="Import CSV").click()
    expect(page.get_by_text("No imports yet")).to_be_visible()
    csv_file = tmp_path / "fans.csv"
    csv_file.write_bytes(CSV)

    page.get_by_label("CSV file").set_input_files(str(csv_file))
    page.get_by_role("button", name="Upload and map columns").click()

    expect(page.get_by_role("heading", name="fans.csv")).to_be_visible()
    preview = page.locator("#import-preview")
    expect(preview).to_contain_text("Rejected: email:")
    expect(preview).to_contain_text("Seat: A1")
    page.evaluate("window.__marker = 42")

    page.get_by_label("Seat").select_option("ignore")

    expect(preview).not_to_contain_text("Seat: A1")
    assert page.evaluate("window.__marker") == 42, "the preview reloaded the page"
    page.get_by_label("Given name").select_option("first_name")
    page.get_by_role("button", name="Import 3 rows").click()

    card = page.locator("#import-progress")
    expect(card).to_contain_text("Waiting for a worker")
    # No worker runs in the browser tests: play its part, the page polls for the outcome.
    release_database()
    import_id = db.session.query(CustomerImport.id).scalar()
    run_import(import_id)
    release_database()

    expect(card).to_contain_text("Import finished", timeout=10_000)
    expect(card.get_by_test_id("import-created")).to_have_text("2")
    expect(card.get_by_test_id("import-rejected")).to_have_text("1")
    expect(card.get_by_role("link", name="Download the 1 rejected rows with their reasons (CSV)")).to_be_visible()
