"""The JSON API at /api/crm: token-authenticated, JSON in and out."""

from webapp.api import (  # noqa: F401  (registers the views)
    assets,
    batch,
    campaigns,
    customers,
    events,
    events_inventory,
    forms,
    imports,
    openapi,
    provider_webhooks,
    segments,
    sending_domains,
    settings,
    templates,
    topics,
    tracking,
    webhook_endpoints,
    workflows,
)
from webapp.api.auth import authenticate_request
from webapp.api.blueprint import bp
from webapp.api.errors import register_error_handlers

bp.before_request(authenticate_request)
register_error_handlers(bp)
