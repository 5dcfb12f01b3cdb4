"""Times for people, in the tenant's timezone: "5 minutes ago", "yesterday at 14:05",
"Sat 5 Dec, 15:25 (in 2 days)", with the exact local time one hover away."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Flask
from flask_login import current_user
from markupsafe import Markup, escape

from webapp.infra.types import utcnow


def tenant_zone() -> ZoneInfo:
    name = "UTC"
    if current_user and current_user.is_authenticated:
        name = current_user.tenant.timezone or "UTC"
    return ZoneInfo(name)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}{'s' if n != 1 else ''}"


def day_and_time(value: datetime, zone: ZoneInfo, now: datetime) -> str:
    """ "Sat 5 Dec, 15:25"; the year too when it is not this year."""
    local = _aware(value).astimezone(zone)
    year = f" {local.year}" if local.year != _aware(now).astimezone(zone).year else ""
    return f"{local:%a} {local.day} {local:%b}{year}, {local:%H:%M}"


def exact(value: datetime, zone: ZoneInfo) -> str:
    local = _aware(value).astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M:%S} {local:%Z}"


def distance_words(value: datetime, now: datetime, zone: ZoneInfo) -> str:
    """How far off, coarsely: "in 2 days", "3 hours ago", "tomorrow", "just now"."""
    value, now = _aware(value), _aware(now)
    seconds = (value - now).total_seconds()
    future = seconds > 0
    days = (value.astimezone(zone).date() - now.astimezone(zone).date()).days
    if abs(seconds) < 45:
        return "just now"
    if abs(seconds) < 3600:
        words = _plural(max(1, round(abs(seconds) / 60)), "minute")
    elif days == 0 or abs(seconds) < 6 * 3600:
        words = _plural(max(1, round(abs(seconds) / 3600)), "hour")
    elif abs(days) == 1:
        return "tomorrow" if future else "yesterday"
    elif abs(days) < 45:
        words = _plural(abs(days), "day")
    elif abs(days) < 365:
        words = _plural(round(abs(days) / 30.4), "month")
    else:
        words = _plural(round(abs(days) / 365.25), "year")
    return f"in {words}" if future else f"{words} ago"


def relative_words(value: datetime, now: datetime, zone: ZoneInfo) -> str:
    """ "just now", "5 minutes ago", "2 hours ago", "yesterday at 14:05", older: the date."""
    value, now = _aware(value), _aware(now)
    local, today = value.astimezone(zone), now.astimezone(zone)
    days = (local.date() - today.date()).days
    seconds = abs((value - now).total_seconds())
    if seconds < 3600 or days == 0:
        return distance_words(value, now, zone)
    if days in (-1, 1):
        return f"{'yesterday' if days == -1 else 'tomorrow'} at {local:%H:%M}"
    if local.year == today.year or days > 0:
        return day_and_time(value, zone, now)
    return f"{local.day} {local:%b %Y}"


def _time_tag(value: datetime, zone: ZoneInfo, words: str) -> Markup:
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        _aware(value).isoformat(), exact(value, zone), words)


def relative_time(value: datetime | None, now: datetime | None = None) -> Markup:
    """A <time> reading "2 hours ago", its exact local time in the title."""
    if value is None:
        return Markup("—")
    zone = tenant_zone()
    return _time_tag(value, zone, relative_words(value, now or utcnow(), zone))


def moment(value: datetime | None, now: datetime | None = None) -> Markup:
    """A <time> reading "Sat 5 Dec, 15:25", then how far off: " (in 2 days)"."""
    if value is None:
        return Markup("—")
    zone, now = tenant_zone(), now or utcnow()
    return _time_tag(value, zone, day_and_time(value, zone, now)) + \
        Markup(' <span class="muted">({})</span>').format(escape(distance_words(value, now, zone)))


def wall_clock(value: str | None) -> str:
    """A local-time campaign's wall-clock time ("2026-12-10T10:00") as "10 Dec 2026 at 10:00"."""
    try:
        return datetime.strptime(value or "", "%Y-%m-%dT%H:%M").strftime("%d %b %Y at %H:%M")
    except ValueError:
        return "—"


def register_time_filters(app: Flask) -> None:
    app.add_template_filter(relative_time, "relative_time")
    app.add_template_filter(moment, "moment")
    app.add_template_filter(wall_clock, "wall_clock")
