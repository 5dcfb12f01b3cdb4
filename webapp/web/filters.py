"""Jinja filters for pages: dates in the tenant's timezone, money, durations, activity labels."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import Flask
from flask_login import current_user

from webapp.services.activity_text import with_moments
from webapp.services.formatting import format_money
from webapp.services.merge_tags import readable
from webapp.web.times import register_time_filters

ACTIVITY_LABELS = {
    "purchase": "Purchase",
    "signup": "Signed up",
    "note": "Note",
    "tag_added": "Tag added",
    "tag_removed": "Tag removed",
    "email_sent": "Email sent",
    "email_opened": "Email opened",
    "email_clicked": "Email clicked",
    "email_delivered": "Email delivered",
    "email_bounced": "Email bounced",
    "email_complained": "Marked as spam",
    "email_soft_bounced": "Soft bounce",
    "email_failed": "Email failed",
    "unsubscribed": "Unsubscribed",
    "resubscribed": "Resubscribed",
    "topic_subscribed": "Subscribed to a topic",
    "topic_unsubscribed": "Unsubscribed from a topic",
    "segment_entered": "Entered segment",
    "segment_exited": "Left segment",
    "workflow_enrolled": "Entered workflow",
    "workflow_completed": "Completed workflow",
    "workflow_exited": "Left workflow",
    "workflow_step": "Workflow step",
    "ticket_scan": "Ticket scanned",
    "ticket_scanned": "Ticket scanned",
    "page_view": "Page view",
    "customer_created": "Profile created",
    "waitlist_joined": "Joined a waitlist",
    "customer_updated": "Profile updated",
}


def local_time(value: datetime | None, fmt: str = "%d %b %Y, %H:%M") -> str:
    if value is None:
        return "—"
    tz = "UTC"
    if current_user and current_user.is_authenticated:
        tz = current_user.tenant.timezone or "UTC"
    return value.astimezone(ZoneInfo(tz)).strftime(fmt)


def _tenant():
    return current_user.tenant if current_user and current_user.is_authenticated else None


def money(value: Decimal | float | int | None, currency: str | None = None) -> str:
    """An amount in the tenant's currency and locale; `currency` (ISO 4217) when the amount
    carries its own (a purchase's)."""
    tenant = _tenant()
    return format_money(value, currency or (tenant.currency if tenant else None),
                        tenant.locale if tenant else None)


def duration(seconds: float) -> str:
    """How long something takes, in words a person reads at a glance."""
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} minute{'s' if minutes != 1 else ''}"
    hours, minutes = divmod(minutes, 60)
    text = f"about {hours} hour{'s' if hours != 1 else ''}"
    return text + (f" {minutes} minute{'s' if minutes != 1 else ''}" if minutes else "")


def activity_label(activity_type: str) -> str:
    return ACTIVITY_LABELS.get(activity_type, activity_type.replace("_", " ").capitalize())


def register_filters(app: Flask) -> None:
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(money, "money")
    app.add_template_filter(activity_label, "activity_label")
    # Subjects and preheaders with merge tags as their names: "Hi [First name]", not "{{ ... }}".
    app.add_template_filter(readable, "readable_tags")
    app.add_template_filter(duration, "duration")
    # "2 hours ago", "Sat 5 Dec, 15:25 (in 2 days)": webapp/web/times.py
    register_time_filters(app)
    # Text the product wrote with ISO timestamps in it, as parts for _readable.html's macro.
    app.add_template_filter(with_moments, "moments")
