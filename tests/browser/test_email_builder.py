"""The email builder in a real Chromium: an email built from blocks by dragging them from the
palette and from the keyboard (add, Alt+Arrow, Move up / Move down), a heading and a button
edited in the side panel, a merge tag inserted from the picker into rich text, saved (the
design read back from the database), previewed, and sent as a test that arrives in the Outbox
with the customer's first name. A bad link comes back marked on its block; at 390 px the
editor fits the screen."""

from __future__ import annotations

import json
import os
import re

import pytest
from playwright.sync_api import Locator, Page, expect

from webapp.extensions import db
from webapp.models import EmailCampaign, Tenant
from webapp.services import segments
from webapp.services.sending_domains import add_domain_of

from .conftest import release_database

pytestmark = pytest.mark.browser

SHOTS = "/work/shots/builder" if os.path.isdir("/work/shots") else "/tmp/shots/builder"
FIRST_NAME_TAG = '{{ customer.first_name | default("there") }}'


def shot(page: Page, name: str) -> None:
    settled(page)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def settled(page: Page) -> None:
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added")).to_have_count(0)


def design_on_page(page: Page) -> dict:
    """The design the builder has written into the form's hidden input."""
    return json.loads(page.locator("input[name=design]").input_value())


def block_types(page: Page) -> list[str]:
    return [block["type"] for block in design_on_page(page)["blocks"]]


def cards(page: Page) -> Locator:
    return page.locator(".eb-top > .eb-card")


def card(page: Page, block_type: str) -> Locator:
    return page.locator(f".eb-top > .eb-card-{block_type}")


def panel(page: Page) -> Locator:
    return page.get_by_role("region", name="Selected block")


def palette_button(page: Page, label: str) -> Locator:
    return page.get_by_role("region", name="Blocks you can add").get_by_role("button", name=label, exact=True)


def drag(page: Page, source: Locator, target: Locator, fraction: float = 0.5, steps: int = 30) -> None:
    """Press on `source` and move, as a hand does, to `fraction` of `target`'s height (the list
    moves while the dragged block enters it, so the aim is taken again on the way)."""
    start = source.bounding_box()
    x0, y0 = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    page.mouse.move(x0, y0)
    page.mouse.down()
    goal = target.bounding_box()
    for i in range(1, steps + 1):
        if i % 5 == 0:
            goal = target.bounding_box()
        page.mouse.move(x0 + (goal["x"] + goal["width"] / 2 - x0) * i / steps,
                        y0 + (goal["y"] + goal["height"] * fraction - y0) * i / steps)
        page.wait_for_timeout(16)
    page.mouse.up()


@pytest.fixture
def audience(tenant_a, shop) -> int:
    """A sender on a verified domain, a postal address and the VIPs (Ada and Grace)."""
    tenant = db.session.get(Tenant, tenant_a.id)
    tenant.sender_name, tenant.sender_email = "Arena Alpha Box Office", "tickets@alpha.example.com"
    tenant.postal_address = "1 Arena Way, 10115 Berlin"
    add_domain_of(tenant_a.id, tenant.sender_email)
    segment_id = segments.create_segment(tenant_a.id, "VIPs", [{"type": "tag", "operator": "has",
                                                               "value": "vip"}]).id
    release_database()
    return segment_id


