"""In Chromium: a fan opens a signup form's hosted page, fills it in and submits it; the
confirmation email waits in the outbox; its link shows a Confirm button, and pressing it
subscribes the fan with the topics they chose and enrolls them in the signup workflow. The
public pages pass axe at phone and desktop widths, and fit a phone screen."""

from __future__ import annotations

import functools
import re
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.signup_forms.support import make_form, run_burst_worker, topic_ids
from webapp.extensions import db
from webapp.models import AutomationEnrollment, Customer, CustomerTopic, OutboxMessage, PendingSignup
from webapp.services import workflows
from webapp.services.outbox import read_message
from webapp.services.signup_forms import MIN_FILL_SECONDS, embed_snippet

from .conftest import release_database
from .test_accessibility import DESKTOP, PHONE, assert_clean, check

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """The public pages allow no script at all (their CSP): axe is injected past it here. That
    the policy is sent is checked in tests/signup_forms."""
    return {**browser_context_args, "bypass_csp": True}


def confirmation_link(recipient: str) -> str:
    db.session.commit()
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.recipient == recipient))
    db.session.commit()
    assert message is not None, f"no confirmation email to {recipient} in the outbox"
    return re.search(r"https?://\S+(/f/confirm/\S+)", read_message(message.raw).text).group(1)


def fits_the_screen(page: Page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1440px"])
def test_a_fan_signs_up_and_confirms_from_the_email(page: Page, log_in, tenant_a, runner, viewport):
    form = make_form(tenant_a.id)
    jazz, surveys = topic_ids(form)
    flow = workflows.create_workflow(tenant_a.id, {"name": "Welcome new fans", "trigger_type": "signup",
                                                   "steps": [{"type": "add_tag", "config": {"tag": "welcomed"}}]})
    workflows.set_active(tenant_a.id, flow.id, True)
    release_database()
    page.set_viewport_size(viewport)
    problems: list[str] = []

    page.goto(f"/f/{form.public_id}")
    expect(page.get_by_role("heading", name="Newsletter")).to_be_visible()
    problems += check(page, "hosted form")
    assert fits_the_screen(page)
    page.get_by_label("Email address").fill("grace@example.com")
    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Favourite genre").select_option("Rock")
    expect(page.get_by_label("Jazz listings")).to_be_checked()  # ticked by default
    page.get_by_label("Jazz listings").uncheck()
    page.get_by_label("Surveys").check()
    page.wait_for_timeout(MIN_FILL_SECONDS * 1000)  # a person takes this long at least
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    problems += check(page, "check your inbox")
    assert db.session.scalar(select(Customer.id)) is None  # nothing subscribed before confirmation
    db.session.commit()

    run_burst_worker(runner)
    page.goto(confirmation_link("grace@example.com"))
    expect(page.get_by_role("heading", name="Confirm your subscription")).to_be_visible()
    problems += check(page, "confirmation link")
    assert fits_the_screen(page)
    page.get_by_role("button", name="Confirm my subscription").click()
    expect(page.get_by_role("heading", name="You are subscribed")).to_be_visible()
    problems += check(page, "subscribed")
    assert_clean(problems)

    db.session.commit()
    grace = db.session.scalar(select(Customer).where(Customer.email == "grace@example.com"))
    assert (grace.first_name, grace.email_status, grace.attributes) == ("Grace", "subscribed",
                                                                        {"favourite_genre": "Rock"})
    assert dict(db.session.execute(select(CustomerTopic.topic_id, CustomerTopic.subscribed)).all()) == {
        jazz: False, surveys: True}
    assert db.session.scalar(select(AutomationEnrollment.customer_id).where(
        AutomationEnrollment.workflow_id == flow.id)) == grace.id
    release_database()

    log_in(tenant_a.owner_email)
    page.goto(f"/customers/{grace.id}")
    expect(page.get_by_text("Signed up with the form “Newsletter”")).to_be_visible()
    page.goto("/forms/")
    row = page.locator(".signup-form-row", has_text="Newsletter")
    expect(row.get_by_test_id("submissions")).to_have_text("1")
    expect(row.get_by_test_id("confirmations")).to_have_text("1")


def test_wrong_answers_show_beside_their_fields_on_the_hosted_page(page: Page, tenant_a):
    form = make_form(tenant_a.id)
    release_database()
    page.set_viewport_size(PHONE)
    page.goto(f"/f/{form.public_id}")
    page.get_by_label("Email address").fill("not an address")
    page.wait_for_timeout(MIN_FILL_SECONDS * 1000)
    page.get_by_role("button", name="Subscribe").click()

    expect(page.locator(".field", has=page.get_by_label("Email address")).locator(".field-error")).to_have_text(
        "Enter a valid email address, like name@example.com.")
    expect(page.locator(".field", has=page.get_by_label("First name")).locator(".field-error")).to_have_text(
        "Enter your first name.")
    expect(page.get_by_label("Email address")).to_have_value("not an address")
    assert_clean(check(page, "hosted form with errors"))


@pytest.fixture
def venue_website():
    """venue_website(html) -> the address of a page with `html`, served from another origin
    (a website of the organisation's), on loopback so Chromium lets it frame the app."""
    servers = []

    def serve(html: str) -> str:
        folder = tempfile.mkdtemp(prefix="venue-site-")
        Path(folder, "index.html").write_text(html)
        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(SimpleHTTPRequestHandler, directory=folder))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://localhost:{server.server_address[1]}/index.html"

    yield serve
    for server in servers:
        server.shutdown()


def test_the_pasted_snippet_works_inside_another_website_without_our_cookies(page: Page, tenant_a, base_url,
                                                                              venue_website):
    form = make_form(tenant_a.id)
    snippet = embed_snippet(form).replace("http://crm.test", base_url)  # BASE_URL of the suite's app
    release_database()
    page.goto(venue_website(f"<!doctype html><html lang='en'><title>Arena</title><h1>Arena</h1>{snippet}</html>"))

    frame = page.frame_locator("iframe[title='Newsletter']")
    frame.get_by_label("Email address").fill("ada@example.com")
    frame.get_by_label("First name").fill("Ada")
    page.wait_for_timeout(MIN_FILL_SECONDS * 1000)
    frame.get_by_role("button", name="Subscribe").click()

    expect(frame.get_by_role("heading", name="Check your inbox")).to_be_visible()
    assert page.context.cookies(base_url) == []
    db.session.commit()
    assert db.session.scalar(select(PendingSignup.email)) == "ada@example.com"
