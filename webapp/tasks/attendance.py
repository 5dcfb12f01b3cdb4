"""Attendance jobs: the periodic sweep that settles events once they are over."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from webapp.services.events import attendance


def settle_ended_events(lookback_days: int | None = None) -> int:
    """Periodic (and `flask crm settle-events`): settle the attendance of every event past its
    end plus the grace for late scans, and fire event_ended; returns how many events were
    settled. Idempotent. `lookback_days` overrides EVENT_SETTLE_LOOKBACK_DAYS."""
    config = current_app.config
    if lookback_days is None:
        lookback_days = int(config.get("EVENT_SETTLE_LOOKBACK_DAYS", 14))
    return len(attendance.settle_ended_events(
        grace=timedelta(minutes=int(config.get("EVENT_SETTLE_GRACE_MINUTES", 120))),
        assumed_length=timedelta(minutes=int(config.get("EVENT_ASSUMED_LENGTH_MINUTES", 240))),
        lookback=timedelta(days=lookback_days)))
