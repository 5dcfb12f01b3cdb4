"""Bearer-token authentication for the JSON API; the session cookie is never accepted."""

from __future__ import annotations

from flask import g, request

from webapp.api.errors import ApiError
from webapp.api.registry import ADMIN_ENDPOINTS, PUBLIC_ENDPOINTS, READ_ONLY_ENDPOINTS
from webapp.extensions import db
from webapp.infra.sql import reads_without_transaction
from webapp.models import Tenant
from webapp.services.tenants import TokenGrant, find_active_token

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def authenticate_request() -> None:
    """before_request for the API blueprint: sets g.api_token, the request's grant."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "unauthorized", "send an API token as 'Authorization: Bearer <token>'")
    if request.endpoint in READ_ONLY_ENDPOINTS:
        reads_without_transaction()  # before the token's query, which would begin one
    found = find_active_token(secret.strip())
    if found is None:
        raise ApiError(401, "unauthorized", "the API token is wrong or has been revoked")
    if request.method not in SAFE_METHODS and not found.can_write:
        raise ApiError(403, "forbidden", "this API token is read-only (viewer)")
    if request.endpoint in ADMIN_ENDPOINTS and not found.is_admin:
        raise ApiError(403, "forbidden", f"this route needs an admin token; this one is a {found.role} token")
    g.api_token = found


def current_grant() -> TokenGrant:
    return g.api_token


def current_tenant_id() -> int:
    return g.api_token.tenant_id


def current_tenant() -> Tenant:
    """The request's tenant row, read when a route needs more than its id."""
    return db.session.get(Tenant, g.api_token.tenant_id)