def test_build_an_email_by_drag_and_keyboard_save_preview_and_send_a_test(
        page: Page, log_in, tenant_a, audience, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_URL", "outbox")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size({"width": 1440, "height": 1000})
    log_in(tenant_a.owner_email)
    page.goto("/campaigns/new")
    page.get_by_label("Campaign name").fill("Summer Jazz Night")
    page.get_by_label("Send to").select_option(label="VIPs")
    page.get_by_label("Subject").fill("Your seats are waiting")
    # A new campaign starts from the brand kit's design.
    assert block_types(page) == ["heading", "text", "button", "footer"]
    expect(page.locator("textarea[name=html_content]")).to_have_count(0)

    # The heading, edited in the side panel: the card and the preview follow.
    card(page, "heading").click()
    panel(page).get_by_label("Text", exact=True).fill("Summer Jazz Night")
    expect(card(page, "heading")).to_contain_text("Summer Jazz Night")
    expect(page.get_by_test_id("preview-frame").content_frame.get_by_role(
        "heading", name="Summer Jazz Night")).to_be_visible()

    # By drag: a divider from the palette, dropped on the top of the button's card, lands above it.
    drag(page, palette_button(page, "Divider"), card(page, "button"), fraction=0.25)
    expect(card(page, "divider")).to_have_count(1)
    assert block_types(page) == ["heading", "text", "divider", "button", "footer"]
    expect(page.get_by_test_id("builder-announcer")).to_contain_text("Divider added")

    # By keyboard: with the text selected, the palette's Spacer goes right after it and takes the
    # focus; Alt+ArrowUp moves it above the text, the Move down button back below.
    card(page, "text").click()
    palette_button(page, "Spacer").click()
    assert block_types(page) == ["heading", "text", "spacer", "divider", "button", "footer"]
    expect(card(page, "spacer")).to_be_focused()
    page.keyboard.press("Alt+ArrowUp")
    assert block_types(page) == ["heading", "spacer", "text", "divider", "button", "footer"]
    expect(page.get_by_test_id("builder-announcer")).to_have_text("Spacer moved: position 2 of 6.")
    expect(card(page, "spacer")).to_be_focused()
    page.keyboard.press("Alt+ArrowUp")
    page.keyboard.press("Alt+ArrowUp")  # already at the top: nothing moves, and it is said
    assert block_types(page) == ["spacer", "heading", "text", "divider", "button", "footer"]
    expect(page.get_by_test_id("builder-announcer")).to_have_text("Spacer is already at the top.")
    card(page, "spacer").get_by_role("button", name="Move down").click()
    card(page, "spacer").get_by_role("button", name="Move down").click()
    assert block_types(page) == ["heading", "text", "spacer", "divider", "button", "footer"]
    # Duplicate and delete.
    card(page, "divider").get_by_role("button", name="Duplicate").click()
    expect(card(page, "divider")).to_have_count(2)
    card(page, "divider").nth(1).get_by_role("button", name="Delete").click()
    assert block_types(page) == ["heading", "text", "spacer", "divider", "button", "footer"]

    # The button.
    card(page, "button").click()
    panel(page).get_by_label("Label", exact=True).fill("Book your seats")
    panel(page).get_by_label("Link", exact=True).fill("https://tickets.example.com/jazz")
    expect(card(page, "button")).to_contain_text("Book your seats")

    # A merge tag from the picker, at the end of the rich text.
    card(page, "text").click()
    editor = panel(page).locator(".ql-editor")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type(" See you soon, ")
    panel(page).get_by_role("button", name="Insert a merge tag").click()
    picker = page.get_by_role("dialog", name="Insert a merge tag")
    picker.get_by_role("searchbox").fill("first")
    expect(picker.get_by_role("button", name="Last name")).to_have_count(0)  # the search narrows it
    picker.get_by_role("button", name="First name").click()
    expect(picker).to_have_count(0)
    expect(card(page, "text").locator(".eb-chip").last).to_have_text("First name")  # a chip, not template code
    expect(card(page, "text")).not_to_contain_text("{{")
    expect(editor.locator(".eb-chip").last).to_have_text("First name")  # in the text editor too
    expect(editor).not_to_contain_text("{{")
    expect(page.get_by_test_id("preview-frame").content_frame.get_by_text("See you soon, there")).to_be_visible()
    shot(page, "builder-1440")

    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved")).to_be_visible()

    campaign = db.session.query(EmailCampaign).one()
    design = campaign.design
    release_database()
    assert [b["type"] for b in design["blocks"]] == ["heading", "text", "spacer", "divider", "button", "footer"]
    heading, text, _, _, button, _ = design["blocks"]
    assert heading["text"] == "Summer Jazz Night"
    assert text["html"].endswith(f"See you soon, {FIRST_NAME_TAG}</p>")
    assert (button["text"], button["url"]) == ("Book your seats", "https://tickets.example.com/jazz")
    assert "Summer Jazz Night" in campaign.html_content

    # The saved campaign opens in the builder again; the preview shows the heading.
    expect(card(page, "heading")).to_contain_text("Summer Jazz Night")
    frame = page.get_by_test_id("preview-frame").content_frame
    expect(frame.get_by_role("heading", name="Summer Jazz Night")).to_be_visible()
    expect(frame.get_by_role("link", name="Book your seats")).to_be_visible()
    page.get_by_text("Mobile", exact=True).click()
    expect(page.get_by_test_id("preview-frame")).to_have_css("width", "375px")
    page.get_by_text("Desktop", exact=True).click()

    # A test to myself, as Grace would get it.
    page.get_by_label("Preview as").fill("grace@example.com")
    expect(frame.get_by_text("See you soon, Grace")).to_be_visible()
    settled(page)
    page.get_by_label("Preview as").press("Tab")
    page.get_by_label("Send a test to").fill(tenant_a.owner_email)
    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_test_id("test-results")).to_contain_text(tenant_a.owner_email)

    # Up to the top bar first, as a person would: scrolled down, the editor's sticky preview
    # column lies over the bar's right-hand links, and a click there lands in the preview.
    page.evaluate("window.scrollTo(0, 0)")
    page.get_by_role("navigation").get_by_role("link", name="Outbox").click()
    row = page.locator("tr.outbox-row").first
    expect(row).to_contain_text("[TEST] Your seats are waiting")
    row.get_by_role("link", name=tenant_a.owner_email).click()
    message = page.get_by_test_id("html-part").content_frame
    expect(message.get_by_role("heading", name="Summer Jazz Night")).to_be_visible()
    expect(message.get_by_text("See you soon, Grace")).to_be_visible()
    expect(page.get_by_test_id("text-part")).to_contain_text("See you soon, Grace")
    assert errors == []


