"""The Images page in a real Chromium: a marketer uploads an image and sees it in the grid,
then deletes it after confirming. With CRM_SCREENSHOTS=/some/dir the page is saved at desktop
and phone widths (empty, and with images)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.assets.images import encode, jpeg, picture
from webapp.services.assets import upload_asset

from .conftest import release_database

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": 1440, "phone": 390}


def screenshots(page: Page, name: str) -> None:
    folder = os.environ.get("CRM_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.reload()
        page.wait_for_load_state("networkidle")
        page.screenshot(path=f"{folder}/assets-{name}-{label}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.reload()


def test_a_marketer_uploads_an_image_and_sees_it_in_the_grid(page: Page, log_in, tenant_a, tmp_path):
    image = tmp_path / "Summer Stage.jpg"
    image.write_bytes(jpeg((1200, 800)))
    log_in(tenant_a.owner_email)

    page.get_by_role("link", name="Images").click()
    expect(page.get_by_role("heading", name="Images")).to_be_visible()
    expect(page.get_by_text("Upload your logo and event images to use them in emails")).to_be_visible()
    screenshots(page, "empty")

    page.get_by_label("Image", exact=True).set_input_files(str(image))
    page.get_by_label("Alt text (optional)").fill("The main stage at night")
    page.get_by_role("button", name="Upload image").click()

    expect(page.get_by_role("status")).to_contain_text("Uploaded Summer_Stage.jpg (1200×800).")
    card = page.get_by_test_id("asset-grid").get_by_role("listitem")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Summer_Stage.jpg")
    expect(card).to_contain_text("1200 × 800")
    thumbnail = card.get_by_role("img", name="The main stage at night")
    expect(thumbnail).to_be_visible()
    # The thumbnail really loaded from the public URL (a broken image has no natural width).
    page.wait_for_function("img => img.complete && img.naturalWidth === 1200", arg=thumbnail.element_handle())

    for n, (size, colour) in enumerate([((600, 200), "RGBA"), ((400, 400), "RGB"), ((800, 1200), "RGB")]):
        upload_asset(tenant_a.id, f"artwork-{n}.png", encode(picture(size, colour, seed=n), "PNG"))
    release_database()
    page.reload()
    expect(page.get_by_test_id("asset-grid").get_by_role("listitem")).to_have_count(4)
    screenshots(page, "grid")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete Summer_Stage.jpg").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted Summer_Stage.jpg.")
    expect(page.get_by_test_id("asset-grid").get_by_role("listitem")).to_have_count(3)


def test_a_refused_file_is_explained_beside_the_field(page: Page, log_in, tenant_a, tmp_path):
    fake = tmp_path / "logo.png"
    fake.write_text("<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>")
    log_in(tenant_a.owner_email)
    page.goto("/assets/")

    page.get_by_label("Image", exact=True).set_input_files(str(fake))
    page.get_by_role("button", name="Upload image").click()

    expect(page.locator(".field.has-error")).to_contain_text("is not a PNG, JPEG, GIF or WebP image")
    expect(page.get_by_text("Upload your logo and event images to use them in emails")).to_be_visible()
