"""Outbound webhooks (Standard Webhooks): endpoints a tenant subscribes to events, the
outbox of deliveries written where the events happen, and their delivery with retries."""

from webapp.models import WEBHOOK_EVENT_TYPES
from webapp.services.webhooks.delivery import MAX_ATTEMPTS, RETRY_SCHEDULE, attempt, deliver, due_delivery_ids
from webapp.services.webhooks.emit import emit, emit_many, hold_key, key_sql, subscribers
from webapp.services.webhooks.endpoints import (
    EVENT_LABELS,
    create_endpoint,
    delete_endpoint,
    secret_of,
    tenant_endpoint,
    tenant_endpoints,
    update_endpoint,
)
from webapp.services.webhooks.lifecycle import disable_if_failing, resend, tenant_delivery
from webapp.services.webhooks.payloads import customer_ref, customer_refs
from webapp.services.webhooks.reading import attempts_of, deliveries_page, endpoint_health
from webapp.services.webhooks.retention import keep_for, prune_deliveries

__all__ = [
    "EVENT_LABELS",
    "MAX_ATTEMPTS", "RETRY_SCHEDULE", "WEBHOOK_EVENT_TYPES", "attempt", "attempts_of", "create_endpoint",
    "customer_ref", "customer_refs", "delete_endpoint", "deliver", "deliveries_page", "disable_if_failing",
    "due_delivery_ids", "emit", "emit_many", "endpoint_health", "hold_key", "keep_for", "key_sql",
    "prune_deliveries", "resend",
    "secret_of", "subscribers", "tenant_delivery", "tenant_endpoint", "tenant_endpoints", "update_endpoint",
]
