"""Whatever a verified (or unverified) caller sends, a relay webhook answers 2xx or a 4xx JSON
error, never a 5xx; a refused call changes nothing. Each provider's documented payload is
sent with every field in turn replaced by hostile values (huge strings, NUL, NaN, deep
nesting, numbers past every column), signed correctly so the parsing is what is tested."""

from __future__ import annotations

import copy
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.deliverability.relay_support import (
    POSTMARK_PASSWORD,
    POSTMARK_USER,
    basic_auth,
    mailgun_event,
    mailgun_signature,
    postmark_bounce,
    sendgrid_event,
    ses_bounce,
    sns_notification,
)
from webapp.extensions import db
from webapp.models import Customer, CustomerActivity, ProviderEvent

HOSTILE = settings(max_examples=int(os.environ.get("CRM_HOSTILE_EXAMPLES", "3")), deadline=None, derandomize=True,
                   database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
KNOWN_BAD = ["", "\x00", "a\x00b", "\ud800", "x" * 100_000, 2**64, -(2**63) - 1, 1e308, -1, 0, True, None, [], {},
             "NaN", float("nan"), float("inf"), "9999-12-31T23:59:59Z", "0000-00-00T00:00:00Z", "2026-02-30T00:00:00Z",
             "<" * 500, "ok@", "@", "a" * 400 + "@example.com", [[[[[[[[[[[]]]]]]]]]]], {"a": {"b": {"c": {}}}}]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)


def paths(value, prefix=()):
    """Every place in a JSON document (keys of objects, items of lists)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from paths(item, (*prefix, index))


def replaced(document, path, value):
    copied = copy.deepcopy(document)
    target = copied
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return copied


def state() -> tuple:
    db.session.expire_all()
    return (db.session.scalar(select(func.count()).select_from(CustomerActivity)),
            db.session.scalar(select(func.count()).select_from(ProviderEvent)),
            tuple(db.session.execute(select(Customer.id, Customer.email_status).order_by(Customer.id)).all()))


def sweep(relay, provider: str, sample, send) -> None:
    """Send `sample` with each of its places replaced by every known-bad value and by what
    hypothesis makes up; `send(document)` posts it (signed) and returns the response."""
    def check(document) -> None:
        before = state()
        response = send(document)
        assert response.status_code < 500, (provider, response.get_data(as_text=True)[:300])
        assert response.is_json
        if response.status_code >= 400:
            assert response.get_json()["error"]["message"]
            assert state() == before, f"a refused {provider} call changed data"

    # Every known-bad value goes to every sixth place (in turn, so each place meets several
    # and each value many places), and hypothesis adds its own everywhere.
    for i, path in enumerate(paths(sample)):
        for bad in KNOWN_BAD[i % 6::6]:
            check(replaced(sample, path, bad))
        HOSTILE(given(value=json_values)(_at(check, sample, path)))()
    HOSTILE(given(document=json_values)(check))()


def _at(check, sample, path):
    def run(value) -> None:
        check(replaced(sample, path, value))
    return run


def dumps(document) -> bytes:
    return json.dumps(document, allow_nan=True).encode("utf-8", "surrogatepass")


@pytest.mark.slow
def test_sendgrid_bodies(tenant_a, relay, sendgrid_signer, customers_to_bounce):
    sample = [sendgrid_event("bounce", customers_to_bounce[0]), sendgrid_event("spamreport", customers_to_bounce[1])]

    def send(document):
        body = dumps(document)
        return relay.post("sendgrid", body, sendgrid_signer.headers(body))

    sweep(relay, "sendgrid", sample, send)


@pytest.mark.slow
def test_postmark_bodies(tenant_a, relay, customers_to_bounce):
    sweep(relay, "postmark", postmark_bounce(customers_to_bounce[0]),
          lambda document: relay.post("postmark", dumps(document), basic_auth(POSTMARK_USER, POSTMARK_PASSWORD)))


@pytest.mark.slow
def test_mailgun_bodies(tenant_a, relay, customers_to_bounce):
    sweep(relay, "mailgun", mailgun_event("failed", customers_to_bounce[0]),
          lambda data: relay.post("mailgun", dumps({"signature": mailgun_signature(), "event-data": data})))


@pytest.mark.slow
def test_ses_messages(tenant_a, relay, sns_signer, amazon_certificate, customers_to_bounce):
    def send_signed(document):
        message = sns_notification({})
        try:
            message["Message"] = dumps(document).decode("utf-8")
        except UnicodeDecodeError:
            message["Message"] = "{}"
        return relay.post("ses", sns_signer.sign(message))

    sweep(relay, "ses", ses_bounce(customers_to_bounce[0]), send_signed)


@pytest.mark.slow
def test_ses_envelopes(tenant_a, relay, sns_signer, amazon_certificate, customers_to_bounce):
    envelope = sns_signer.sign(sns_notification(ses_bounce(customers_to_bounce[0])))
    sweep(relay, "ses", envelope, lambda document: relay.post("ses", dumps(document)))


def test_raw_bytes_and_deep_nesting_are_400_or_401(relay, sendgrid_signer):
    for body in (b"", b"\xff\xfe", b"[" * 100_000, b"{" * 50_000, b'{"a": NaN}', b"null", b"1e999999"):
        for provider in ("ses", "postmark", "mailgun"):
            response = relay.post(provider, body, basic_auth(POSTMARK_USER, POSTMARK_PASSWORD))
            assert response.status_code in (400, 401, 403), (provider, body[:20], response.status_code)
        response = relay.post("sendgrid", body, sendgrid_signer.headers(body))
        assert response.status_code in (200, 400), (body[:20], response.status_code)


def test_a_body_over_the_limit_is_413(app, relay):
    response = relay.post("sendgrid", b"[" + b" " * app.config["MAX_CONTENT_LENGTH"] + b"]")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"
