"""What happens to an endpoint and its deliveries besides attempts: automatic disabling
after sustained failure (with one email to the tenant's owner) and resending a delivery."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from webapp.extensions import db
from webapp.infra.errors import Conflict, NotFound
from webapp.infra.queues import after_commit
from webapp.infra.types import utcnow
from webapp.models import User, WebhookDelivery, WebhookEndpoint
from webapp.services import system_mail
from webapp.services.webhooks.endpoints import tenant_endpoint


def disable_after() -> timedelta:
    return timedelta(days=float(current_app.config.get("WEBHOOK_DISABLE_AFTER_DAYS", 5)))


def disable_if_failing(endpoint_id: int, now: datetime) -> bool:
    """Disable the endpoint if every attempt for WEBHOOK_DISABLE_AFTER_DAYS failed: its
    waiting deliveries fail, and the owner is emailed (once: only the UPDATE that switches
    it off sends). Returns whether this call disabled it."""
    days = disable_after()
    reason = (f"disabled automatically: every delivery failed for {days.days or days} days; fix the receiver, "
              "then enable it again")
    switched = db.session.scalar(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled.is_(True),
               WebhookEndpoint.failing_since <= now - days)
        .values(enabled=False, disabled_at=now, disabled_reason=reason, version=WebhookEndpoint.version + 1)
        .returning(WebhookEndpoint.tenant_id))
    if switched is None:
        return False
    db.session.execute(update(WebhookDelivery)
                       .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending",
                              WebhookDelivery.claim_token.is_(None))
                       .values(status="failed", next_attempt_at=None, last_error="the endpoint was disabled")
                       .execution_options(synchronize_session=False))
    db.session.commit()
    _tell_owner(switched, endpoint_id)
    return True


def _tell_owner(tenant_id: int, endpoint_id: int) -> None:
    owner = db.session.scalar(select(User).where(User.tenant_id == tenant_id, User.role == "owner")
                              .order_by(User.id).limit(1))
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if owner is None or endpoint is None:
        return
    days = disable_after().days
    message = system_mail.compose(
        owner.email, f"A webhook endpoint was disabled: {endpoint.url[:80]}",
        [f"Every delivery to {endpoint.url} has failed for {days} days, so we stopped sending to it.",
         f"The last error was: {_last_error(endpoint_id)}",
         "Events since then are kept in its delivery log as failed. Once the receiver works again, enable the "
         "endpoint in Settings and resend the deliveries you need."],
        system_mail.absolute(f"/settings/webhooks/{endpoint_id}"), "Open the endpoint")
    system_mail.send(tenant_id, message)


def _last_error(endpoint_id: int) -> str:
    error = db.session.scalar(select(WebhookDelivery.last_error).where(
        WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.last_error.is_not(None))
        .order_by(WebhookDelivery.id.desc()).limit(1))
    return error or "no answer"


def tenant_delivery(tenant_id: int, endpoint_id: int, delivery_id: int) -> WebhookDelivery:
    delivery = db.session.scalar(select(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id,
        WebhookDelivery.tenant_id == tenant_id))
    if delivery is None:
        raise NotFound("webhook delivery not found")
    return delivery


def resend(tenant_id: int, endpoint_id: int, delivery_id: int) -> WebhookDelivery:
    """Queue a finished delivery again: same webhook-id and body, a fresh retry schedule."""
    endpoint = tenant_endpoint(tenant_id, endpoint_id)
    delivery = tenant_delivery(tenant_id, endpoint_id, delivery_id)
    if not endpoint.enabled:
        raise Conflict("the endpoint is disabled; enable it before resending")
    queued = db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id, WebhookDelivery.status.in_(("succeeded", "failed")))
        .values(status="pending", attempts=0, next_attempt_at=utcnow(), claim_token=None, claimed_at=None)
        .execution_options(synchronize_session=False)).rowcount
    if not queued:
        raise Conflict("this delivery is already waiting for its next attempt")
    after_commit("webhooks.deliver", [delivery.id], queue="default", job_timeout=600)
    db.session.commit()
    db.session.refresh(delivery)
    return delivery
