"""bench_pages: every main page of the web app, signed in as the seeded tenant's owner.

The tenant bench_seed filled (or `_prepare`'s) gets what its pages show: a segment of its
VIPs, a campaign sent to them (delivered to the outbox by a real worker run, in this
process), a workflow with steps, and the season's events the seed made. Then each page is
fetched `page_requests` times through the Flask test client, the whole app included
(session, Flask-Login's user load, CSRF token, templates), and its p50 and p99 reported.

Baseline: a bare page measured in the same run the same way: a route on a copy of the app
that requires the same login and renders the app's layout around one line, so the ratio is
what a page costs beyond being a signed-in page of this app at all. The customer search is
fetched by a surname and by a fragment of an email address (trigram indexes on PostgreSQL).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from urllib.parse import quote

from flask import Flask, render_template_string
from flask_login import login_required
from sqlalchemy import func, select, update

from bench.harness import BenchEnvironment, Result, Row, Size, percentile
from webapp import create_app
from webapp.extensions import db
from webapp.models import AutomationEnrollment, AutomationWorkflow, Customer, Event, OutboxMessage, Tenant
from webapp.services.campaigns import create_campaign, send_campaign
from webapp.services.kept_counts import fold_kept_counts
from webapp.services.segments import create_segment
from webapp.services.sending_domains import add_domain_of
from webapp.services.workflows import create_workflow

OWNER = ("owner@bench.example.com", "bench-password-1")  # BenchEnvironment's tenant owner
SENDER = "news@bench-arena.example.com"
# The layout with one line in it: what every page of the app costs before its own work.
BARE_PAGE = '{% extends "base.html" %}{% block title %}Bare{% endblock %}{% block content %}<p>ok</p>{% endblock %}'
BARE_URL = "/bench-bare-page"


def run(env: BenchEnvironment, size: Size) -> Result:
    with env.app.app_context():
        pages, busiest = _pages(env, size)
    app = _app_with_bare_page(env)
    client = app.test_client()
    _login(client)
    # BENCH_PAGE_REQUESTS overrides the size's count: a page that takes seconds at a million
    # customers would otherwise keep a large run going for an hour.
    n = int(os.environ.get("BENCH_PAGE_REQUESTS") or size.page_requests)
    result = Result("bench_pages", f"GET of each main page as the owner of a tenant of {size.seed_customers:,} "
                                   f"customers, {n} requests each, through the whole app; ms per request, "
                                   f"baseline: a bare signed-in page of the app's layout ({BARE_URL})")
    # The bare page is fetched between every two requests of every page, so load that comes
    # and goes on a shared machine weighs on both sides; its figures pool the whole run.
    bare: list[float] = []
    measured = {name: _latencies(client, url, n, bare) for name, url in pages.items()}
    base50, base99 = percentile(bare, 50) * 1000, percentile(bare, 99) * 1000
    for name, times in measured.items():
        result.rows.append(Row(f"{name} p50", n, percentile(times, 50) * 1000, base50, unit="ms"))
        result.rows.append(Row(f"{name} p99", n, percentile(times, 99) * 1000, base99, unit="ms"))
    slowest = max(measured, key=lambda name: percentile(measured[name], 50))
    result.description += (f"\nsearches: {pages['customers search, surname']} and "
                           f"{pages['customers search, email fragment']}; slowest page by p50: {slowest} "
                           f"({percentile(measured[slowest], 50) * 1000:.1f} ms)")
    if busiest:
        result.description += f"; the busiest workflow has {busiest:,} enrollments"
    with app.app_context():
        db.engine.dispose()
    return result


def _latencies(client, url: str, n: int, bare: list[float]) -> list[float]:
    """Seconds per GET of `url`, `n` times after one warm-up, each followed by a GET of the
    bare page (its seconds appended to `bare`); any answer but 200 stops the run."""
    _get(client, url)
    times = []
    for _ in range(n):
        times.append(_timed_get(client, url))
        bare.append(_timed_get(client, BARE_URL))
    return times


def _timed_get(client, url: str) -> float:
    started = time.perf_counter()
    _get(client, url)
    return time.perf_counter() - started


def _get(client, url: str) -> None:
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")


def _login(client) -> None:
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    response = client.post("/login", data={"email": OWNER[0], "password": OWNER[1], "csrf_token": token})
    if response.status_code != 302:
        raise RuntimeError(f"login answered {response.status_code}")


def _app_with_bare_page(env: BenchEnvironment) -> Flask:
    """A second app on the same database and Redis, with the baseline's route (Flask takes
    no new route once an app has served a request, and the other benchmarks' has)."""
    keys = ("TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "REDIS_URL", "BASE_URL", "RATELIMIT_ENABLED")
    app = create_app({key: env.app.config[key] for key in keys})

    @login_required
    def bare_page():
        return render_template_string(BARE_PAGE)

    app.add_url_rule(BARE_URL, "bench_bare_page", bare_page)
    return app


def _pages(env: BenchEnvironment, size: Size) -> tuple[dict[str, str], int]:
    """What the tenant's pages show, made; the address of each page, and how many
    enrollments the busiest workflow has (0 when none is measured)."""
    tenant_id = env.tenant_id
    segment = create_segment(tenant_id, "VIP fans", [{"type": "tag", "value": "vip"}])
    campaign_id = _sent_campaign(env, segment.id)
    flow = create_workflow(tenant_id, {
        "name": "Thank you for your order", "trigger_type": "purchase", "trigger_config": {},
        "steps": [{"type": "wait", "config": {"days": 1}},
                  {"type": "send_email", "config": {"subject": "Thanks", "content": "<p>Thanks</p>"}},
                  {"type": "add_tag", "config": {"tag": "thanked"}}]})
    event_id = db.session.scalar(select(Event.id).where(Event.tenant_id == tenant_id).order_by(Event.starts_at.desc())
                                 .limit(1))
    # The busiest customer: the longest timeline and purchase history on one page.
    customer = db.session.scalars(select(Customer).where(Customer.tenant_id == tenant_id)
                                  .order_by(Customer.orders_count.desc(), Customer.id).limit(1)).one()
    # The busiest workflow, when another benchmark left one (bench_batch's purchase
    # workflows): a workflow's page grows with its enrollments.
    busiest = db.session.execute(select(AutomationEnrollment.workflow_id, func.count())
                                 .where(AutomationEnrollment.tenant_id == tenant_id)
                                 .group_by(AutomationEnrollment.workflow_id)
                                 .order_by(func.count().desc()).limit(1)).first()
    surname, email_fragment = _search_terms(tenant_id)
    # What the periodic job does every minute (kept-counts-fold): the pages read each kept
    # count's rows since the last fold, and the other benchmarks left a minute's and more.
    fold_kept_counts()
    message_id = db.session.scalar(select(func.max(OutboxMessage.id)).where(OutboxMessage.tenant_id == tenant_id))
    db.session.commit()
    pages = {
        "dashboard": "/dashboard",
        "customers list": "/customers/",
        "customers search, surname": f"/customers/?q={quote(surname)}",
        "customers search, email fragment": f"/customers/?q={quote(email_fragment)}",
        "a customer": f"/customers/{customer.id}",
        "segments list": "/segments/",
        "a segment": f"/segments/{segment.id}",
        "campaigns list": "/campaigns/",
        "a campaign": f"/campaigns/{campaign_id}",
        "a campaign report": f"/campaigns/{campaign_id}/report",
        "workflows list": "/workflows/",
        "a workflow": f"/workflows/{flow.id}",
        "events list": "/events/",
        "an event": f"/events/{event_id}",
        "settings": "/settings/",
        "outbox": "/outbox/",
        "an outbox message": f"/outbox/{message_id}",
    }
    if busiest is not None and busiest[0] != flow.id:
        # With a goal, as a marketer who measures the workflow has it: its page then reports
        # the conversions, per step and against the held out (services/workflows/goal_report.py).
        db.session.execute(update(AutomationWorkflow).where(AutomationWorkflow.id == busiest[0]).values(
            goal={"conditions": [{"type": "tag", "value": "thanked"}], "match": "all", "within_days": 7}))
        db.session.commit()
        pages["the busiest workflow, with a goal"] = f"/workflows/{busiest[0]}"
        return pages, busiest[1]
    return pages, 0


def _search_terms(tenant_id: int) -> tuple[str, str]:
    """A surname some customers share, and six letters from inside one customer's email."""
    middle = db.session.scalar(select(func.max(Customer.id)).where(Customer.tenant_id == tenant_id)) // 2
    customer = db.session.scalars(select(Customer).where(Customer.tenant_id == tenant_id, Customer.id >= middle)
                                  .order_by(Customer.id).limit(1)).one()
    local = customer.email.split("@")[0]
    return (customer.last_name or local).lower(), local[1:7]


def _sent_campaign(env: BenchEnvironment, segment_id: int) -> int:
    """A campaign to the segment, delivered to the outbox by a worker run in this process."""
    tenant = db.session.get(Tenant, env.tenant_id)
    tenant.sender_name, tenant.sender_email = "Bench Arena", SENDER
    tenant.postal_address = "Bench Arena, 1 Riverside Walk, Leeds LS1 4AB, United Kingdom"
    tenant.send_rate_per_second = 1_000_000
    add_domain_of(env.tenant_id, SENDER)
    db.session.commit()
    campaign = create_campaign(env.tenant_id, {
        "name": "Bench season announcement", "subject": "Hi {{ customer.first_name | default('there') }}",
        "html_content": '<p>Hi {{ customer.first_name | default("there") }}, the season is out: '
                        '<a href="https://bench-arena.example.com/season">see it</a>.</p>',
        "segment_id": segment_id})
    send_campaign(env.tenant_id, campaign.id)
    db.session.commit()  # the worker must not wait on this transaction (SQLite's write lock)
    # To the outbox, whatever an earlier benchmark of this run pointed the app at (bench_send's sink).
    mail_url, env.app.config["MAIL_URL"] = env.app.config["MAIL_URL"], "outbox"
    try:
        _run(lambda: env.app.test_cli_runner().invoke(args=["crm", "worker", "--burst", "--no-scheduler"]))
    finally:
        env.app.config["MAIL_URL"] = mail_url
    db.session.expire_all()
    return campaign.id


def _run(invoke: Callable[[], object]) -> None:
    result = invoke()
    if result.exit_code != 0:
        raise RuntimeError(f"the worker run failed: {result.output}")
