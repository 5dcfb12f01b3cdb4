"""Browser tests: the session app served on a free loopback port, driven by the system
Chromium through Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
import shutil

import pytest

from webapp.extensions import db

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    return path if path and os.path.exists(path) else None


def browser_required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("CRM_REQUIRE_BROWSER") == "1"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    path = chromium_path()
    if path is None:
        configured = os.environ.get("CHROMIUM_PATH")
        message = (f"CHROMIUM_PATH={configured} does not exist" if configured else
                   "no Chromium found: install the system package (apt-get install chromium) "
                   "or set CHROMIUM_PATH")
        if browser_required():
            pytest.fail(f"browser tests are required (CI / CRM_REQUIRE_BROWSER) but {message}")
        pytest.skip(message)
    return {**browser_type_launch_args, "executable_path": path, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def base_url(live_server):
    """Playwright resolves page.goto("/login") against this."""
    return live_server


def release_database() -> None:
    """End the test thread's transaction: on SQLite each transaction holds the one write
    lock, and the live server's requests would wait for it."""
    db.session.commit()


def page_ready(page) -> None:
    """The page has loaded and htmx has nothing in flight or settling: what a person sees once
    it stops moving. (Playwright's "networkidle" waits for half a second of silence on every
    page; over the sixty pages the accessibility and phone checks open, that was most of
    their time.)"""
    from playwright.sync_api import expect

    page.wait_for_load_state("load")
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


@pytest.fixture
def log_in(page, password):
    """log_in(email): through the real form, as a person would; lands on the dashboard."""

    def _log_in(email: str):
        release_database()
        page.goto("/login")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/dashboard")
        return page

    return _log_in


def make_customer(tenant_id: int, email: str, **fields) -> int:
    from webapp.services.customers import upsert_customer

    customer, _ = upsert_customer(tenant_id, {"email": email, **fields})
    return customer.id


@pytest.fixture
def shop(tenant_a) -> dict[str, int]:
    """Tenant A's customers, by first name: their ids."""
    from datetime import timedelta

    from webapp.infra.types import utcnow
    from webapp.services.activities import record_activity

    ids = {
        "ada": make_customer(tenant_a.id, "ada@example.com", first_name="Ada", last_name="Lovelace",
                             tags=["vip"]),
        "grace": make_customer(tenant_a.id, "grace@example.com", first_name="Grace", last_name="Hopper",
                               tags=["newsletter", "vip"]),
        "alan": make_customer(tenant_a.id, "alan@example.com", first_name="Alan", last_name="Turing",
                              tags=["student"]),
    }
    for n, (name, total) in enumerate([("ada", 120), ("grace", 45.5), ("ada", 60)]):
        record_activity(tenant_a.id, "purchase", customer_id=ids[name],
                        properties={"order_total": total, "order_id": f"ORD-{n}", "currency": "EUR",
                                    "tickets": 2, "event": {"id": f"ev-{n}", "name": "Summer Jazz Night",
                                                            "venue": "Riverside Hall"}},
                        occurred_at=utcnow() - timedelta(days=3 - n))
    release_database()
    return ids
