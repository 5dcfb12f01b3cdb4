"""Deliveries: stored in the caller's transaction before any attempt, signed so the Standard
Webhooks reference library verifies them, retried on the suggested schedule with the same
webhook-id until a 2xx, attempted once however many workers claim, refused for private
addresses, given up on after ~27 hours, and resent on request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.sql_support import sql_sent
from webapp.extensions import db
from webapp.infra.errors import Conflict
from webapp.infra.queues import get_queue
from webapp.models import WebhookAttempt, WebhookDelivery
from webapp.services import webhooks
from webapp.tasks.webhooks import enqueue_due_deliveries

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def _emit(tenant_id: int, data: dict | None = None) -> WebhookDelivery:
    webhooks.emit(tenant_id, "customer.created", data or {"customer": {"id": 1, "email": "ada@example.com"}})
    db.session.commit()
    return db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id.desc())).first()


def _at(delivery_id: int) -> WebhookDelivery:
    db.session.expire_all()
    return db.session.get(WebhookDelivery, delivery_id)


def test_a_delivery_is_stored_in_the_callers_transaction_before_any_attempt(tenant_a, subscribe, receiver):
    subscribe(tenant_a.id, "customer.created")
    webhooks.emit(tenant_a.id, "customer.created", {"n": 1})
    db.session.rollback()
    assert db.session.scalar(select(func.count(WebhookDelivery.id))) == 0

    delivery = _emit(tenant_a.id)

    assert (delivery.status, delivery.attempts, delivery.msg_id[:4]) == ("pending", 0, "msg_")
    assert receiver.received == []  # the job never ran: the row is the outbox
    [job] = get_queue("default").get_jobs()
    assert job.func_name == "webapp.tasks.webhooks.deliver" and job.args == ([delivery.id],)


def test_a_delivery_is_signed_and_verifies_with_the_reference_library(tenant_a, subscribe, receiver):
    subscribe(tenant_a.id, "customer.created")
    delivery = _emit(tenant_a.id, {"customer": {"id": 7, "email": "ada@example.com"}})

    assert webhooks.attempt(delivery.id) == "succeeded"

    [got] = receiver.received
    assert receiver.unverified == []
    assert got.headers["webhook-id"] == delivery.msg_id and got.headers["content-type"] == "application/json"
    assert got.body["type"] == "customer.created" and got.body["data"]["customer"]["email"] == "ada@example.com"
    assert datetime.fromisoformat(got.body["timestamp"]) == delivery.created_at
    stored = _at(delivery.id)
    assert (stored.status, stored.last_status_code, stored.attempts) == ("succeeded", 200, 1)
    assert stored.delivered_at is not None and stored.last_response_ms is not None


def test_failures_are_retried_with_backoff_and_the_same_webhook_id_until_success(tenant_a, subscribe, receiver):
    subscribe(tenant_a.id, "customer.created")
    receiver.fail_first = 3
    delivery = _emit(tenant_a.id)

    assert webhooks.attempt(delivery.id, T0) == "retry"
    assert _at(delivery.id).next_attempt_at == T0 + timedelta(seconds=5)
    assert webhooks.attempt(delivery.id, T0 + timedelta(seconds=4)) is None  # not due yet
    assert webhooks.attempt(delivery.id, T0 + timedelta(seconds=5)) == "retry"
    second = T0 + timedelta(seconds=5)
    assert _at(delivery.id).next_attempt_at == second + timedelta(minutes=5)
    assert webhooks.attempt(delivery.id, second + timedelta(minutes=5)) == "retry"
    third = second + timedelta(minutes=5)
    assert _at(delivery.id).next_attempt_at == third + timedelta(minutes=30)
    assert webhooks.attempt(delivery.id, third + timedelta(minutes=30)) == "succeeded"

    assert [r.answered for r in receiver.received] == [500, 500, 500, 200]
    assert set(receiver.ids()) == {delivery.msg_id} and receiver.unverified == []
    stored = _at(delivery.id)
    assert (stored.status, stored.attempts, stored.last_status_code, stored.last_error) == ("succeeded", 4, 200, None)
    log = db.session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id)
                             .order_by(WebhookAttempt.id)).all()
    assert [(a.succeeded, a.status_code) for a in log] == [(False, 500)] * 3 + [(True, 200)]
    assert "HTTP 500" in log[0].error


def test_a_delivery_is_retried_for_more_than_24_hours_then_fails(tenant_a, subscribe, receiver, app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_DISABLE_AFTER_DAYS", 30)
    subscribe(tenant_a.id, "customer.created")
    receiver.fail_first = 1000
    delivery = _emit(tenant_a.id)

    now, outcomes = T0, []
    while (outcome := webhooks.attempt(delivery.id, now)) is not None:
        outcomes.append(outcome)
        stored = _at(delivery.id)
        if stored.next_attempt_at is None:
            break
        now = stored.next_attempt_at

    assert outcomes == ["retry"] * (webhooks.MAX_ATTEMPTS - 1) + ["failed"]
    assert now - T0 > timedelta(hours=24)
    stored = _at(delivery.id)
    assert (stored.status, stored.attempts, stored.last_status_code) == ("failed", webhooks.MAX_ATTEMPTS, 500)
    assert webhooks.attempt(delivery.id, now + timedelta(days=2)) is None


def test_two_workers_claiming_at_once_deliver_it_once(app, tenant_a, subscribe, receiver, run_in_threads):
    subscribe(tenant_a.id, "customer.created")
    delivery_id = _emit(tenant_a.id).id

    results = run_in_threads(app, 2, lambda i: webhooks.attempt(delivery_id))

    assert sorted(map(str, results)) == ["None", "succeeded"]
    assert len(receiver.received) == 1


def test_a_private_address_is_refused_without_the_operator_opening_it(tenant_a, receiver, app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_PRIVATE_HOSTS", ())
    for url in ("https://127.0.0.1/hooks", "https://169.254.169.254/latest/meta-data", "https://10.0.0.8/in"):
        webhooks.create_endpoint(tenant_a.id, {"url": url, "event_types": ["email.sent"]})
    webhooks.emit(tenant_a.id, "email.sent", {"n": 1})
    db.session.commit()

    # In the endpoints' order (a SELECT without ORDER BY may come back in any order).
    ids = db.session.scalars(select(WebhookDelivery.id).order_by(WebhookDelivery.endpoint_id)).all()
    assert [webhooks.attempt(i) for i in ids] == ["failed"] * 3  # a rule, not a blip: not retried
    errors = [_at(i).last_error for i in ids]
    assert all(e.startswith("refused:") and "WEBHOOK_PRIVATE_HOSTS" in e for e in errors)
    assert "loopback" in errors[0] and "link-local" in errors[1] and "private" in errors[2]
    assert receiver.received == []


def test_a_finished_delivery_can_be_resent_with_the_same_webhook_id(tenant_a, subscribe, receiver):
    endpoint = subscribe(tenant_a.id, "customer.created")
    delivery = _emit(tenant_a.id)
    webhooks.attempt(delivery.id)
    with pytest.raises(Conflict):
        webhooks.update_endpoint(tenant_a.id, endpoint.id, {"enabled": False})
        webhooks.resend(tenant_a.id, endpoint.id, delivery.id)
    webhooks.update_endpoint(tenant_a.id, endpoint.id, {"enabled": True})

    webhooks.resend(tenant_a.id, endpoint.id, delivery.id)
    with pytest.raises(Conflict, match="already waiting"):
        webhooks.resend(tenant_a.id, endpoint.id, delivery.id)
    assert webhooks.attempt(delivery.id) == "succeeded"

    assert receiver.ids() == [delivery.msg_id, delivery.msg_id]
    assert db.session.scalar(select(func.count(WebhookAttempt.id))) == 2


def test_the_sweep_enqueues_due_deliveries_the_queue_lost(tenant_a, subscribe, receiver, redis_server):
    subscribe(tenant_a.id, "customer.created")
    first, second = _emit(tenant_a.id), _emit(tenant_a.id)
    get_queue("default").empty()  # Redis lost the after-commit jobs

    assert enqueue_due_deliveries() == 2
    assert enqueue_due_deliveries() == 2  # the chunk still waiting is not queued twice
    [job] = get_queue("default").get_jobs()
    assert job.args == ([first.id, second.id],)


def test_a_tenant_without_endpoints_pays_one_query_per_transaction(tenant_a, subscribe):
    db.session.commit()
    with sql_sent() as statements:
        for _ in range(3):
            assert webhooks.emit(tenant_a.id, "purchase.attributed", lambda: pytest.fail("built for nobody")) == 0
        assert webhooks.emit_many(tenant_a.id, "email.opened", lambda: pytest.fail("built for nobody")) == 0
    assert len(statements) == 1
