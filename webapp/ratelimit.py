"""Rate limits (Flask-Limiter), counted in Redis so that every web process shares them.

Which limit applies where is decided here, in one table, after every blueprint is
registered:
- the JSON API, per API token (the token's hash: no database lookup before the check);
- sign-in attempts, per account and per address, counting failed attempts only;
- the public endpoints (tracking, unsubscribe, the OpenAPI document), per address.
A limited request gets 429 with Retry-After (JSON under /api, a page elsewhere). If Redis is
unreachable the limits are skipped rather than the requests refused.
"""

from __future__ import annotations

import hashlib
import logging

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

log = logging.getLogger(__name__)

DEFAULTS = {
    # An on-sale sends purchases in bursts: a token may make 100 requests a second on average.
    "RATELIMIT_API": "6000 per minute",
    "RATELIMIT_LOGIN_ACCOUNT": "10 per 15 minutes",
    "RATELIMIT_LOGIN_ADDRESS": "50 per 15 minutes",
    # Mail proxies (Apple's, Google's) fetch pixels for many people from few addresses.
    "RATELIMIT_PUBLIC": "1200 per minute",
    "RATELIMIT_UNSUBSCRIBE": "60 per minute",
}


def api_token_key() -> str:
    """The presented bearer token (hashed), or the address when there is none."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        return "token:" + hashlib.sha256(secret.strip().encode()).hexdigest()[:32]
    return "address:" + (get_remote_address() or "")


def login_account_key() -> str:
    return "account:" + (request.form.get("email") or "").strip().lower()


def _failed_login(response) -> bool:
    return response.status_code == 401


def init_rate_limits(app: Flask) -> Limiter:
    """One limiter per app (its route table is per app), applied to the registered views."""
    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    limiter = Limiter(
        key_func=get_remote_address,
        app=app,
        storage_uri=app.config.get("RATELIMIT_STORAGE_URI") or app.config["REDIS_URL"],
        strategy="moving-window",
        key_prefix="crm-limits",
        headers_enabled=True,
        swallow_errors=True,
        enabled=app.config.get("RATELIMIT_ENABLED", True),
    )
    from webapp.api.registry import PUBLIC_ENDPOINTS

    config = app.config
    for endpoint, view in list(app.view_functions.items()):
        if endpoint == "auth.login":
            limited = limiter.limit(config["RATELIMIT_LOGIN_ACCOUNT"], key_func=login_account_key, methods=["POST"],
                                    deduct_when=_failed_login, error_message=_LOGIN_MESSAGE)(view)
            limited = limiter.limit(config["RATELIMIT_LOGIN_ADDRESS"], methods=["POST"],
                                    deduct_when=_failed_login, error_message=_LOGIN_MESSAGE)(limited)
        elif endpoint.startswith("unsubscribe."):
            limited = limiter.limit(config["RATELIMIT_UNSUBSCRIBE"])(view)
        elif endpoint in PUBLIC_ENDPOINTS:
            limited = limiter.limit(config["RATELIMIT_PUBLIC"])(view)
        elif endpoint.startswith("api."):
            limited = limiter.limit(config["RATELIMIT_API"], key_func=api_token_key)(view)
        else:
            continue
        app.view_functions[endpoint] = limited
    app.extensions["crm_limiter"] = limiter
    return limiter


_LOGIN_MESSAGE = "Too many failed sign-in attempts. Wait a few minutes and try again."
