"""Mailgun's webhooks (JSON, one event a call): HMAC-SHA256 of timestamp + token under the
tenant's webhook signing key, compared in constant time; a token is accepted once and a
timestamp for a few minutes, so a recorded call cannot be played again."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from webapp.services.deliverability.relay_events import (
    COMPLAINT,
    HARD,
    SOFT,
    Refused,
    RelayEvent,
    Unauthenticated,
    email_of,
    epoch_time,
    load_json,
    message_id_of,
    obj,
    reason_of,
    text,
    token_of,
)

TOLERANCE_SECONDS = 600
# Our variable, from the X-Mailgun-Variables header, echoed in event-data.user-variables.
VARIABLE = "crm_message"


def parse(body: bytes) -> dict[str, Any]:
    return obj(load_json(body), "")


def verify(signing_key: str | None, payload: dict[str, Any], now: float | None = None) -> str:
    """Check the signature and the timestamp's age; returns the token (for the replay check)."""
    if not signing_key:
        raise Refused("Mailgun is not set up for this organisation (Settings › Deliverability)")
    signed = payload.get("signature")
    if not isinstance(signed, dict):
        raise Unauthenticated("the signature object is missing")
    stamp, token, signature = (signed.get(k) for k in ("timestamp", "token", "signature"))
    if not all(isinstance(v, str) and 0 < len(v) <= 256 for v in (stamp, token, signature)):
        raise Unauthenticated("signature.timestamp, token and signature must be strings")
    expected = hmac.new(signing_key.encode("utf-8"), f"{stamp}{token}".encode("utf-8", "replace"),
                        hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        raise Unauthenticated("the Mailgun signature does not match")
    try:
        age = (now or time.time()) - int(stamp)
    except ValueError:
        raise Unauthenticated("the timestamp is not a Unix time") from None
    if abs(age) > TOLERANCE_SECONDS:
        raise Refused("the signed timestamp is too old (or ahead): a call is accepted for 10 minutes")
    return token


def events(payload: dict[str, Any]) -> list[RelayEvent]:
    data = obj(payload.get("event-data"), "event-data")
    kind = data.get("event")
    if kind == "complained":
        outcome = COMPLAINT
    elif kind == "failed":
        outcome = HARD if data.get("severity") == "permanent" else SOFT
    else:  # delivered, opened, clicked, unsubscribed, accepted: nothing to do
        return []
    status = data.get("delivery-status") if isinstance(data.get("delivery-status"), dict) else {}
    variables = data.get("user-variables") if isinstance(data.get("user-variables"), dict) else {}
    message = data.get("message") if isinstance(data.get("message"), dict) else {}
    headers = message.get("headers") if isinstance(message.get("headers"), dict) else {}
    reason = "reported as spam" if outcome == COMPLAINT else reason_of(
        status.get("code"), status.get("description") or status.get("message"), data.get("reason"))
    return [RelayEvent(text(data.get("id"), "event-data.id", limit=200), outcome,
                       email_of(data.get("recipient"), "event-data.recipient"), reason,
                       epoch_time(data.get("timestamp"), "event-data.timestamp"), token_of(variables.get(VARIABLE)),
                       message_id_of(headers.get("message-id")))]
