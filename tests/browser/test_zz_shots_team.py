from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import OutboxMessage, User
from webapp.services import audit, password_reset, team
from webapp.services.audit import Actor, Target
from webapp.services.outbox import read_message
from webapp.services.tenants import create_user

pytestmark = pytest.mark.browser
OUT = "/work/shots/team"


def link(prefix):
    db.session.commit()
    for raw in db.session.scalars(select(OutboxMessage.raw).order_by(OutboxMessage.id.desc())):
        m = re.search(re.escape(prefix) + r"\S+", read_message(raw).text or "")
        if m:
            return m.group(0)


def test_shots(page: Page, log_in, tenant_a, browser, base_url):
    owner = db.session.scalar(select(User).where(User.email == tenant_a.owner_email))
    owner.name = "Ada Lovelace"
    crew = create_user(owner.tenant, "charles.babbage@alpha.example.com", "crew-password-123", "marketer")
    crew.name = "Charles Babbage"
    create_user(owner.tenant, "viewer@alpha.example.com", "crew-password-123", "viewer")
    db.session.commit()
    team.invite(tenant_a.id, owner, "grace.hopper@example.com", "admin")
    invite_link = link("/invite/")
    team.invite(tenant_a.id, owner, "someone.with.a.very.long.address@subdomain.example.com", "viewer")
    password_reset.request_reset("charles.babbage@alpha.example.com", "127.0.0.1")
    reset_link = link("/password/reset/")
    me = Actor.of_user(owner, "203.0.113.9")
    audit.record(tenant_a.id, me, "settings.changed", changes={"timezone": ["UTC", "Europe/London"],
                                                               "sender_name": [None, "Arena Alpha Box Office"]})
    audit.record(tenant_a.id, me, "campaign.cancelled", target=Target("campaign", 1, "Spring sale"))
    audit.record(tenant_a.id, Actor.of_user(crew, "198.51.100.23"), "workflow.switched_on",
                 target=Target("workflow", 1, "Thank you for your order"))
    audit.record(tenant_a.id, Actor("token", "API token “Box office”", address="192.0.2.44"), "customers.exported",
                 target=Target("customers", None, "all customers"))
    audit.record(tenant_a.id, me, "member.role_changed", target=Target("member", 2, "Charles Babbage"),
                 changes={"role": ["viewer", "marketer"]})
    db.session.commit()
    log_in(tenant_a.owner_email)
    for width, label in ((1440, "desktop"), (390, "phone")):
        page.set_viewport_size({"width": width, "height": 900 if width > 400 else 844})
        for name, path in (("team", "/settings/team"), ("audit", "/settings/audit/"), ("settings", "/settings/")):
            page.goto(path)
            page.screenshot(path=f"{OUT}/{name}-{label}.png", full_page=True)
        other = browser.new_context(base_url=base_url, viewport={"width": width, "height": 900})
        p = other.new_page()
        for name, path in (("accept", invite_link), ("forgot", "/password/forgot"), ("reset", reset_link),
                           ("login", "/login")):
            p.goto(path)
            p.screenshot(path=f"{OUT}/{name}-{label}.png", full_page=True)
        p.goto("/password/forgot")
        p.get_by_label("Email").fill("nobody@example.com")
        p.get_by_role("button", name="Email me a link").click()
        p.screenshot(path=f"{OUT}/forgot-sent-{label}.png", full_page=True)
        p.goto("/invite/made-up-link")
        p.screenshot(path=f"{OUT}/unusable-{label}.png", full_page=True)
        other.close()
