"""Rate limits (Flask-Limiter), counted in Redis so that every web process shares them.

Which limit applies where is decided here, in one table, after every blueprint is
registered:
- the JSON API, per API token (the token's hash: no database lookup before the check);
- sign-in attempts, per account and per address, counting failed attempts only; an address
  the account signed in from within the last 30 days has its own per-account budget, so
  failures elsewhere do not lock the owner out (login_account_key);
- password reset links asked for, per account and per address (every request counts);
- signup form submissions, per email address typed and per address (every request counts);
- the public endpoints (tracking, unsubscribe, the OpenAPI document), per address (the
  tracking endpoints' counts travel with the hit spool's batches, see SPOOL_COUNTED).
A limited request gets 429 with Retry-After (JSON under /api, a page elsewhere). If Redis is
unreachable the limits are skipped rather than the requests refused.
"""

from __future__ import annotations

import hashlib
import logging

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from webapp.api.registry import PUBLIC_ENDPOINTS
from webapp.services.tenants import known_sign_in_network

log = logging.getLogger(__name__)

DEFAULTS = {
    # An on-sale sends purchases in bursts: a token may make 100 requests a second on average.
    "RATELIMIT_API": "6000 per minute",
    "RATELIMIT_LOGIN_ACCOUNT": "10 per 15 minutes",
    "RATELIMIT_LOGIN_ADDRESS": "50 per 15 minutes",
    # Mail proxies (Apple's, Google's) fetch pixels for many people from few addresses.
    "RATELIMIT_PUBLIC": "1200 per minute",
    "RATELIMIT_UNSUBSCRIBE": "60 per minute",
    # Reset links asked for: few per address (each one is an email to someone's inbox), more
    # per network address (an office shares one).
    "RATELIMIT_RESET_ACCOUNT": "5 per hour",
    "RATELIMIT_RESET_ADDRESS": "30 per hour",
    # Signup form submissions: per email address typed (each may mean a confirmation email to
    # someone's inbox) and per network address (a script posting many addresses).
    "RATELIMIT_SIGNUP_EMAIL": "5 per hour",
    "RATELIMIT_SIGNUP_ADDRESS": "30 per 10 minutes",
}


# The open pixel and tracked links keep RATELIMIT_PUBLIC too, counted per address by the
# hit spool with its batches (webapp/services/hit_spool.py) instead of two Redis round trips
# per request here: the pixel answered 4x fewer requests behind Flask-Limiter.
SPOOL_COUNTED = frozenset({"api.track_open", "api.track_click"})


