"""Reading the values of a condition item: each refuses what the column it is compared with
cannot hold, and names the offending key."""

from __future__ import annotations

import calendar
import math
import re
from datetime import datetime
from typing import Any

from webapp.infra.errors import ValidationFailed
from webapp.infra.validation import read_moment, utc_moment

# The columns' bounds: total_spent is Numeric(14, 2), counts are 32-bit integers. Numbers
# compared with free-form attributes stay far inside a double.
MAX_MONEY = 10**12
MAX_COUNT = 2**31 - 1
MAX_NUMBER = 1e15

ATTRIBUTE_KEY_RE = re.compile(r"^[A-Za-z0-9_\-]{1,100}$")


def quote(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def read_number(value: Any, path: str, *, integer: bool = False, minimum: float | None = 0,
                maximum: float = MAX_NUMBER) -> float | int:
    """A JSON number within [minimum, maximum]: the bounds of the column it is compared with,
    so a condition can never ask the database for a value its type cannot hold."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationFailed(f"{path}.value", "must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationFailed(f"{path}.value", "must be a finite number")
    if integer and not float(value).is_integer():
        raise ValidationFailed(f"{path}.value", "must be a whole number")
    if minimum is not None and value < minimum:
        raise ValidationFailed(f"{path}.value", f"must be >= {minimum:g}")
    if minimum is None and value < -maximum:
        raise ValidationFailed(f"{path}.value", f"must be >= {-maximum:,g}")
    if value > maximum:
        raise ValidationFailed(f"{path}.value", f"must be <= {maximum:,}" if integer else f"must be below {maximum:,g}")
    return int(value) if integer else value


def read_days(value: Any, path: str) -> int:
    days = read_number(value, path, integer=True, minimum=0)
    if days > 36500:
        raise ValidationFailed(f"{path}.value", "must be at most 36500 days")
    return int(days)


def read_date(value: Any, path: str) -> datetime:
    """A date (YYYY-MM-DD, taken in UTC) or an ISO 8601 datetime with offset, inside the
    product's calendar (the compiler adds a day to "on" dates; the engine adds windows)."""
    if not isinstance(value, str):
        raise ValidationFailed(path, "must be a date (YYYY-MM-DD) or an ISO 8601 datetime")
    moment = read_moment(value)
    if moment is None:
        raise ValidationFailed(path, f"'{value[:40]}' is not a date (YYYY-MM-DD) or an ISO 8601 datetime")
    return utc_moment(moment, path)


def read_text(value: Any, path: str, max_length: int = 320) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"{path}.value", "must be a non-empty string")
    if len(value) > max_length:
        raise ValidationFailed(f"{path}.value", f"at most {max_length} characters")
    return value.strip()


def read_scalar(value: Any, path: str) -> Any:
    if isinstance(value, (dict, list)) or value is None:
        raise ValidationFailed(f"{path}.value", "must be a string, number or boolean")
    return value


def read_window(raw: dict, path: str, extra: dict) -> None:
    if raw.get("within_last_days") is not None:
        days = raw["within_last_days"]
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 36500:
            raise ValidationFailed(f"{path}.within_last_days", "must be a whole number of days from 1 to 36500")
        extra["within_last_days"] = days


def months_before(moment: datetime, months: int) -> datetime:
    """`moment` moved back `months` calendar months, the day kept where the month has it and
    else the month's last day (31 May minus 3 months is 28 or 29 February)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)
