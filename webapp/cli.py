"""`flask crm ...` commands for operators."""

from __future__ import annotations

import json
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.infra.errors import DomainError
from webapp.models import Tenant
from webapp.services.doctor import examine
from webapp.services.formatting import DEFAULT_CURRENCY, DEFAULT_LOCALE
from webapp.services.tenants import create_tenant
from webapp.tasks.attendance import settle_ended_events
from webapp.tasks.worker import run_worker

crm = AppGroup("crm", help="Operate the CRM: tenants, workers, demo data.")


@crm.command("create-tenant")
@click.option("--name", required=True, help="The organiser's name.")
@click.option("--admin-email", required=True, help="Login of the tenant's owner.")
@click.option("--admin-password", required=True, help="At least 10 characters.")
@click.option("--timezone", default="UTC", show_default=True)
@click.option("--sender-email", default=None, help="From address of its mail; its domain becomes a sending "
                                                   "domain (unverified until its TXT record is checked).")
@click.option("--sender-name", default=None, help="From name of its mail.")
@click.option("--postal-address", default=None, help="Shown in every email footer; required to send.")
@click.option("--currency", default=DEFAULT_CURRENCY, show_default=True,
              help="ISO 4217 code its money is shown in, e.g. EUR.")
@click.option("--locale", default=DEFAULT_LOCALE, show_default=True,
              help="How its amounts are written (language_TERRITORY), e.g. de_DE.")
def create_tenant_command(name: str, admin_email: str, admin_password: str, timezone: str, sender_email: str | None,
                          sender_name: str | None, postal_address: str | None, currency: str, locale: str) -> None:
    """Create a tenant with its owner and an API token; prints one JSON line."""
    try:
        tenant, user, secret = create_tenant(name, admin_email, admin_password, timezone=timezone,
                                             sender_email=sender_email, sender_name=sender_name,
                                             postal_address=postal_address, currency=currency, locale=locale)
    except DomainError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(2)
    click.echo(json.dumps({"tenant_id": tenant.id, "api_token": secret, "admin_email": user.email}))


@crm.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
@click.option("--no-scheduler", is_flag=True, help="Do not run the scheduler in this worker.")
def worker_command(burst: bool, no_scheduler: bool) -> None:
    """RQ worker for all queues, with the scheduler (run as many as you like)."""
    run_worker(current_app._get_current_object(), burst=burst, with_scheduler=not no_scheduler)


@crm.command("seed-demo")
@click.option("--customers", "n_customers", default=2000, show_default=True, type=click.IntRange(1))
@click.option("--if-empty", is_flag=True, help="Do nothing when any tenant exists.")
@click.option("--tenant-id", type=int, default=None, help="Add demo customers to this tenant.")
def seed_demo_command(n_customers: int, if_empty: bool, tenant_id: int | None) -> None:
    """Create a demo tenant with realistic ticketing customers, purchases and sign-ups."""
    # Local: create_app imports this module, so every `flask` invocation (the web server's
    # too) would load the demo's catalogue and row builders, which only this command uses.
    from webapp.services.demo import seed_demo  # noqa: PLC0415 (start-up cost, above)

    if if_empty and db.session.scalar(select(func.count()).select_from(Tenant)):
        click.echo("demo: database already has data, not seeding")
        return
    try:
        result = seed_demo(n_customers, tenant_id=tenant_id, progress=lambda msg: click.echo(msg, err=True))
    except DomainError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(2)
    click.echo(json.dumps(result))


@crm.command("doctor")
@click.option("--repair", is_flag=True, help="Mend what is found (otherwise only report it).")
def doctor_command(repair: bool) -> None:
    """Find rows earlier versions accepted that today's rules refuse (NaN in JSON, dates
    outside the calendar, definitions that no longer validate); --repair mends them. Exits
    with 1 when problems remain."""
    findings = examine(repair=repair)
    for finding in findings:
        click.echo(str(finding))
    left = sum(not f.repaired for f in findings)
    click.echo(f"doctor: {len(findings)} problem(s) found, {len(findings) - left} repaired, {left} left"
               + ("" if repair or not findings else "; run with --repair to mend them"))
    if left:
        sys.exit(1)


@crm.command("settle-events")
@click.option("--lookback-days", type=click.IntRange(1, 3650), default=None,
              help="Settle events that started up to this many days ago (default EVENT_SETTLE_LOOKBACK_DAYS, 14). "
                   "Their no-shows are told too (event_ended).")
def settle_events_command(lookback_days: int | None) -> None:
    """Settle the attendance of events that are over, once (the scheduler does this every few
    minutes): no_show for holders never scanned in, status ended, event_ended fired. Prints
    one JSON line."""
    click.echo(json.dumps({"settled": settle_ended_events(lookback_days)}))


def register_cli(app: Flask) -> None:
    app.cli.add_command(crm)
