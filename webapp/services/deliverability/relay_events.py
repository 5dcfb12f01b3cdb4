"""What every provider's payload is turned into before anything is changed, and the errors a
webhook call ends in."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from webapp.infra.errors import DomainError

HARD, SOFT, COMPLAINT = "hard_bounce", "soft_bounce", "complaint"
MAX_EVENTS = 1000  # SendGrid batches up to 1,000 events a call; more is not a SendGrid call
MAX_REASON = 500


class Unauthenticated(DomainError):
    """The call does not prove it comes from the provider (no or wrong credentials)."""

    status = 401
    code = "unauthorized"

    def __init__(self, message: str, *, challenge: str | None = None):
        super().__init__(message)
        self.challenge = challenge


class Refused(DomainError):
    """Signed or authenticated, but not acceptable: a replay, an old timestamp, a topic the
    tenant does not accept, a provider the tenant has not set up."""

    status = 403
    code = "forbidden"


class Malformed(DomainError):
    """Not the provider's payload format: a 400 naming where it went wrong."""

    status = 400
    code = "bad_request"

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}" if field else message, details=[{"field": field, "message": message}])


@dataclass(frozen=True)
class RelayEvent:
    """One bounce or complaint for one address, as the provider reported it."""

    event_key: str  # the provider's id of this event (with the address when one id covers several)
    kind: str  # HARD, SOFT or COMPLAINT
    email: str
    reason: str
    occurred_at: datetime
    token: str | None = None  # our X-CRM-Message header (the recipient's token), when echoed back
    message_id: str | None = None  # our Message-ID, "<...>", when echoed back


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_json(body: bytes) -> Any:
    try:
        return json.loads(body, parse_constant=_no_constants)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise Malformed("", "the body is not valid JSON") from None


def obj(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(field, "must be a JSON object")
    return value


def text(value: Any, field: str, *, required: bool = True, limit: int = 1000) -> str | None:
    """A string field: None when absent and not required; refused when not a string, too
    long, or holding what no database stores (NUL)."""
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise Malformed(field, "must be a non-empty string")
    if len(value) > limit:
        raise Malformed(field, f"must be at most {limit:,} characters")
    if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise Malformed(field, "holds characters that cannot be stored")
    return value


def email_of(value: Any, field: str) -> str:
    address = text(value, field, limit=320).strip().lower()
    if "@" not in address:
        raise Malformed(field, "must be an email address")
    return address


def reason_of(*parts: Any) -> str:
    """The provider's words for why, joined and cut to fit (never refused: it is only shown)."""
    words = " ".join(str(p).strip() for p in parts if isinstance(p, str | int) and not isinstance(p, bool)
                     and str(p).strip())
    # Lone surrogates (JSON allows "\ud800") and NUL cannot be stored: dropped, not refused.
    words = words.encode("utf-8", "ignore").decode("utf-8").replace("\x00", "")
    return words[:MAX_REASON] or "no reason given"


def iso_time(value: Any, field: str) -> datetime:
    raw = text(value, field, limit=64)
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        # Postmark writes seven digits of fractions ("...54.9070259Z"): Python reads six.
        try:
            head, _, rest = raw.partition(".")
            digits = "".join(c for c in rest if c.isdigit())
            zone = rest[len(digits):].replace("Z", "+00:00") or "+00:00"
            parsed = datetime.fromisoformat(f"{head}.{digits[:6] or '0'}{zone}")
        except ValueError:
            raise Malformed(field, "must be an ISO 8601 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def epoch_time(value: Any, field: str) -> datetime:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise Malformed(field, "must be a Unix time") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 32503680000:
        raise Malformed(field, "must be a Unix time")
    if value != value:  # NaN
        raise Malformed(field, "must be a Unix time")
    return datetime.fromtimestamp(value, UTC)


def message_id_of(value: Any) -> str | None:
    """Our Message-ID as stored ("<...>"), from how a provider echoes it (with or without
    the angle brackets); None when absent or not one."""
    if not isinstance(value, str) or not value.strip() or len(value) > 300 or not value.isascii() \
            or "\x00" in value:
        return None
    value = value.strip()
    return value if value.startswith("<") else f"<{value}>"


def token_of(value: Any) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= 64 and value.isascii() and value.replace("-", "").replace(
            "_", "").isalnum():
        return value
    return None
