"""Bounce and complaint webhooks from the mail relays (public: each provider proves itself
its own way), and the credentials they are checked with (admin tokens only)."""

from __future__ import annotations

from flask import jsonify, request

from webapp.api.audit_trail import note
from webapp.api.auth import current_tenant_id
from webapp.api.blueprint import bp
from webapp.api.errors import error_response
from webapp.api.registry import api_route
from webapp.api.schemas.provider_webhooks import ProviderWebhooksOut, ProviderWebhooksPatch, WebhookReceipt
from webapp.services.deliverability import credentials
from webapp.services.deliverability.receive import receive
from webapp.services.deliverability.relay_events import Unauthenticated

PROVIDER_HELP = ("ses: an SNS HTTPS subscription of the topic your SES configuration set publishes bounces and "
                 "complaints to (the message signature is checked with Amazon's certificate; the subscription is "
                 "confirmed automatically). sendgrid: the Event Webhook with Signed Event Webhook on. postmark: "
                 "the bounce and spam complaint webhook, with the username and password from Settings in the URL. "
                 "mailgun: the failed and complained webhooks (JSON), signed with your webhook signing key.")


@api_route(bp, "/webhooks/<provider>/<tenant_key>", "POST", public=True, tag="provider-webhooks",
           summary="Receive bounces and complaints from SES, SendGrid, Postmark or Mailgun",
           response=WebhookReceipt, errors=(400, 401, 403, 404, 413),
           description="Each provider's own payload format and authentication. " + PROVIDER_HELP
           + " A call that does not prove it comes from the provider is a 401 or 403 and changes nothing; an "
             "unknown provider or key is a 404. The same event delivered twice is applied once.")
def provider_webhook(provider: str, tenant_key: str):
    try:
        result = receive(provider, tenant_key, request.headers, request.get_data(cache=False))
    except Unauthenticated as exc:
        response = error_response(exc.status, exc.code, exc.message, exc.details)
        if exc.challenge:  # Postmark is told to send basic auth, not a bearer token
            response.headers["WWW-Authenticate"] = exc.challenge
        return response
    return jsonify(result)


@api_route(bp, "/settings/provider-webhooks", "GET", admin=True, tag="settings",
           summary="Bounce and complaint webhook URLs and which credentials are set",
           response=ProviderWebhooksOut,
           description="The URL to paste into each provider's console (it holds the organisation's random key) and, "
                       "for each provider, whether its credentials are set. Secrets are never returned.")
def get_provider_webhooks():
    return jsonify(credentials.describe(credentials.settings_of(current_tenant_id())))


@api_route(bp, "/settings/provider-webhooks", "PATCH", admin=True, tag="settings",
           summary="Set the providers' webhook credentials", body=ProviderWebhooksPatch,
           response=ProviderWebhooksOut, errors=(422,),
           description="Only the fields sent change; every one is checked before any is saved. Secrets are "
                       "write-only.")
def patch_provider_webhooks(body: ProviderWebhooksPatch):
    changes = body.model_dump(exclude_unset=True)
    row = credentials.update_credentials(current_tenant_id(), changes)
    note("provider_webhooks.changed", changes={name: None for name in sorted(changes)})
    return jsonify(credentials.describe(row))


@api_route(bp, "/settings/provider-webhooks/new-key", "POST", admin=True, tag="settings",
           summary="Replace the key in every webhook URL", response=ProviderWebhooksOut,
           description="The old URLs answer 404 from now on: paste the new ones into each provider's console.")
def new_provider_webhook_key():
    row = credentials.new_key(current_tenant_id())
    note("provider_webhooks.new_key")
    return jsonify(credentials.describe(row))
