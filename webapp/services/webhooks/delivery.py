"""Delivering webhooks: claim a due delivery (conditional UPDATE: one worker per attempt),
sign it the Standard Webhooks way with the reference library, POST it through the SSRF-safe
client, record the attempt, and schedule the retry or give up.

Retries follow Standard Webhooks' suggested schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
10 h: eight attempts over about 27 hours). An endpoint whose attempts have all failed for
WEBHOOK_DISABLE_AFTER_DAYS (5) is disabled and its owner told by email, once."""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from standardwebhooks import Webhook

from webapp.extensions import db
from webapp.infra.outbound import Answer, WebhookFailed, WebhookRefused, post
from webapp.infra.types import utcnow
from webapp.models import Tenant, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webapp.services.webhooks.endpoints import secret_of
from webapp.services.webhooks.lifecycle import disable_if_failing

RETRY_SCHEDULE = (timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                  timedelta(hours=5), timedelta(hours=10), timedelta(hours=10))
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
ERROR_LENGTH = 500
# A claim older than this belongs to a worker that died mid-attempt (an attempt takes at
# most a few seconds: outbound.TIMEOUT_SECONDS to connect and to read).
LEASE = timedelta(seconds=120)


def claimable(now: datetime):
    return and_(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now,
                or_(WebhookDelivery.claim_token.is_(None), WebhookDelivery.claimed_at < now - LEASE))


def due_delivery_ids(now: datetime | None = None, limit: int = 5000) -> list[int]:
    """Deliveries the database says are due (for the periodic sweep), oldest first."""
    now = now or utcnow()
    return list(db.session.scalars(select(WebhookDelivery.id).where(claimable(now))
                                   .order_by(WebhookDelivery.next_attempt_at).limit(limit)))


def signed_headers(secret: str, msg_id: str, data: bytes, at: datetime) -> dict[str, str]:
    return {"Content-Type": "application/json", "webhook-id": msg_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, at, data)}


def deliver(delivery_ids: list[int], now: datetime | None = None) -> int:
    """Attempt each of these deliveries that is due and unclaimed; returns how many were attempted."""
    return sum(attempt(delivery_id, now) is not None for delivery_id in delivery_ids)


def _claim(delivery_id: int, now: datetime) -> str | None:
    token = secrets.token_hex(16)
    claimed = db.session.scalar(
        update(WebhookDelivery).where(WebhookDelivery.id == delivery_id, claimable(now))
        .values(claim_token=token, claimed_at=now, attempts=WebhookDelivery.attempts + 1)
        .returning(WebhookDelivery.id))
    db.session.commit()
    return token if claimed is not None else None


def attempt(delivery_id: int, now: datetime | None = None) -> str | None:
    """One attempt of one delivery, if it is due and nobody holds it: "succeeded", "retry",
    "failed"; None when there was nothing to do. `now` is the scheduling clock (tests move
    it); the signature carries the real time, as receivers check it against theirs."""
    now = now or utcnow()
    token = _claim(delivery_id, now)
    if token is None:
        return None
    # Fresh from the database: this session may hold them from an earlier attempt.
    delivery = db.session.get(WebhookDelivery, delivery_id, populate_existing=True)
    endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id, populate_existing=True)
    if not endpoint.enabled:
        _finish(delivery, token, now, ok=False, final=True, error="the endpoint is disabled", status_code=None, ms=None)
        db.session.commit()
        return "failed"
    allowlist = db.session.scalar(select(Tenant.webhook_allowlist).where(Tenant.id == delivery.tenant_id))
    data = json.dumps(delivery.payload, separators=(",", ":"), default=str).encode()
    headers = signed_headers(secret_of(endpoint), delivery.msg_id, data, utcnow())
    url = endpoint.url
    db.session.commit()  # nothing stays locked while the receiver thinks
    started = time.monotonic()
    answer: Answer | None = None
    refused = False
    try:
        answer = post(url, data, headers, allowlist=allowlist)
        error = None if 200 <= answer.status < 300 else f"HTTP {answer.status} {answer.reason}"
    except WebhookRefused as exc:
        error, refused = f"refused: {exc}", True
    except WebhookFailed as exc:
        error = str(exc)
    ms = int((time.monotonic() - started) * 1000)
    ok = error is None
    final = ok or refused or delivery.attempts >= MAX_ATTEMPTS
    outcome = _finish(delivery, token, now, ok=ok, final=final, error=error,
                      status_code=answer.status if answer else None, ms=ms)
    _update_streak(endpoint.id, ok, now)
    db.session.commit()
    if not ok:
        disable_if_failing(endpoint.id, now)
    return outcome


def _finish(delivery: WebhookDelivery, token: str, now: datetime, *, ok: bool, final: bool, error: str | None,
            status_code: int | None, ms: int | None) -> str:
    status = "succeeded" if ok else ("failed" if final else "pending")
    wait = None if final else RETRY_SCHEDULE[min(delivery.attempts, len(RETRY_SCHEDULE)) - 1]
    error = error[:ERROR_LENGTH] if error else None
    db.session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id == delivery.id, WebhookDelivery.claim_token == token)
        .values(status=status, claim_token=None, claimed_at=None, last_status_code=status_code,
                last_response_ms=ms, last_error=error, delivered_at=now if ok else WebhookDelivery.delivered_at,
                next_attempt_at=now + wait if wait else None)
        .execution_options(synchronize_session=False))
    db.session.add(WebhookAttempt(delivery_id=delivery.id, attempted_at=now, succeeded=ok, status_code=status_code,
                                  response_ms=ms, error=error))
    return {"succeeded": "succeeded", "failed": "failed"}.get(status, "retry")


def _update_streak(endpoint_id: int, ok: bool, now: datetime) -> None:
    if ok:
        db.session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id,
                                                         WebhookEndpoint.consecutive_failures > 0)
                           .values(consecutive_failures=0, failing_since=None)
                           .execution_options(synchronize_session=False))
        return
    db.session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
                       .values(consecutive_failures=WebhookEndpoint.consecutive_failures + 1,
                               failing_since=db.func.coalesce(WebhookEndpoint.failing_since, now))
                       .execution_options(synchronize_session=False))
