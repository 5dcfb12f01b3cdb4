"""Failed sign-ins per account cannot lock the owner out: an address the account signed in
from within the last 30 days has a budget of its own, while everyone else shares the
account's (RATELIMIT_LOGIN_ACCOUNT, 10 per 15 minutes). Counted in the suite's real Redis."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import UserSession

from .conftest import log_in
from .pages import csrf_from

OWNER_ADDRESS = "198.51.100.7"
ATTACKER_ADDRESS = "203.0.113.9"


@pytest.fixture
def account_budget(app) -> int:
    amount = int(app.config["RATELIMIT_LOGIN_ACCOUNT"].split()[0])
    assert "15 minute" in app.config["RATELIMIT_LOGIN_ACCOUNT"]
    return amount


@pytest.fixture
def browser_at(new_client):
    """browser_at(address) -> a fresh client whose requests come from that address."""

    def make(address: str):
        client = new_client()
        client.environ_base["REMOTE_ADDR"] = address
        return client

    return make


def sign_in_and_out(client, email: str, password: str) -> None:
    assert log_in(client, email, password).status_code == 302
    page = client.get("/dashboard").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": csrf_from(page)}).status_code == 302


def fail(client, email: str, times: int) -> list[int]:
    return [log_in(client, email, "not-the-password").status_code for _ in range(times)]


def test_the_owner_signs_in_from_a_known_address_after_failures_from_elsewhere(browser_at, tenant_a, password,
                                                                              account_budget):
    sign_in_and_out(browser_at(OWNER_ADDRESS), tenant_a.owner_email, password)
    attacker = browser_at(ATTACKER_ADDRESS)

    codes = fail(attacker, tenant_a.owner_email, account_budget + 2)

    assert codes == [401] * account_budget + [429] * 2
    assert log_in(browser_at(OWNER_ADDRESS), tenant_a.owner_email, password).status_code == 302


def test_the_attacker_address_stays_limited_even_with_the_right_password(browser_at, tenant_a, password,
                                                                         account_budget):
    sign_in_and_out(browser_at(OWNER_ADDRESS), tenant_a.owner_email, password)
    fail(browser_at(ATTACKER_ADDRESS), tenant_a.owner_email, account_budget)

    blocked = log_in(browser_at(ATTACKER_ADDRESS), tenant_a.owner_email, password)

    assert blocked.status_code == 429
    assert "Too many failed sign-in attempts" in blocked.get_data(as_text=True)
    # An address the account never signed in from shares the locked budget too.
    assert log_in(browser_at("192.0.2.44"), tenant_a.owner_email, password).status_code == 429


def test_failures_from_the_known_address_are_limited_there_too(browser_at, tenant_a, password, account_budget):
    sign_in_and_out(browser_at(OWNER_ADDRESS), tenant_a.owner_email, password)

    codes = fail(browser_at(OWNER_ADDRESS), tenant_a.owner_email, account_budget + 1)

    assert codes == [401] * account_budget + [429]
    # They were counted for that address only: the account's shared budget is untouched.
    assert log_in(browser_at(ATTACKER_ADDRESS), tenant_a.owner_email, "not-the-password").status_code == 401


def test_an_ipv6_owner_is_known_across_their_64_network(browser_at, tenant_a, password, account_budget):
    sign_in_and_out(browser_at("2001:db8:1:2::10"), tenant_a.owner_email, password)
    fail(browser_at(ATTACKER_ADDRESS), tenant_a.owner_email, account_budget)

    # The device picked a new privacy address in the same /64; another /64 is unknown.
    assert log_in(browser_at("2001:db8:1:2:abcd::99"), tenant_a.owner_email, password).status_code == 302
    assert log_in(browser_at("2001:db8:1:3::10"), tenant_a.owner_email, password).status_code == 429


def test_an_address_last_signed_in_from_over_30_days_ago_is_no_longer_known(browser_at, tenant_a, password,
                                                                            account_budget):
    sign_in_and_out(browser_at(OWNER_ADDRESS), tenant_a.owner_email, password)
    db.session.execute(update(UserSession).values(created_at=utcnow() - timedelta(days=31)))
    db.session.commit()
    fail(browser_at(ATTACKER_ADDRESS), tenant_a.owner_email, account_budget)

    assert log_in(browser_at(OWNER_ADDRESS), tenant_a.owner_email, password).status_code == 429
