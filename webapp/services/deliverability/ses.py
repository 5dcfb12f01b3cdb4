"""Amazon SES notifications, delivered by SNS: the SNS message signature checked with the
signing certificate (fetched from Amazon only, cached), subscriptions confirmed, and the
Bounce / Complaint JSON in a Notification's Message read into RelayEvents.

SNS signs "Key\\nValue\\n" for a fixed list of keys, in order (SignatureVersion 1: SHA1
with RSA, 2: SHA256 with RSA). The certificate URL must be https on sns.<region>.amazonaws.com:
anyone can put any URL in a message, so a look-alike host or one of ours would otherwise
let a forger supply their own certificate.
"""

from __future__ import annotations

import base64
import re
import threading
from collections import OrderedDict
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from flask import current_app

from webapp.infra.outbound import WebhookFailed, WebhookRefused, fetch
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
    message_id_of,
    obj,
    reason_of,
    text,
    token_of,
)

AMAZON_HOST = re.compile(r"sns\.[a-z]{2}(?:-[a-z]+)+-\d\.amazonaws\.com(?:\.cn)?")
SIGNED_KEYS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
CACHE_SIZE = 32
HEADER = "x-crm-message"

_certificates: OrderedDict[str, rsa.RSAPublicKey] = OrderedDict()
_lock = threading.Lock()


