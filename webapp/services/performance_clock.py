"""The performance clock's rules, pure: how an offset before a performance is written and
read, and when it falls on the venue's clock (the DST rule is services/events/reminders.py's
docstring). A leaf module: the event services and the trigger types both read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

# The kinds of change event_changed tells holders of.
CHANGE_KINDS = ("rescheduled", "cancelled", "moved", "changed")
OFFSET_RE = re.compile(r"^(-?)(\d{1,6})([dhm])$")
MAX_OFFSET = timedelta(days=90)
UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60}

@dataclass(frozen=True)
class Offset:
    """How long before the anchor: `amount` of `unit` (d, h or m)."""

    amount: int
    unit: str

    @property
    def delta(self) -> timedelta:
        return timedelta(seconds=self.amount * UNIT_SECONDS[self.unit])

    @property
    def whole_days(self) -> int | None:
        """The days of a wall-clock offset; None for elapsed time."""
        seconds = self.amount * UNIT_SECONDS[self.unit]
        return seconds // 86400 if self.unit != "m" and seconds % 86400 == 0 and seconds else None

    def __str__(self) -> str:
        return f"-{self.amount}{self.unit}" if self.amount else f"0{self.unit}"


def parse_offset(text: Any) -> Offset:
    """"-7d", "-24h", "-2h", "-30m" (or 0): an Offset, or ValueError saying what is allowed."""
    found = OFFSET_RE.match(text.strip().lower()) if isinstance(text, str) else None
    if found is None:
        raise ValueError("must be like -7d, -24h, -2h or -30m (days, hours or minutes before)")
    sign, amount, unit = found.groups()
    offset = Offset(int(amount), unit)
    if offset.amount and not sign:
        raise ValueError("must be before the event: write it with a minus, like -24h")
    if offset.delta > MAX_OFFSET:
        raise ValueError("must be at most 90 days before the event")
    return offset


def reminder_time(anchor: datetime, offset: Offset, zone: str) -> datetime:
    """When a reminder `offset` before `anchor` goes out (UTC), by the venue's clock in
    `zone` for whole days and by elapsed time otherwise (the module's DST rule)."""
    days = offset.whole_days
    if days is None:
        return (anchor - offset.delta).astimezone(UTC)
    venue = ZoneInfo(zone)
    wall = anchor.astimezone(venue).replace(tzinfo=None) - timedelta(days=days)
    return wall.replace(tzinfo=venue).astimezone(UTC)
