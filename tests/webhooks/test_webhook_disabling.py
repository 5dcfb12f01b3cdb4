"""An endpoint whose every attempt failed for WEBHOOK_DISABLE_AFTER_DAYS (5) is disabled: its
waiting deliveries fail, nothing more is attempted, and its owner gets one email."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import OutboxMessage, WebhookDelivery, WebhookEndpoint
from webapp.services import webhooks

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def _emit_one(tenant_id: int) -> int:
    webhooks.emit(tenant_id, "email.sent", {"n": 1})
    db.session.commit()
    return db.session.scalars(select(WebhookDelivery.id).order_by(WebhookDelivery.id.desc())).first()


def test_five_days_of_failures_disable_the_endpoint_and_email_the_owner_once(tenant_a, subscribe, receiver):
    endpoint = subscribe(tenant_a.id, "email.sent")
    receiver.fail_first = 1000
    first = _emit_one(tenant_a.id)
    assert webhooks.attempt(first, T0) == "retry"
    day4 = _emit_one(tenant_a.id)
    assert webhooks.attempt(day4, T0 + timedelta(days=4)) == "retry"
    assert db.session.get(WebhookEndpoint, endpoint.id).enabled

    late = _emit_one(tenant_a.id)
    waiting = _emit_one(tenant_a.id)
    assert webhooks.attempt(late, T0 + timedelta(days=5, seconds=1)) == "retry"

    db.session.expire_all()
    stored = db.session.get(WebhookEndpoint, endpoint.id)
    assert not stored.enabled and "5 days" in stored.disabled_reason
    assert db.session.get(WebhookDelivery, waiting).status == "failed"
    assert webhooks.attempt(day4, T0 + timedelta(days=9)) is None  # nothing left to attempt
    [mail] = db.session.scalars(select(OutboxMessage)).all()
    assert mail.recipient == tenant_a.owner_email and "disabled" in mail.subject
    assert receiver.url.encode() in mail.raw

    # Already disabled: further failures send no second email.
    assert not webhooks.disable_if_failing(endpoint.id, T0 + timedelta(days=6))
    assert len(db.session.scalars(select(OutboxMessage)).all()) == 1


def test_a_success_ends_the_failure_streak(tenant_a, subscribe, receiver):
    endpoint = subscribe(tenant_a.id, "email.sent")
    receiver.fail_first = 1
    delivery = _emit_one(tenant_a.id)
    webhooks.attempt(delivery, T0)
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, endpoint.id).consecutive_failures == 1

    webhooks.attempt(delivery, T0 + timedelta(days=6))

    db.session.expire_all()
    stored = db.session.get(WebhookEndpoint, endpoint.id)
    assert stored.enabled and (stored.consecutive_failures, stored.failing_since) == (0, None)


def test_enabling_again_starts_a_fresh_streak(tenant_a, subscribe, receiver):
    endpoint = subscribe(tenant_a.id, "email.sent")
    receiver.fail_first = 1000
    webhooks.attempt(_emit_one(tenant_a.id), T0)
    webhooks.attempt(_emit_one(tenant_a.id), T0 + timedelta(days=5))
    db.session.expire_all()
    assert not db.session.get(WebhookEndpoint, endpoint.id).enabled

    stored = webhooks.update_endpoint(tenant_a.id, endpoint.id, {"enabled": True})

    assert stored.enabled and stored.failing_since is None and stored.disabled_reason is None
