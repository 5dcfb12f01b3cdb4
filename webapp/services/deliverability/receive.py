"""One webhook call from a relay: find the tenant by the key in the URL, check what the
provider signs, read its payload, apply it. Nothing changes unless every check passes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webapp.infra.errors import NotFound
from webapp.models import PROVIDERS
from webapp.services.deliverability import credentials, mailgun, postmark, sendgrid, ses
from webapp.services.deliverability.effects import apply_events, refuse_replayed_token


def receive(provider: str, tenant_key: str, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """Verify and apply one call. Raises NotFound (unknown provider or key), Unauthenticated
    (401), Refused (403) or Malformed (400); returns what was done."""
    if provider not in PROVIDERS:
        raise NotFound("unknown provider: use ses, sendgrid, postmark or mailgun")
    row = credentials.find_by_key(tenant_key)
    if row is None:
        raise NotFound("no organisation has this webhook URL (the key may have been replaced)")
    tenant_id, label = row.tenant_id, credentials.REPORTED_BY[provider]
    if provider == "ses":
        message = ses.parse(body)
        kind = ses.verify(message)
        ses.check_topic(message, row.ses_topic_arns)
        if kind == "SubscriptionConfirmation":
            ses.confirm_subscription(message)
            return {"status": "subscribed"}
        if kind == "UnsubscribeConfirmation":
            return {"status": "ignored"}
        return apply_events(tenant_id, provider, ses.events(message), label=label)
    if provider == "sendgrid":
        sendgrid.verify(row.sendgrid_public_key, headers, body)
        return apply_events(tenant_id, provider, sendgrid.events(body), label=label)
    if provider == "postmark":
        postmark.verify(row.postmark_username, row.postmark_password_hash, headers.get("Authorization"))
        return apply_events(tenant_id, provider, postmark.events(body), label=label)
    payload = mailgun.parse(body)
    token = mailgun.verify(credentials.mailgun_key(row), payload)
    found = mailgun.events(payload)  # a malformed payload is refused before its token is spent
    refuse_replayed_token(tenant_id, provider, token)
    return apply_events(tenant_id, provider, found, label=label)
