"""Emitting events: one delivery row per subscribed, enabled endpoint, written in the
caller's transaction (the outbox), the delivery job asked for after commit.

Hot paths (purchases, tracking, sends) call this for tenants that mostly have no endpoint,
so finding the subscribers is one indexed aggregate per transaction and tenant at most,
and the endpoint rows are loaded only when that aggregate moves (a per-process cache keyed
like the active-workflow cache in services/enrollment/active.py). Payloads are built only
when somebody listens: callers pass a function."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam, func, insert, literal_column, select
from sqlalchemy.dialects import postgresql

from webapp.extensions import db
from webapp.infra.memo import VersionedCache
from webapp.infra.queues import after_commit_merged
from webapp.infra.sql import HotStatement
from webapp.infra.types import utcnow
from webapp.models import WEBHOOK_EVENT_TYPES, WebhookDelivery, WebhookEndpoint

DELIVERY_CHUNK = 50
# tenant_id -> {event type: [endpoint ids]}, under the key of its enabled endpoints.
_CACHE = VersionedCache[dict[str, list[int]]]()
_SESSION_KEY = "crm_webhook_subscribers"

Payload = dict[str, Any]


def new_msg_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


# What moves with every change to the tenant's enabled endpoints: read once a transaction
# that emits (a send group, a purchase), so built once and run through the driver.
_KEY = HotStatement(lambda: select(
    func.count(WebhookEndpoint.id), func.coalesce(func.sum(WebhookEndpoint.version), literal_column("0")),
    func.max(WebhookEndpoint.id), func.max(WebhookEndpoint.updated_at))
    .where(WebhookEndpoint.tenant_id == bindparam("tenant_id", type_=Integer()), WebhookEndpoint.enabled.is_(True)),
    tenant_id=0)


def _load(tenant_id: int) -> dict[str, list[int]]:
    return _resolve(tenant_id, tuple(_KEY.rows(tenant_id=tenant_id)[0]))


def _resolve(tenant_id: int, key: tuple) -> dict[str, list[int]]:
    if not key[0]:
        return {}
    return _CACHE.get(tenant_id, key, lambda: _subscriptions(tenant_id))


@functools.cache
def key_sql() -> str:
    """The key's query as PostgreSQL text with a %(tenant_id)s parameter: a hot statement
    reads it beside its own work (a send group's mark) and hands the row to hold_key, which
    saves the key's own round trip."""
    return str(_KEY.statement().compile(dialect=postgresql.psycopg.dialect()))


def hold_key(tenant_id: int, key: tuple) -> None:
    """The tenant's subscribers for the rest of this transaction, from a key the caller read
    in it with key_sql()."""
    _held()[tenant_id] = _resolve(tenant_id, key)


def _held() -> dict[int, dict[str, list[int]]]:
    """What this transaction found, by tenant (it sees one snapshot anyway)."""
    session = db.session()
    session.connection()  # begins the transaction if none is open, so it can key what is held
    transaction = session.get_transaction()
    held = session.info.get(_SESSION_KEY)
    if held is None or held[0] is not transaction:
        held = session.info[_SESSION_KEY] = (transaction, {})
    return held[1]


def _subscriptions(tenant_id: int) -> dict[str, list[int]]:
    by_type: dict[str, list[int]] = {}
    for endpoint_id, types in db.session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.event_types)
            .where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.enabled.is_(True))
            .order_by(WebhookEndpoint.id)):
        for event_type in types or ():
            by_type.setdefault(event_type, []).append(endpoint_id)
    return by_type


def subscribers(tenant_id: int, event_type: str) -> list[int]:
    """Ids of the tenant's enabled endpoints subscribed to `event_type` (the answer is kept
    for the rest of the transaction: it sees one snapshot anyway)."""
    if event_type not in WEBHOOK_EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    by_tenant = _held()
    if tenant_id not in by_tenant:
        by_tenant[tenant_id] = _load(tenant_id)
    return by_tenant[tenant_id].get(event_type, [])


def body(event_type: str, data: Payload, at: datetime) -> Payload:
    """The JSON every delivery carries (Standard Webhooks' suggested envelope)."""
    return {"type": event_type, "timestamp": at.isoformat(), "data": data}


def emit(tenant_id: int, event_type: str, payload: Payload | Callable[[], Payload]) -> int:
    """Store one delivery of this event per subscribed endpoint in the caller's transaction;
    the deliveries start once it commits. `payload` may be a function, called only when
    somebody subscribed. Returns how many deliveries were stored."""
    return emit_many(tenant_id, event_type, (lambda: [payload()]) if callable(payload) else [payload])


def emit_many(tenant_id: int, event_type: str,
              payloads: Iterable[Payload] | Callable[[], Iterable[Payload]]) -> int:
    """emit for many events of one type at once (segment recalculations, send batches,
    tracking hits): one executemany INSERT for all rows."""
    endpoint_ids = subscribers(tenant_id, event_type)
    if not endpoint_ids:
        return 0
    now = utcnow()
    rows = [{"tenant_id": tenant_id, "endpoint_id": endpoint_id, "event_type": event_type, "msg_id": new_msg_id(),
             "payload": body(event_type, data, now), "status": "pending", "attempts": 0, "next_attempt_at": now,
             "created_at": now}
            for data in (payloads() if callable(payloads) else payloads) for endpoint_id in endpoint_ids]
    if not rows:
        return 0
    ids = list(db.session.scalars(insert(WebhookDelivery).returning(WebhookDelivery.id), rows))
    after_commit_merged("webhooks.deliver", ids, chunk=DELIVERY_CHUNK, queue="default", job_timeout=600)
    return len(rows)
