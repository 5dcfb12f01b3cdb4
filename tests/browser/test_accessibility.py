"""Every main page passes axe-core's WCAG 2.1 A/AA checks without a serious or critical
violation, at desktop and phone widths: text contrast, links told apart from text by more than
colour, labelled controls, named buttons, images with alt text. So do the pages reached before
signing in (log in, unsubscribe, error pages) and the builders with their controls open.

axe-core comes pinned from npm (package.json; `make install` puts it in node_modules) and is
injected into the page under test. A failure names the page, the width, the rule, the element's
selector and, for contrast, the colours and the ratio found against the one needed."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .conftest import page_ready, release_database
from .main_pages import EMPTY_PAGES, build_demo

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"serious", "critical"}
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def run_axe(page: Page) -> list[dict]:
    """axe's violations on the page as it is now, reduced to what a fix needs."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing ({AXE}): run `make install` (npm install) first")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate("""async (tags) => {
        const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
        return result.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => ({
                target: n.target.join(' '), impact: n.impact, html: n.html.replace(/\\s+/g, ' ').slice(0, 120),
                data: (n.any.concat(n.all, n.none).find((c) => c.data && c.data.contrastRatio) || {}).data || null,
                summary: n.failureSummary,
            })),
        }));
    }""", WCAG_AA)


def describe(where: str, violations: list[dict]) -> list[str]:
    """One line per failing element: page and width, rule, selector, and the figures."""
    lines = []
    for violation in violations:
        for node in violation["nodes"]:
            if (node["impact"] or violation["impact"]) not in BLOCKING:
                continue
            detail = node["summary"].replace("\n", " ") if node["summary"] else ""
            data = node["data"]
            if data and "fgColor" in data:  # text contrast
                detail = (f"{data['fgColor']} on {data['bgColor']} is {data['contrastRatio']}:1, needs "
                          f"{data['expectedContrastRatio']} ({data['fontSize']}, {data['fontWeight']})")
            elif data and "nodeColor" in data:  # a link told from its text by colour alone
                detail = (f"link {data['nodeColor']} in text {data['parentColor']} differs by "
                          f"{data['contrastRatio']}:1 only (3:1 or an underline needed)")
            lines.append(f"{where}: {violation['id']} ({violation['impact']}) at `{node['target']}`: {detail}"
                         f" -- {node['html']}")
    return lines


def check(page: Page, where: str) -> list[str]:
    page_ready(page)
    return describe(where, run_axe(page))


def assert_clean(problems: list[str]) -> None:
    assert problems == [], f"{len(problems)} serious or critical accessibility violations:\n" + "\n".join(problems)


@pytest.fixture
def demo(app, tenant_a, shop, runner):
    return build_demo(app, tenant_a.id, shop, runner)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1440px", "390px"])
def test_every_main_page_passes_axe(page: Page, log_in, tenant_a, demo, viewport):
    page.set_viewport_size(viewport)
    log_in(tenant_a.owner_email)
    problems: list[str] = []
    for name, address in demo.pages.items():
        response = page.goto(address)
        assert response is not None and response.ok, f"{name} ({address}) answered {response and response.status}"
        problems += check(page, f"{name} ({address}) at {viewport['width']}px")
    assert_clean(problems)


def test_a_new_accounts_empty_pages_pass_axe(page: Page, log_in, tenant_b):
    """Empty states: what a new account sees on each list before it has anything."""
    page.set_viewport_size(PHONE)
    log_in(tenant_b.owner_email)
    problems: list[str] = []
    for name, address in EMPTY_PAGES.items():
        page.goto(address)
        problems += check(page, f"{name}, empty ({address}) at 390px")
    assert_clean(problems)


def test_pages_before_signing_in_pass_axe(page: Page, demo):
    """The log-in page, the unsubscribe pages a customer meets from an email, and error pages."""
    page.set_viewport_size(DESKTOP)
    problems: list[str] = []
    token = demo.unsubscribe_token
    for name, address in [("log in", "/login"), ("unsubscribe: preference centre", f"/u/{token}"),
                          ("unsubscribe: invalid link", "/u/not-a-token"), ("not found", "/no-such-page")]:
        page.goto(address)
        problems += check(page, f"{name} ({address})")
    page.goto(f"/u/{token}")
    page.get_by_role("button", name="Unsubscribe from everything").click()
    expect(page.locator(".flash-success")).to_contain_text("no more marketing emails")
    problems += check(page, "unsubscribe: unsubscribed from everything")
    assert_clean(problems)


def test_signed_in_error_pages_pass_axe(page: Page, log_in, tenant_a, demo):
    page.set_viewport_size(PHONE)
    log_in(tenant_a.owner_email)
    page.goto("/customers/999999999")
    problems = check(page, "customer not found (/customers/999999999)")
    page.goto("/no-such-page")
    problems += check(page, "page not found (/no-such-page)")
    assert_clean(problems)


def test_builders_with_their_controls_open_pass_axe(page: Page, log_in, tenant_a, demo):
    """The email builder's merge-tag dialog, a segment builder row being filled in, and the
    workflow builder's add-step controls: what appears only after a click is checked too."""
    page.set_viewport_size(DESKTOP)
    log_in(tenant_a.owner_email)
    problems: list[str] = []

    page.goto("/campaigns/new")
    page.locator(".eb-top > .eb-card-text").click()
    page.get_by_role("region", name="Selected block").get_by_role("button", name="Insert a merge tag").click()
    expect(page.get_by_role("dialog", name="Insert a merge tag")).to_be_visible()
    problems += check(page, "email builder, merge-tag dialog open")

    page.goto("/segments/new")
    page.locator("[data-action=add-condition]").first.click()
    page_ready(page)
    problems += check(page, "segment builder, a condition added")

    page.goto(demo.pages["workflow builder"])
    page.evaluate("() => document.querySelectorAll('details').forEach((el) => { el.open = true; })")
    problems += check(page, "workflow builder, every step's settings open")
    assert_clean(problems)


def test_every_page_has_a_language_and_a_skip_link_to_its_main_content(page: Page, log_in, tenant_a):
    release_database()
    page.set_viewport_size(DESKTOP)
    page.goto("/login")
    assert page.evaluate("() => document.documentElement.lang") == "en"
    log_in(tenant_a.owner_email)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()  # shown when focused, hidden otherwise
    skip.press("Enter")
    expect(page.locator("main")).to_be_focused()
