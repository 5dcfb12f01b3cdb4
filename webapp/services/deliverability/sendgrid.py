"""SendGrid's Event Webhook: a JSON array of events, signed with ECDSA (P-256, SHA-256) over
the timestamp header followed by the raw body, checked with the verification key the
tenant copied from SendGrid's console (base64 DER)."""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from webapp.services.deliverability.relay_events import (
    COMPLAINT,
    HARD,
    MAX_EVENTS,
    SOFT,
    Malformed,
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

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
# A signed call older (or further ahead) than this is refused: it could be a recorded one.
TOLERANCE_SECONDS = 600
# Our unique_arg (X-SMTPAPI), echoed back as a field of each event.
ARG = "crm_message"


def public_key(value: str) -> ec.EllipticCurvePublicKey:
    """The verification key as SendGrid shows it; ValueError when it is not a P-256 key."""
    try:
        key = load_der_public_key(base64.b64decode("".join(value.split()), validate=True))
    except (ValueError, binascii.Error, UnsupportedAlgorithm):
        raise ValueError("is not a verification key as SendGrid shows it (base64 of a public key)") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("is not an ECDSA P-256 key, which SendGrid's verification key is")
    return key


def verify(stored_key: str | None, headers: Any, body: bytes, now: float | None = None) -> None:
    if not stored_key:
        raise Refused("SendGrid is not set up for this organisation (Settings › Deliverability)")
    signature, stamp = headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER)
    if not signature or not stamp:
        raise Unauthenticated(f"the {SIGNATURE_HEADER} and {TIMESTAMP_HEADER} headers are missing")
    try:
        raw_signature = base64.b64decode(signature, validate=True)
        public_key(stored_key).verify(raw_signature, stamp.encode("utf-8") + body, ec.ECDSA(hashes.SHA256()))
    except (ValueError, binascii.Error, InvalidSignature, UnicodeEncodeError):
        raise Unauthenticated("the SendGrid signature does not match") from None
    try:
        age = (now or time.time()) - int(stamp)
    except ValueError:
        raise Unauthenticated("the timestamp is not a Unix time") from None
    if abs(age) > TOLERANCE_SECONDS:
        raise Refused("the signed timestamp is too old (or ahead): a call is accepted for 10 minutes")


def events(body: bytes) -> list[RelayEvent]:
    items = load_json(body)
    if not isinstance(items, list):
        raise Malformed("", "must be a JSON array of events")
    if len(items) > MAX_EVENTS:
        raise Malformed("", f"at most {MAX_EVENTS:,} events a call")
    found = []
    for i, item in enumerate(items):
        item = obj(item, f"[{i}]")
        kind = item.get("event")
        # "blocked" is SendGrid's temporary refusal; deferrals are still being retried.
        if kind == "bounce":
            outcome = SOFT if item.get("type") == "blocked" else HARD
        elif kind == "spamreport":
            outcome = COMPLAINT
        else:
            continue
        key = text(item.get("sg_event_id"), f"[{i}].sg_event_id", limit=200)
        found.append(RelayEvent(
            key, outcome, email_of(item.get("email"), f"[{i}].email"),
            reason_of(item.get("reason"), item.get("status")) if outcome != COMPLAINT else "reported as spam",
            epoch_time(item.get("timestamp"), f"[{i}].timestamp"), token_of(item.get(ARG)),
            message_id_of(item.get("smtp-id"))))
    return found
