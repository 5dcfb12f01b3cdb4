"""The organisation's settings: one function that checks and applies them for the settings
page and the API alike (GET/PATCH /api/crm/settings)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.infra.outbound import ip_literal, non_public_reason
from webapp.models import Tenant
from webapp.services import sending_domains
from webapp.services.tenants import (
    check_currency,
    check_locale,
    check_timezone,
    clean_sender_name,
    normalise_email,
)

MAX_SEND_RATE = 100_000  # messages per second; far above what one mail service takes
MAX_ATTRIBUTION_DAYS = 90
# The frequency cap's bounds: emails per person, and the window in days.
CAP_EMAILS = (1, 100)
CAP_DAYS = (1, 90)
# What a tenant sets (and the API reads and patches), in the order the API lists them.
SETTINGS_FIELDS = ("name", "timezone", "currency", "locale", "sender_name", "sender_email", "postal_address",
                   "send_rate_per_second", "attribution_days", "webhook_allowlist", "frequency_cap", "quiet_hours")
# Settings that always have a value: null or empty is refused, not a way to clear them.
_REQUIRED = frozenset({"name", "timezone", "currency", "locale", "send_rate_per_second", "attribution_days"})
# Longest text each setting takes (the columns' sizes, or what a person writes); others 100.
_MAX_LENGTH = {"name": 200, "sender_name": 200, "sender_email": 320, "postal_address": 1000,
               "webhook_allowlist": 2000}


def settings_of(tenant: Tenant) -> dict[str, Any]:
    return {field: getattr(tenant, field) for field in SETTINGS_FIELDS}


def update_settings(tenant: Tenant, changes: Mapping[str, Any]) -> Tenant:
    """Change the settings named in `changes` (others stay as they are). All are checked
    before any is applied, so a refused change leaves the tenant as it was; the first field
    at fault is named (ValidationFailed)."""
    unknown = sorted(set(changes) - set(SETTINGS_FIELDS))
    if unknown:
        raise ValidationFailed(unknown[0], "is not a setting")
    clean = {}
    for field in SETTINGS_FIELDS:
        if field not in changes:
            continue
        value = changes[field]
        if field in _REQUIRED and (value is None or (isinstance(value, str) and not value.strip())):
            raise ValidationFailed(field, "must not be empty")
        if isinstance(value, str) and len(value) > _MAX_LENGTH.get(field, 100):
            raise ValidationFailed(field, f"must be at most {_MAX_LENGTH.get(field, 100):,} characters")
        clean[field] = _CHECKS[field](tenant, value)
    for field, value in clean.items():
        setattr(tenant, field, value)
    db.session.commit()
    return tenant


def _name(tenant: Tenant, value: str) -> str:
    return value.strip()


def _timezone(tenant: Tenant, value: str) -> str:
    return check_timezone(value.strip())


def _currency(tenant: Tenant, value: str) -> str:
    return check_currency(value)


def _locale(tenant: Tenant, value: str) -> str:
    return check_locale(value)


def _sender_name(tenant: Tenant, value: str | None) -> str | None:
    return clean_sender_name(value)


def _sender_email(tenant: Tenant, value: str | None) -> str | None:
    if not (value or "").strip():
        return None
    address = normalise_email(value, "sender_email")
    sending_domains.check_from_address(tenant.id, address, "sender_email")
    return address


def _postal_address(tenant: Tenant, value: str | None) -> str | None:
    return (value or "").strip() or None


def _attribution_days(tenant: Tenant, value: int) -> int:
    if not 0 <= value <= MAX_ATTRIBUTION_DAYS:
        raise ValidationFailed("attribution_days", f"must be between 0 (no attribution) and {MAX_ATTRIBUTION_DAYS} "
                                                   "days")
    return value


def _send_rate(tenant: Tenant, value: int) -> int:
    if not 1 <= value <= MAX_SEND_RATE:
        raise ValidationFailed("send_rate_per_second", f"must be between 1 and {MAX_SEND_RATE:,} messages per second")
    return value


def _webhook_allowlist(tenant: Tenant, value: str | None) -> str | None:
    hosts = []
    for line in (value or "").splitlines():
        host = line.strip().lower().rstrip(".")
        if not host:
            continue
        if not re.fullmatch(r"[a-z0-9.\-]{1,253}|\[?[0-9a-f:.]{2,45}\]?", host):
            raise ValidationFailed("webhook_allowlist", f"'{line.strip()[:60]}' is not a host name or IP address")
        host = host.strip("[]")
        literal = ip_literal(host)
        reason = non_public_reason(literal) if literal is not None else "loopback" if _is_localhost(host) else None
        if reason:
            raise ValidationFailed("webhook_allowlist", f"'{host}' is a {reason} address: the allowlist opens "
                                                        "public hosts only (private networks can be opened only by "
                                                        "whoever runs this service)")
        hosts.append(host)
    return "\n".join(dict.fromkeys(hosts)) or None


def _whole_number(value: Any, field: str, bounds: tuple[int, int], unit: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not bounds[0] <= value <= bounds[1]:
        raise ValidationFailed(field, f"must be a whole number of {unit} from {bounds[0]} to {bounds[1]}")
    return value


def _frequency_cap(tenant: Tenant, value: Any) -> dict[str, int] | None:
    """{"max_emails": N, "days": D}: at most N marketing emails per person in D days; None: no cap."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) != {"max_emails", "days"}:
        raise ValidationFailed("frequency_cap", 'must be {"max_emails": N, "days": D} or null')
    return {"max_emails": _whole_number(value["max_emails"], "frequency_cap.max_emails", CAP_EMAILS, "emails"),
            "days": _whole_number(value["days"], "frequency_cap.days", CAP_DAYS, "days")}


_CLOCK = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


def _quiet_hours(tenant: Tenant, value: Any) -> dict[str, str] | None:
    """{"start": "21:00", "end": "08:00"} (24-hour HH:MM, local to each customer; it may cross
    midnight); None: no quiet hours."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) != {"start", "end"}:
        raise ValidationFailed("quiet_hours", 'must be {"start": "HH:MM", "end": "HH:MM"} or null')
    for part in ("start", "end"):
        if not isinstance(value[part], str) or not _CLOCK.fullmatch(value[part]):
            raise ValidationFailed(f"quiet_hours.{part}", "must be a time of day as HH:MM (24-hour), e.g. 21:00")
    if value["start"] == value["end"]:
        raise ValidationFailed("quiet_hours.end", "must differ from the start (a window of no length holds nothing)")
    return {"start": value["start"], "end": value["end"]}


def _is_localhost(host: str) -> bool:
    # Names that always mean this machine (RFC 6761), whatever DNS says.
    return host == "localhost" or host.endswith(".localhost")


# One check per setting: it returns the value to store or raises ValidationFailed naming the field.
_CHECKS = {
    "name": _name,
    "timezone": _timezone,
    "currency": _currency,
    "locale": _locale,
    "sender_name": _sender_name,
    "sender_email": _sender_email,
    "postal_address": _postal_address,
    "send_rate_per_second": _send_rate,
    "attribution_days": _attribution_days,
    "webhook_allowlist": _webhook_allowlist,
    "frequency_cap": _frequency_cap,
    "quiet_hours": _quiet_hours,
}