def allowed_amazon_url(url: str) -> bool:
    """https on sns.<region>.amazonaws.com, or the test host (honoured in testing only)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.port in (None, 443) and not parts.username and not parts.password:
        return AMAZON_HOST.fullmatch((parts.hostname or "").lower()) is not None
    test_host = _test_host()
    return bool(test_host) and parts.scheme == "http" and parts.netloc.lower() == test_host.lower()


def _test_host() -> str | None:
    # SNS_TEST_HOST lets the tests serve a locally made certificate; never read outside testing.
    return current_app.config.get("SNS_TEST_HOST") if current_app.testing else None


def remember_certificate(url: str, pem: bytes) -> None:
    """Put a certificate in the cache as if fetched from `url` (the cache is bounded: the
    least recently used goes first)."""
    key = x509.load_pem_x509_certificate(pem).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise Unauthenticated("the signing certificate does not hold an RSA key")
    with _lock:
        _certificates[url] = key
        _certificates.move_to_end(url)
        while len(_certificates) > CACHE_SIZE:
            _certificates.popitem(last=False)


def forget_certificates() -> None:
    with _lock:
        _certificates.clear()


def _certificate(url: str) -> rsa.RSAPublicKey:
    if not allowed_amazon_url(url) or not urlsplit(url).path.endswith(".pem"):
        raise Unauthenticated("SigningCertURL is not an Amazon SNS certificate (https://sns.<region>.amazonaws.com/"
                              "....pem)")
    with _lock:
        if url in _certificates:
            _certificates.move_to_end(url)
            return _certificates[url]
    try:
        pem = fetch(url, trusted_test_host=_test_host())
        remember_certificate(url, pem)
    except (WebhookRefused, WebhookFailed, ValueError) as exc:
        raise Unauthenticated(f"the signing certificate could not be loaded: {exc}") from None
    with _lock:
        return _certificates[url]


def verify(message: dict[str, Any]) -> str:
    """Check the SNS signature; returns the message Type. Unauthenticated when it fails."""
    kind = message.get("Type")
    if not isinstance(kind, str) or kind not in SIGNED_KEYS:
        raise Malformed("Type", "must be Notification, SubscriptionConfirmation or UnsubscribeConfirmation")
    version = message.get("SignatureVersion")
    if not isinstance(version, str) or version not in HASHES:
        raise Unauthenticated("SignatureVersion must be 1 or 2")
    signature_text = text(message.get("Signature"), "Signature", limit=2048)
    url = text(message.get("SigningCertURL"), "SigningCertURL", limit=2048)
    lines = []
    for name in SIGNED_KEYS[kind]:
        if name not in message:
            if name == "Subject":  # the one optional signed key
                continue
            raise Malformed(name, "is missing")
        value = text(message[name], name, limit=256 * 1024)
        lines.append(f"{name}\n{value}\n")
    try:
        signature = base64.b64decode(signature_text, validate=True)
    except ValueError:
        raise Unauthenticated("the signature is not base64") from None
    key = _certificate(url)
    try:
        key.verify(signature, "".join(lines).encode("utf-8"), padding.PKCS1v15(), HASHES[version]())
    except InvalidSignature:
        raise Unauthenticated("the SNS signature does not match") from None
    return kind


def check_topic(message: dict[str, Any], accepted: str | None) -> None:
    topics = {line.strip() for line in (accepted or "").splitlines() if line.strip()}
    if topics and message.get("TopicArn") not in topics:
        raise Refused("this SNS topic is not one this organisation accepts (Settings › Deliverability)")


def confirm_subscription(message: dict[str, Any]) -> None:
    """Visit SubscribeURL (Amazon only, like the certificate): SNS then starts delivering."""
    url = text(message.get("SubscribeURL"), "SubscribeURL", limit=2048)
    if not allowed_amazon_url(url):
        raise Refused("SubscribeURL is not an Amazon SNS address")
    try:
        fetch(url, trusted_test_host=_test_host())
    except (WebhookRefused, WebhookFailed) as exc:
        raise Refused(f"the subscription could not be confirmed: {exc}") from None


def parse(body: bytes) -> dict[str, Any]:
    return obj(load_json(body), "")


def events(message: dict[str, Any]) -> list[RelayEvent]:
    """The bounces and complaints in a verified Notification (others, deliveries included,
    give none)."""
    notification = obj(load_json(message["Message"].encode("utf-8")), "Message")
    kind = notification.get("notificationType") or notification.get("eventType")
    if kind not in ("Bounce", "Complaint"):
        return []
    mail = obj(notification.get("mail") or {}, "Message.mail")
    token, message_id = _ours(mail)
    base_key = text(message.get("MessageId"), "MessageId", limit=100)
    if kind == "Bounce":
        bounce = obj(notification.get("bounce"), "Message.bounce")
        # Transient and Undetermined may clear up: counted as soft.
        outcome = HARD if bounce.get("bounceType") == "Permanent" else SOFT
        people = bounce.get("bouncedRecipients")
        detail, when = bounce, bounce.get("timestamp")
    else:
        complaint = obj(notification.get("complaint"), "Message.complaint")
        outcome, people, detail, when = COMPLAINT, complaint.get("complainedRecipients"), complaint, \
            complaint.get("timestamp")
    if not isinstance(people, list) or not people:
        raise Malformed(f"Message.{kind.lower()}", "lists no recipients")
    occurred = iso_time(when, f"Message.{kind.lower()}.timestamp")
    found = []
    for i, person in enumerate(people[:100]):
        person = obj(person, f"Message.recipients[{i}]")
        email = email_of(person.get("emailAddress"), f"Message.recipients[{i}].emailAddress")
        if outcome == COMPLAINT:
            reason = reason_of(detail.get("complaintFeedbackType") or "reported as spam")
        else:  # the receiving server's words when SES has them, else SES's classification
            reason = reason_of(person.get("diagnosticCode") or person.get("status") or detail.get("bounceSubType"))
        found.append(RelayEvent(f"{base_key}:{email}", outcome, email, reason, occurred, token, message_id))
    return found


def _ours(mail: dict[str, Any]) -> tuple[str | None, str | None]:
    """Our X-CRM-Message header (when SES includes the original headers) and Message-ID."""
    token = None
    headers = mail.get("headers")
    if isinstance(headers, list):
        for header in headers[:200]:
            if isinstance(header, dict) and str(header.get("name", "")).lower() == HEADER:
                token = token_of(header.get("value"))
    common = mail.get("commonHeaders")
    return token, message_id_of(common.get("messageId")) if isinstance(common, dict) else None
