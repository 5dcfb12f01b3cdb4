"""Quiet hours for workflow emails: a send_email step that comes due between the tenant's
start and end (the customer's local time; their zone, else the tenant's) is held until the
end, and its enrollment runs again then. Transactional emails are exempt (the step says).

The window may cross midnight (21:00-08:00) or not (12:00-14:00); start is inside it, end is
not. Local times are turned into moments by the zone's rules, so a window across a change of
the clocks holds until the end as the wall clock shows it that day.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from webapp.models import Tenant
from webapp.services.campaigns.waves import wall_time_in, zone_or


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def in_window(local: time, start: time, end: time) -> bool:
    """Is the wall-clock time `local` inside [start, end), a window that may cross midnight?"""
    if start < end:
        return start <= local < end
    return local >= start or local < end


def held_until(now: datetime, zone: ZoneInfo, start: str, end: str) -> datetime | None:
    """When an email due at `now` (UTC) may go, if `now` falls in quiet hours in `zone`; None
    when it may go now."""
    local = now.astimezone(zone)
    start_at, end_at = _clock(start), _clock(end)
    if not in_window(local.time(), start_at, end_at):
        return None
    day = local.date() if local.time() < end_at else local.date() + timedelta(days=1)
    due = wall_time_in(datetime.combine(day, end_at), zone)
    # A window ending in the hour the clocks skip lands just after it; never earlier than now.
    return due if due > now else now + timedelta(minutes=1)


def quiet_hold(tenant: Tenant, customer_zone: str | None, now: datetime) -> tuple[datetime, str] | None:
    """(until, the trace's words) when the tenant's quiet hours hold an email to a customer
    in `customer_zone` at `now`; None when there are none, or it is not quiet there now."""
    if not tenant.quiet_hours_start or not tenant.quiet_hours_end:
        return None
    zone = zone_or(customer_zone, tenant.timezone)
    until = held_until(now.astimezone(UTC), zone, tenant.quiet_hours_start, tenant.quiet_hours_end)
    if until is None:
        return None
    return until, f"Held until {until.astimezone(zone):%H:%M} (quiet hours)"
