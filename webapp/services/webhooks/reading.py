"""What the API and the settings pages read: an endpoint's deliveries (newest first, keyset
paged), their attempts, and per-endpoint health (last result, success rate)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import case, func, select

from webapp.extensions import db
from webapp.infra.pagination import Page, keyset_by_id
from webapp.infra.types import utcnow
from webapp.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webapp.services.webhooks.endpoints import tenant_endpoint

HEALTH_DAYS = 7


def deliveries_page(tenant_id: int, endpoint_id: int, *, limit: int, cursor: str | None,
                    status: str | None = None) -> Page:
    endpoint = tenant_endpoint(tenant_id, endpoint_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id,
                                         WebhookDelivery.tenant_id == tenant_id)
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    return keyset_by_id(stmt, WebhookDelivery.id, limit=limit, cursor=cursor)


def attempts_of(tenant_id: int, delivery_ids: list[int]) -> dict[int, list[WebhookAttempt]]:
    """The attempts of these deliveries (the tenant's only), oldest first."""
    if not delivery_ids:
        return {}
    rows = db.session.scalars(
        select(WebhookAttempt).join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
        .where(WebhookAttempt.delivery_id.in_(delivery_ids), WebhookDelivery.tenant_id == tenant_id)
        .order_by(WebhookAttempt.id))
    out: dict[int, list[WebhookAttempt]] = {}
    for row in rows:
        out.setdefault(row.delivery_id, []).append(row)
    return out


def endpoint_health(tenant_id: int) -> dict[int, dict[str, Any]]:
    """Per endpoint of the tenant: attempts and success rate over HEALTH_DAYS, and the
    latest attempt (when, whether it worked, its HTTP status)."""
    since = utcnow() - timedelta(days=HEALTH_DAYS)
    joined = (select(WebhookDelivery.endpoint_id, WebhookAttempt.succeeded, WebhookAttempt.id,
                     WebhookAttempt.attempted_at, WebhookAttempt.status_code)
              .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
              .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
              .where(WebhookEndpoint.tenant_id == tenant_id))
    counts = db.session.execute(
        select(WebhookDelivery.endpoint_id, func.count(WebhookAttempt.id),
               func.sum(case((WebhookAttempt.succeeded.is_(True), 1), else_=0)), func.max(WebhookAttempt.id))
        .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
        .where(WebhookDelivery.tenant_id == tenant_id, WebhookAttempt.attempted_at >= since)
        .group_by(WebhookDelivery.endpoint_id)).all()
    latest_ids = [row[3] for row in counts]
    latest = {row.endpoint_id: row for row in db.session.execute(
        joined.where(WebhookAttempt.id.in_(latest_ids)))} if latest_ids else {}
    out = {}
    for endpoint_id, attempts, succeeded, _ in counts:
        last = latest.get(endpoint_id)
        out[endpoint_id] = {
            "attempts": attempts, "success_rate": (succeeded or 0) / attempts if attempts else None,
            "last_attempt_at": last.attempted_at if last else None,
            "last_succeeded": bool(last.succeeded) if last else None,
            "last_status_code": last.status_code if last else None,
        }
    return out
