"""Postmark's bounce and spam complaint webhooks, behind HTTP basic auth with the username
and password the tenant chose (the password kept as a hash)."""

from __future__ import annotations

import base64
import binascii
import hmac

from werkzeug.security import check_password_hash

from webapp.services.deliverability.relay_events import (
    COMPLAINT,
    HARD,
    SOFT,
    Malformed,
    Refused,
    RelayEvent,
    Unauthenticated,
    email_of,
    iso_time,
    load_json,
    obj,
    reason_of,
    text,
    token_of,
)

# Postmark's bounce types (its Type field): the address is gone, or it may come back.
HARD_TYPES = frozenset({"HardBounce", "BadEmailAddress"})
SOFT_TYPES = frozenset({"SoftBounce", "Transient", "DnsError", "Blocked"})
# Our metadata key, from the X-PM-Metadata-crm-message header.
METADATA_KEY = "crm-message"
CHALLENGE = 'Basic realm="postmark-webhook"'


def verify(username: str | None, password_hash: str | None, authorization: str | None) -> None:
    if not username or not password_hash:
        raise Refused("Postmark is not set up for this organisation (Settings › Deliverability)")
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise Unauthenticated("send the webhook's username and password (HTTP basic auth)", challenge=CHALLENGE)
    try:
        given_user, sep, given_password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
    except (ValueError, binascii.Error):
        raise Unauthenticated("the basic auth credentials are not readable", challenge=CHALLENGE) from None
    # Both checked every time, so the answer takes as long whichever is wrong.
    user_ok = hmac.compare_digest(given_user.encode("utf-8"), username.encode("utf-8"))
    password_ok = check_password_hash(password_hash, given_password)
    if not (sep and user_ok and password_ok):
        raise Unauthenticated("wrong webhook username or password", challenge=CHALLENGE)


def events(body: bytes) -> list[RelayEvent]:
    item = obj(load_json(body), "")
    record, kind = (value if isinstance(value, str) else None for value in (item.get("RecordType"), item.get("Type")))
    if record == "SpamComplaint" or kind == "SpamComplaint":
        outcome = COMPLAINT
    elif record == "Bounce" and kind in HARD_TYPES:
        outcome = HARD
    elif record == "Bounce" and kind in SOFT_TYPES:
        outcome = SOFT
    else:  # deliveries, opens, clicks, other bounce types (auto-replies, ...): nothing to do
        return []
    event_id = item.get("ID")
    if isinstance(event_id, bool) or not isinstance(event_id, int | str):
        raise Malformed("ID", "must be Postmark's bounce id")
    event_id = text(str(event_id), "ID", limit=100)
    metadata = item.get("Metadata")
    token = token_of(metadata.get(METADATA_KEY)) if isinstance(metadata, dict) else None
    reason = "reported as spam" if outcome == COMPLAINT else reason_of(item.get("Description"), item.get("Details"))
    return [RelayEvent(f"{record}:{event_id}", outcome, email_of(item.get("Email"), "Email"), reason,
                       iso_time(item.get("BouncedAt"), "BouncedAt"), token)]