def test_a_bad_link_comes_back_marked_on_its_block_with_everything_kept(page: Page, log_in, tenant_a, audience):
    page.set_viewport_size({"width": 1440, "height": 1000})
    log_in(tenant_a.owner_email)
    page.goto("/campaigns/new")
    page.get_by_label("Campaign name").fill("Summer Jazz Night")
    page.get_by_label("Subject").fill("Your seats")
    card(page, "heading").click()
    panel(page).get_by_label("Text", exact=True).fill("Typed before saving")
    card(page, "button").click()
    panel(page).get_by_label("Link", exact=True).fill("tickets page")
    expect(page.get_by_test_id("preview-error")).to_contain_text("Block 3 (Button), Link")

    page.get_by_role("button", name="Save draft").click()

    expect(page.get_by_role("alert").filter(has_text="Not saved: Block 3 (Button), Link")).to_be_visible()
    expect(card(page, "button")).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(card(page, "button")).to_have_attribute("aria-current", "true")  # selected: its panel is open
    expect(card(page, "button").get_by_test_id("builder-block-error")).to_contain_text("Link: must be a web address")
    link = panel(page).get_by_label("Link", exact=True)
    expect(link).to_have_value("tickets page")
    expect(link).to_have_attribute("aria-invalid", "true")
    expect(panel(page).get_by_test_id("builder-field-error")).to_contain_text("must be a web address")
    expect(card(page, "heading")).to_contain_text("Typed before saving")
    shot(page, "builder-error-1440")

    link.fill("https://tickets.example.com/jazz")  # fixed: the marks go
    expect(card(page, "button").get_by_test_id("builder-block-error")).to_have_count(0)
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved")).to_be_visible()
    assert db.session.query(EmailCampaign).one().design["blocks"][0]["text"] == "Typed before saving"
    release_database()


def test_convert_to_html_asks_first_and_then_opens_the_code_editor(page: Page, log_in, tenant_a, audience):
    log_in(tenant_a.owner_email)
    page.goto("/campaigns/new")
    page.get_by_label("Campaign name").fill("Summer Jazz Night")
    page.get_by_label("Subject").fill("Your seats")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved")).to_be_visible()

    messages: list[str] = []

    def answer(dialog, accept: bool) -> None:
        messages.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, False))
    page.get_by_role("button", name="Convert to HTML…").click()
    expect(card(page, "heading")).to_be_visible()  # said no: still blocks
    assert "one-way" in messages[0]

    page.once("dialog", lambda dialog: answer(dialog, True))
    page.get_by_role("button", name="Convert to HTML…").click()
    expect(page.get_by_text("Converted to HTML")).to_be_visible()
    expect(page.get_by_label("HTML content")).to_contain_text("Your headline")
    expect(page.locator(".eb-card")).to_have_count(0)
    assert db.session.query(EmailCampaign).one().design is None
    release_database()


