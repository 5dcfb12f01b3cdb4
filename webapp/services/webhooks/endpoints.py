"""A tenant's webhook endpoints: subscribe a URL to event types, change, pause, delete, and
the signing secret (shown once on creation, then only on an explicit reveal)."""

from __future__ import annotations

import base64
import os
from typing import Any

from sqlalchemy import delete, func, select

from webapp.extensions import db
from webapp.infra.errors import NotFound, ValidationFailed
from webapp.infra.outbound import url_problem
from webapp.infra.sealed import seal, unseal
from webapp.infra.types import utcnow
from webapp.infra.validation import check_storable
from webapp.models import WEBHOOK_EVENT_TYPES, Tenant, WebhookEndpoint

SECRET_PURPOSE = "webhook-endpoint-secret"
# What each event means, in the marketer's words (the settings page's checkboxes).
EVENT_LABELS = {
    "customer.created": "A customer is added",
    "customer.unsubscribed": "A customer unsubscribes from all marketing",
    "customer.bounced": "An address bounces",
    "customer.complained": "Someone marks an email as spam",
    "email.sent": "An email is sent",
    "email.opened": "An email is opened (machine opens flagged)",
    "email.clicked": "A link in an email is clicked",
    "segment.entered": "Someone joins a segment",
    "segment.exited": "Someone leaves a segment",
    "workflow.converted": "Someone reaches a workflow's goal",
    "purchase.attributed": "A purchase is credited to a campaign",
}
MAX_ENDPOINTS = 20
URL_LENGTH = 2000
DESCRIPTION_LENGTH = 200


def new_secret() -> str:
    """A Standard Webhooks secret: "whsec_" and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(os.urandom(24)).decode("ascii")


def secret_of(endpoint: WebhookEndpoint) -> str:
    """The endpoint's signing secret in the clear (to sign, or for the marketer's reveal)."""
    return unseal(endpoint.secret, SECRET_PURPOSE)


def tenant_endpoint(tenant_id: int, endpoint_id: int) -> WebhookEndpoint:
    endpoint = db.session.scalar(select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id, WebhookEndpoint.tenant_id == tenant_id))
    if endpoint is None:
        raise NotFound("webhook endpoint not found")
    return endpoint


def tenant_endpoints(tenant_id: int) -> list[WebhookEndpoint]:
    return list(db.session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id)
                                   .order_by(WebhookEndpoint.id)))


def _clean(tenant_id: int, values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in ("url", "description"):
        check_storable(values.get(field), field)
    if "url" in values:
        url = str(values["url"] or "").strip()
        if len(url) > URL_LENGTH:
            raise ValidationFailed("url", f"at most {URL_LENGTH} characters")
        allowlist = db.session.scalar(select(Tenant.webhook_allowlist).where(Tenant.id == tenant_id))
        problem = url_problem(url, allowlist)
        if problem:
            raise ValidationFailed("url", problem)
        out["url"] = url
    if "description" in values:
        description = " ".join(str(values["description"] or "").split())
        if len(description) > DESCRIPTION_LENGTH:
            raise ValidationFailed("description", f"at most {DESCRIPTION_LENGTH} characters")
        out["description"] = description
    if "event_types" in values:
        out["event_types"] = clean_event_types(values["event_types"])
    if "enabled" in values:
        if not isinstance(values["enabled"], bool):
            raise ValidationFailed("enabled", "must be true or false")
        out["enabled"] = values["enabled"]
    return out


def clean_event_types(types: Any) -> list[str]:
    """The subscribed types, each known, once, in the catalogue's order."""
    if not isinstance(types, list | tuple) or not types:
        raise ValidationFailed("event_types", "choose at least one event")
    unknown = [t for t in types if t not in WEBHOOK_EVENT_TYPES]
    if unknown:
        raise ValidationFailed("event_types", f"unknown event type {str(unknown[0])[:60]!r}; one of "
                                              + ", ".join(WEBHOOK_EVENT_TYPES))
    return [t for t in WEBHOOK_EVENT_TYPES if t in types]


def create_endpoint(tenant_id: int, values: dict[str, Any]) -> tuple[WebhookEndpoint, str]:
    """Subscribe a URL; returns the endpoint and its secret in the clear (shown this once)."""
    clean = _clean(tenant_id, {"description": "", "enabled": True, **values})
    if "url" not in clean:
        raise ValidationFailed("url", "is required")
    if "event_types" not in clean:
        raise ValidationFailed("event_types", "choose at least one event")
    count = db.session.scalar(select(func.count(WebhookEndpoint.id)).where(WebhookEndpoint.tenant_id == tenant_id))
    if count >= MAX_ENDPOINTS:
        raise ValidationFailed("url", f"at most {MAX_ENDPOINTS} webhook endpoints per organisation")
    secret = new_secret()
    endpoint = WebhookEndpoint(tenant_id=tenant_id, secret=seal(secret, SECRET_PURPOSE), **clean)
    if not endpoint.enabled:
        endpoint.disabled_at, endpoint.disabled_reason = utcnow(), "paused by a marketer"
    db.session.add(endpoint)
    db.session.commit()
    return endpoint, secret


def update_endpoint(tenant_id: int, endpoint_id: int, values: dict[str, Any]) -> WebhookEndpoint:
    """Change the fields given. Enabling again starts a fresh failure streak."""
    endpoint = tenant_endpoint(tenant_id, endpoint_id)
    clean = _clean(tenant_id, values)
    enabled = clean.pop("enabled", None)
    for field, value in clean.items():
        setattr(endpoint, field, value)
    if enabled is True and not endpoint.enabled:
        endpoint.enabled, endpoint.disabled_at, endpoint.disabled_reason = True, None, None
        endpoint.consecutive_failures, endpoint.failing_since = 0, None
    elif enabled is False and endpoint.enabled:
        endpoint.enabled, endpoint.disabled_at, endpoint.disabled_reason = False, utcnow(), "paused by a marketer"
    endpoint.version += 1
    db.session.commit()
    return endpoint


def delete_endpoint(tenant_id: int, endpoint_id: int) -> None:
    """Delete the endpoint and its delivery log (nothing more is sent to it)."""
    endpoint = tenant_endpoint(tenant_id, endpoint_id)
    # The database cascades to its deliveries and their attempts.
    db.session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id))
    db.session.commit()