def api_token_key() -> str:
    """The presented bearer token (hashed), or the address when there is none."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        return "token:" + hashlib.sha256(secret.strip().encode()).hexdigest()[:32]
    return "address:" + (get_remote_address() or "")


def login_account_key() -> str:
    """Failed sign-ins of one account share a budget, except those from an address the
    account signed in from recently: each such address has a budget of its own, so someone
    who knows the email cannot lock its owner out by failing from elsewhere."""
    email = (request.form.get("email") or "").strip().lower()
    network = known_sign_in_network(email, get_remote_address())
    return f"account:{email}" + (f"|from:{network}" if network else "")


def reset_account_key() -> str:
    return "reset:" + (request.form.get("email") or "").strip().lower()[:320]


def signup_email_key() -> str:
    """The typed address, per form (a stranger typing someone's address into one
    organisation's form does not lock them out of others'); without one, the network address,
    so that people who forgot to type one do not share a budget."""
    email = (request.form.get("email") or "").strip().lower()[:320]
    form = str((request.view_args or {}).get("public_id", ""))[:32]
    return f"signup:{form}:{email}" if email else f"signup:{form}:from:{get_remote_address() or ''}"


def _failed_login(response) -> bool:
    return response.status_code == 401


def init_rate_limits(app: Flask) -> Limiter:
    """One limiter per app (its route table is per app), applied to the registered views."""
    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    # Registered before the limiter's own hook, so it runs after it (Flask runs them last first).
    app.after_request(_retry_after_where_it_means_something)
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
    app.extensions["crm_limiter"] = limiter
    if not limiter.enabled:
        # Turned off (RATELIMIT_DISABLED=1): the views stay unwrapped. A disabled limiter
        # still works out every limit of every request, a fifth of the open pixel's CPU.
        return limiter
    _skip_the_pass_over(app, limiter, SPOOL_COUNTED)
    app.after_request(_note_own_retry_after)  # runs before the limiter's hook
    config = app.config
    for endpoint, view in list(app.view_functions.items()):
        if endpoint == "auth.login":
            limited = limiter.limit(config["RATELIMIT_LOGIN_ACCOUNT"], key_func=login_account_key, methods=["POST"],
                                    deduct_when=_failed_login, error_message=_LOGIN_MESSAGE)(view)
            limited = limiter.limit(config["RATELIMIT_LOGIN_ADDRESS"], methods=["POST"],
                                    deduct_when=_failed_login, error_message=_LOGIN_MESSAGE)(limited)
        elif endpoint == "password.forgot":
            limited = limiter.limit(config["RATELIMIT_RESET_ACCOUNT"], key_func=reset_account_key, methods=["POST"],
                                    error_message=_RESET_MESSAGE)(view)
            limited = limiter.limit(config["RATELIMIT_RESET_ADDRESS"], methods=["POST"],
                                    error_message=_RESET_MESSAGE)(limited)
        elif endpoint == "hosted_forms.submit":
            limited = limiter.limit(config["RATELIMIT_SIGNUP_EMAIL"], key_func=signup_email_key, methods=["POST"],
                                    error_message=_SIGNUP_MESSAGE)(view)
            limited = limiter.limit(config["RATELIMIT_SIGNUP_ADDRESS"], methods=["POST"],
                                    error_message=_SIGNUP_MESSAGE)(limited)
        elif endpoint == "waitlist_pages.join":
            # Joining a waitlist from its page: the signup limits, keyed the same way.
            limited = limiter.limit(config["RATELIMIT_SIGNUP_EMAIL"], key_func=signup_email_key, methods=["POST"],
                                    error_message=_SIGNUP_MESSAGE)(view)
            limited = limiter.limit(config["RATELIMIT_SIGNUP_ADDRESS"], methods=["POST"],
                                    error_message=_SIGNUP_MESSAGE)(limited)
        elif endpoint.startswith("waitlist_pages."):
            limited = limiter.limit(config["RATELIMIT_PUBLIC"])(view)
        elif endpoint.startswith("hosted_forms."):
            limited = limiter.limit(config["RATELIMIT_PUBLIC"])(view)
        elif endpoint in SPOOL_COUNTED:
            continue
        elif endpoint.startswith("unsubscribe."):
            limited = limiter.limit(config["RATELIMIT_UNSUBSCRIBE"])(view)
        elif endpoint in PUBLIC_ENDPOINTS:
            limited = limiter.limit(config["RATELIMIT_PUBLIC"])(view)
        elif endpoint.startswith("api."):
            limited = limiter.limit(config["RATELIMIT_API"], key_func=api_token_key)(view)
        else:
            continue
        app.view_functions[endpoint] = limited
    return limiter


_OWN_RETRY_AFTER = "crm_own_retry_after"


def _note_own_retry_after(response):
    response.__dict__[_OWN_RETRY_AFTER] = response.headers.get("Retry-After")
    return response


def _retry_after_where_it_means_something(response):
    """Flask-Limiter writes Retry-After on every response of a limited view, as the later of
    its window's reset and the one the view gave. Only a 429 means "wait for the window": a
    503 keeps the view's own (a write lost to contention can go again in a second, not at the
    window's reset a minute away), and any other answer carries none."""
    if response.status_code != 429 and _OWN_RETRY_AFTER in response.__dict__:
        own = response.__dict__[_OWN_RETRY_AFTER]
        if own is None:
            response.headers.pop("Retry-After", None)
        else:
            response.headers["Retry-After"] = own
    return response


def _skip_the_pass_over(app: Flask, limiter: Limiter, endpoints: frozenset[str]) -> None:
    """Flask-Limiter's hooks run on every request (a check before the view for default and
    blueprint limits, which we have none of; headers after; a context reset at teardown):
    about 25 us of CPU when nothing applies, a sixth of the open pixel. They keep running
    for every other endpoint."""
    def skipping(hook, passthrough: bool):
        def hook_unless_spool_counted(*args):
            if request.endpoint in endpoints:
                return args[0] if passthrough else None
            return hook(*args)
        return hook_unless_spool_counted

    for hooks, passthrough in ((app.before_request_funcs[None], False), (app.after_request_funcs[None], True),
                               (app.teardown_request_funcs[None], False)):
        for i, hook in enumerate(hooks):
            if getattr(hook, "__self__", None) is limiter or getattr(hook, "args", (None,))[0] is limiter:
                hooks[i] = skipping(hook, passthrough)


_LOGIN_MESSAGE = "Too many failed sign-in attempts. Wait a few minutes and try again."
_SIGNUP_MESSAGE = "Too many signups were sent from here. Wait a while and try again."
_RESET_MESSAGE = "Too many reset links were asked for. Wait an hour and try again, or ask an owner of your team."
