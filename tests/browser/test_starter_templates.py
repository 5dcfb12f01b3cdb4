"""Every starter template as a customer's inbox shows it, in a real Chromium at 600 px (a
desktop client's reading pane) and 375 px (a phone): nothing wider than the screen, every
image within it, and the columns of multi-column sections side by side on the desktop and
one above another on the phone.

The HTML is the personalised message itself: the starter's design compiled with the brand
kit, rendered for a customer with an upcoming event by the campaigns preview service.
Images are answered from this repository's files (the starter pictures) or with a wide PNG
(the event's picture), so the layout is measured with real image sizes and no network."""

from __future__ import annotations

import itertools
import struct
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route

from webapp.infra.types import utcnow
from webapp.services import campaigns, templates
from webapp.services.activities import record_activity
from webapp.services.templates import starters

from .conftest import make_customer, release_database

pytestmark = pytest.mark.browser

STATIC = Path(__file__).resolve().parents[2] / "static"
SHOTS = Path("/work/shots/templates")


def wide_png(width: int = 1600, height: int = 900) -> bytes:
    """A plain PNG wider than any email: the event's picture as a ticketing platform sends it."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    rows = (b"\x00" + b"\x80\x40\xc0" * width) * height
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


@pytest.fixture
def personalised(tenant_a) -> dict[str, str]:
    """{starter key: the HTML Ada gets}; Ada has tickets for an event next week."""
    ada = make_customer(tenant_a.id, "ada@example.com", first_name="Ada")
    record_activity(tenant_a.id, "purchase", customer_id=ada, properties={
        "order_total": 80, "order_id": "ORD-1", "tickets": 2,
        "event": {"id": "evt-1", "name": "Summer Jazz Night", "venue": "Riverside Hall",
                  "starts_at": (utcnow() + timedelta(days=7)).isoformat(),
                  "url": "https://tickets.example.com/evt-1", "image_url": "https://images.example.com/jazz.png"}})
    html = {}
    for view in templates.starter_templates(tenant_a.id):
        preview = campaigns.preview_content(tenant_a.id, {"subject": view.subject, "design": view.design}, ada)
        html[view.id.removeprefix(starters.PREFIX)] = preview["html"]
    release_database()
    return html


def serve_images(route: Route) -> None:
    url = route.request.url
    if "/static/email/starters/" in url:
        path = STATIC / "email" / "starters" / url.rsplit("/", 1)[1]
        route.fulfill(status=200, content_type="image/png", body=path.read_bytes())
    elif route.request.resource_type == "image":
        route.fulfill(status=200, content_type="image/png", body=wide_png())
    else:
        route.abort()


def render(page: Page, html: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.route("**/*", serve_images)
    page.set_content(html, wait_until="load")
    page.wait_for_function("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")


MEASURE = """() => {
  const box = el => { const r = el.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width}; };
  const sections = new Map();
  for (const column of document.querySelectorAll('[class*="mj-column-per-"]')) {
    const parent = column.parentElement;
    if (!sections.has(parent)) sections.set(parent, []);
    sections.get(parent).push(box(column));
  }
  return {
    scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
    images: Array.from(document.images).filter(i => i.getBoundingClientRect().width > 0)
                 .map(i => ({src: i.currentSrc, ...box(i)})),
    sections: Array.from(sections.values()).filter(columns => columns.length > 1),
  };
}"""


def measure(page: Page) -> dict:
    return page.evaluate(MEASURE)


def side_by_side(columns: list[dict]) -> bool:
    return all(abs(b["top"] - a["top"]) < 1 and b["left"] >= a["right"] - 1 for a, b in itertools.pairwise(columns))


def stacked(columns: list[dict]) -> bool:
    return all(b["top"] >= a["bottom"] - 1 for a, b in itertools.pairwise(columns))


@pytest.mark.parametrize("key", starters.ORDER)
@pytest.mark.parametrize("width", [600, 375])
def test_a_starter_fits_the_screen_and_its_columns_stack_on_phones(page: Page, personalised, key, width):
    render(page, personalised[key], width)
    found = measure(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"starter-{key}-{width}.png"), full_page=True)

    assert found["innerWidth"] == width
    assert found["scrollWidth"] <= width, f"{key} scrolls sideways at {width} px"
    assert found["images"], f"{key} shows no image"
    for image in found["images"]:
        assert image["left"] >= 0 and image["right"] <= width + 0.5, (key, width, image)
    for columns in found["sections"]:
        if width == 600:
            assert side_by_side(columns), (key, columns)
        else:
            assert stacked(columns), (key, columns)
            assert all(c["width"] > width * 0.8 for c in columns), "a stacked column takes the phone's width"


def test_the_multi_column_starters_really_have_columns(page: Page, personalised):
    """The stacking checks above are not vacuous: the what's-on starter has a 2- and a
    3-column section and the on-sale starter a 2-column one."""
    counts = {}
    for key in ("whats-on", "on-sale"):
        render(page, personalised[key], 600)
        counts[key] = sorted(len(columns) for columns in measure(page)["sections"])
    assert counts == {"whats-on": [2, 3], "on-sale": [2]}


def test_the_reminder_shows_adas_next_event_with_its_picture(page: Page, personalised):
    render(page, personalised["event-reminder"], 375)
    assert page.get_by_text("Summer Jazz Night").is_visible()
    assert page.get_by_text("See you soon, Ada").is_visible()
    images = measure(page)["images"]
    assert any(i["src"] == "https://images.example.com/jazz.png" and i["right"] <= 375 for i in images)


# --- the pages around templates, as a marketer sees them --------------------------------

def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1440, 390):
        # A viewport as tall as the page: Chromium does not paint sandboxed (out-of-process)
        # frames that are off screen, which a full-page capture of a short viewport would show blank.
        page.set_viewport_size({"width": width, "height": 900})
        height = page.evaluate("document.documentElement.scrollHeight")
        page.set_viewport_size({"width": width, "height": min(height, 6000)})
        page.wait_for_timeout(500)
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"))


def test_the_gallery_shows_each_template_rendered_and_starts_a_campaign(page: Page, log_in, tenant_a):
    from webapp.services import brand

    brand.update_brand(tenant_a.id, {"primary_color": "#c2185b", "font_family": "Georgia, 'Times New Roman', serif"})
    templates.create_template(tenant_a.id, {"name": "Our monthly layout", "subject": "This month",
                                            "design": {"version": 1, "blocks": [
                                                {"type": "heading", "text": "This month at Arena Alpha"},
                                                {"type": "text", "html": "<p>Hello {{ customer.first_name }}</p>"},
                                                {"type": "button", "text": "Book", "url": "https://x.example/"},
                                                {"type": "footer"}]}})
    templates.save_block(tenant_a.id, "Arena header", {"type": "heading", "text": "Arena Alpha", "level": 2})
    log_in(tenant_a.owner_email)
    page.route("**/static/email/starters/*", serve_images)
    page.goto("/campaigns/")
    page.get_by_role("link", name="Start from a template").first.click()
    page.wait_for_url("**/templates/")
    cards = page.get_by_test_id("template-card")
    assert cards.count() == 6
    # Each thumbnail is the email itself, drawn in its sandboxed frame (the frame is allowed here).
    for i in range(cards.count()):
        frame = cards.nth(i).locator("iframe").content_frame
        frame.locator("body").get_by_text("Unsubscribe").wait_for()
    on_sale = page.locator('[data-template="on-sale"] iframe').content_frame
    assert "Georgia" in on_sale.locator("h1").first.evaluate("e => getComputedStyle(e).fontFamily")
    shoot(page, "gallery")

    page.locator('[data-template="event-reminder"]').get_by_role("button", name="Use this template").click()
    page.wait_for_url("**/campaigns/*/edit")
    campaign = db_campaign(tenant_a.id)
    assert campaign.name == "Event reminder" and campaign.design is not None


def db_campaign(tenant_id: int):
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import EmailCampaign

    release_database()
    return db.session.scalars(select(EmailCampaign).where(EmailCampaign.tenant_id == tenant_id)).one()


def test_the_brand_kit_and_save_as_template_pages(page: Page, log_in, tenant_a):
    campaign = templates.create_campaign_from_template(tenant_a.id, "starter:on-sale")
    release_database()
    log_in(tenant_a.owner_email)
    page.route("**/static/email/starters/*", serve_images)
    page.goto("/settings/#brand-kit")
    page.get_by_label("Primary colour").fill("#0f7b6c")
    sample = page.locator(".brand-sample-button")
    assert sample.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(15, 123, 108)"
    page.get_by_label("Font").select_option(label="Georgia (serif)")
    page.get_by_label("Button corner radius (px)").fill("20")
    shoot(page, "settings-brand-kit")
    page.get_by_role("button", name="Save brand kit").click()
    page.wait_for_url("**/settings/#brand-kit")
    assert page.get_by_text("Brand kit saved.").is_visible()

    page.goto(f"/campaigns/{campaign.id}")
    shoot(page, "campaign-save-as-template")
    page.get_by_label("Template name").fill("Our on-sale layout")
    page.get_by_role("button", name="Save as template").click()
    page.wait_for_url("**/templates/#your-templates")
    assert page.get_by_text("Our on-sale layout").first.is_visible()