def test_at_390_px_the_editor_stacks_in_one_column_and_nothing_overflows(page: Page, log_in, tenant_a, audience):
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(tenant_a.owner_email)
    page.goto("/campaigns/new")
    palette = page.get_by_role("region", name="Blocks you can add").bounding_box()
    canvas = page.get_by_role("region", name="Your email, block by block").bounding_box()
    side = panel(page).bounding_box()
    assert palette["y"] < canvas["y"] < side["y"]  # one column: palette, then the email, then the panel
    assert abs(palette["x"] - canvas["x"]) < 2 and abs(canvas["x"] - side["x"]) < 2

    expect(page.get_by_test_id("preview-frame").content_frame.get_by_role("heading", name="Your headline")) \
        .to_be_visible()
    card(page, "text").click()
    panel(page).get_by_role("button", name="Insert a merge tag").click()
    wide = page.evaluate("""() => [...document.querySelectorAll('.editor-layout, .editor-layout *')]
        .filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
        .map((el) => el.className || el.tagName)""")
    assert wide == []
    layout = page.locator(".editor-layout")
    assert layout.evaluate("el => el.scrollWidth <= el.clientWidth")
    shot(page, "builder-390")


def test_an_uploaded_image_and_a_saved_block(page: Page, log_in, tenant_a, audience):
    from io import BytesIO

    from PIL import Image

    from webapp.models import EmailAsset

    picture = BytesIO()
    Image.new("RGB", (640, 320), (200, 60, 90)).save(picture, "PNG")
    page.set_viewport_size({"width": 1440, "height": 1000})
    log_in(tenant_a.owner_email)
    page.goto("/campaigns/new")
    page.get_by_label("Campaign name").fill("With a picture")
    page.get_by_label("Subject").fill("Look")

    # An image, uploaded from the panel: the card shows it; alt text from the panel.
    card(page, "heading").click()
    palette_button(page, "Image").click()
    panel(page).locator("input[type=file]").set_input_files(
        {"name": "stage.png", "mimeType": "image/png", "buffer": picture.getvalue()})
    # (Its public address is on BASE_URL, which is not this test server: the file is not fetched.)
    expect(card(page, "image").locator("img")).to_have_attribute("src", re.compile(r"/a/[\w-]+/stage\.png$"))
    panel(page).get_by_label("Alt text").fill("The stage")
    # A file that is not an image: the upload's own message, beside the field.
    panel(page).locator("input[type=file]").set_input_files(
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a picture"})
    expect(panel(page).get_by_role("alert").filter(has_text="image")).to_be_visible()

    # The heading saved as a block, then added from the palette's Saved blocks.
    card(page, "heading").click()
    panel(page).get_by_role("button", name="Save as block…").click()
    panel(page).get_by_label("Name of the saved block").fill("Big headline")
    panel(page).get_by_role("button", name="Save block").click()
    expect(panel(page).get_by_text("Saved as “Big headline”")).to_be_visible()
    page.get_by_role("region", name="Blocks you can add").get_by_role("button", name="Big headline").click()
    assert block_types(page) == ["heading", "heading", "image", "text", "button", "footer"]

    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved")).to_be_visible()
    expect(page.get_by_role("region", name="Blocks you can add").get_by_role("button", name="Big headline")) \
        .to_be_visible()  # saved blocks stay in the palette
    asset = db.session.query(EmailAsset).one()
    image = db.session.query(EmailCampaign).one().design["blocks"][2]
    release_database()
    assert (image["type"], image["asset_id"], image["alt"]) == ("image", asset.id, "The stage")
    expect(page.get_by_test_id("preview-frame").content_frame.get_by_role("img", name="The stage")).to_be_attached()
