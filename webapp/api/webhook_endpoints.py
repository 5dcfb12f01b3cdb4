"""Outbound webhook endpoints over JSON: subscribe URLs to events, read their deliveries,
resend one."""

from __future__ import annotations

from flask import jsonify

from webapp.api.auth import current_tenant_id
from webapp.api.blueprint import bp
from webapp.api.registry import api_route
from webapp.api.schemas.webhook_endpoints import (
    DeliveryQuery,
    WebhookDeliveryOut,
    WebhookDeliveryPage,
    WebhookEndpointCreated,
    WebhookEndpointIn,
    WebhookEndpointList,
    WebhookEndpointOut,
    WebhookEndpointPatch,
)
from webapp.infra.types import iso_or_none
from webapp.models import WebhookDelivery, WebhookEndpoint
from webapp.services import webhooks

SIGNING = ("Deliveries follow Standard Webhooks: headers webhook-id (stable across retries), webhook-timestamp and "
           "webhook-signature (v1, HMAC-SHA256 with the endpoint's secret); body {type, timestamp, data}. A 2xx "
           "answer is success; anything else is retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h.")


def endpoint_dict(endpoint: WebhookEndpoint) -> dict:
    return {
        "id": endpoint.id, "url": endpoint.url, "description": endpoint.description,
        "event_types": list(endpoint.event_types or []), "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason, "disabled_at": iso_or_none(endpoint.disabled_at),
        "consecutive_failures": endpoint.consecutive_failures, "failing_since": iso_or_none(endpoint.failing_since),
        "created_at": iso_or_none(endpoint.created_at), "updated_at": iso_or_none(endpoint.updated_at),
    }


def delivery_dict(delivery: WebhookDelivery) -> dict:
    return {
        "id": delivery.id, "endpoint_id": delivery.endpoint_id, "event_type": delivery.event_type,
        "msg_id": delivery.msg_id, "payload": delivery.payload, "status": delivery.status,
        "attempts": delivery.attempts, "next_attempt_at": iso_or_none(delivery.next_attempt_at),
        "last_status_code": delivery.last_status_code, "last_response_ms": delivery.last_response_ms,
        "last_error": delivery.last_error, "created_at": iso_or_none(delivery.created_at),
        "delivered_at": iso_or_none(delivery.delivered_at),
    }


@api_route(bp, "/webhook-endpoints", "GET", summary="List webhook endpoints", tag="webhooks", admin=True,
           response=WebhookEndpointList, description="Oldest first. The secrets are never listed.")
def list_webhook_endpoints():
    return jsonify({"data": [endpoint_dict(e) for e in webhooks.tenant_endpoints(current_tenant_id())],
                    "next_cursor": None})


@api_route(bp, "/webhook-endpoints", "POST", summary="Subscribe a URL to events", tag="webhooks", admin=True,
           body=WebhookEndpointIn, response=WebhookEndpointCreated, status=201, errors=(422,),
           description="The response carries the signing secret, this once. " + SIGNING)
def create_webhook_endpoint(body: WebhookEndpointIn):
    endpoint, secret = webhooks.create_endpoint(current_tenant_id(), body.model_dump())
    return jsonify({**endpoint_dict(endpoint), "secret": secret}), 201


@api_route(bp, "/webhook-endpoints/<int:endpoint_id>", "PATCH", summary="Change a webhook endpoint",
           tag="webhooks", admin=True, body=WebhookEndpointPatch, response=WebhookEndpointOut,
           errors=(404, 422), description="Only the fields sent change; null leaves a field as it is.")
def patch_webhook_endpoint(endpoint_id: int, body: WebhookEndpointPatch):
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    endpoint = webhooks.update_endpoint(current_tenant_id(), endpoint_id, changes)
    return jsonify(endpoint_dict(endpoint))


@api_route(bp, "/webhook-endpoints/<int:endpoint_id>", "DELETE", summary="Delete a webhook endpoint",
           tag="webhooks", admin=True, status=204, errors=(404,),
           description="Its delivery log goes too; nothing more is sent to it.")
def delete_webhook_endpoint(endpoint_id: int):
    webhooks.delete_endpoint(current_tenant_id(), endpoint_id)
    return "", 204


@api_route(bp, "/webhook-endpoints/<int:endpoint_id>/deliveries", "GET", summary="An endpoint's deliveries",
           tag="webhooks", admin=True, query=DeliveryQuery, response=WebhookDeliveryPage, errors=(404, 422),
           description="Newest first, keyset paged; `status` filters. Finished deliveries (succeeded or failed) "
                       "are kept for WEBHOOK_KEEP_DAYS (30 by default) after they were made.")
def list_webhook_deliveries(endpoint_id: int, query: DeliveryQuery):
    page = webhooks.deliveries_page(current_tenant_id(), endpoint_id, limit=query.limit, cursor=query.cursor,
                                    status=query.status)
    return jsonify({"data": [delivery_dict(d) for d in page.items], "next_cursor": page.next_cursor})


@api_route(bp, "/webhook-endpoints/<int:endpoint_id>/deliveries/<int:delivery_id>/resend", "POST",
           summary="Send a delivery again", tag="webhooks", admin=True, response=WebhookDeliveryOut, status=202,
           errors=(404, 409),
           description="A succeeded or failed delivery is queued again with the same webhook-id and body and a "
                       "fresh retry schedule. 409 while it is still waiting, or when the endpoint is disabled.")
def resend_webhook_delivery(endpoint_id: int, delivery_id: int):
    delivery = webhooks.resend(current_tenant_id(), endpoint_id, delivery_id)
    return jsonify(delivery_dict(delivery)), 202
