"""Events: upcoming and past performances with what they sold and who came, and one event's
page with its ticket types, holders and the campaigns and workflows that touched it."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required
from markupsafe import Markup

from webapp.infra.errors import ValidationFailed
from webapp.infra.types import utcnow
from webapp.services.events import catalogue, overview
from webapp.services.events.waitlist import find_waitlist, join_url, waitlist_summary
from webapp.web.times import exact

bp = Blueprint("events", __name__, url_prefix="/events")

PAGE_SIZE = 25
TABS = (("upcoming", "Upcoming"), ("past", "Past"))


def _tab() -> str:
    return "past" if request.args.get("when") == "past" else "upcoming"


@bp.get("/")
@login_required
def index():
    tenant_id = current_user.tenant_id
    when = _tab()
    cursor = request.args.get("cursor") or None
    try:
        page = overview.events_page(tenant_id, when, cursor=cursor, limit=PAGE_SIZE)
    except ValidationFailed:
        # A cursor from an old link or typed by hand: the first page, not an error.
        page = overview.events_page(tenant_id, when, limit=PAGE_SIZE)
    any_events = bool(page.rows) or overview.has_events(tenant_id)
    return render_template("events/index.html", page=page, when=when, tabs=TABS, any_events=any_events,
                           later_page=bool(cursor), undated=overview.undated_events(tenant_id) if any_events else 0)


@bp.get("/<int:event_id>")
@login_required
def show(event_id: int):
    tenant_id = current_user.tenant_id
    event = catalogue.get_event(tenant_id, event_id)
    cursor = request.args.get("cursor") or None
    try:
        holders = overview.holders_page(tenant_id, event, cursor=cursor)
    except ValidationFailed:
        holders = overview.holders_page(tenant_id, event)
    waitlist = find_waitlist(event)
    return render_template("events/show.html", event=event, holders=holders, later_page=bool(cursor),
                           detail=overview.event_detail(tenant_id, event), now=utcnow(),
                           waitlist=waitlist_summary(tenant_id, [event.id])[event.id],
                           waitlist_url=join_url(waitlist) if waitlist else None)


@bp.app_template_filter("venue_time")
def venue_time(value: datetime | None, zone_name: str, with_year: bool = True) -> Markup:
    """A <time> reading "Sat 5 Dec 2026, 19:30" on the venue's clock, with the zone's
    abbreviation ("19:30 CET") when the venue is not in the organisation's zone."""
    if value is None:
        return Markup('<span class="muted">Date not known yet</span>')
    zone = ZoneInfo(zone_name)
    local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(zone)
    words = f"{local:%a} {local.day} {local:%b}" + (f" {local.year}" if with_year else "") + f", {local:%H:%M}"
    if zone_name != (current_user.tenant.timezone or "UTC"):
        words += f" {local.tzname()}"
    return Markup('<time datetime="{}" title="{}">{}</time>').format(local.isoformat(), exact(value, zone), words)


@bp.app_template_filter("clock_time")
def clock_time(value: datetime | None, zone_name: str) -> str:
    """Only the time of day on the venue's clock ("19:00"), for doors and end."""
    if value is None:
        return "—"
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(ZoneInfo(zone_name)).strftime("%H:%M")
