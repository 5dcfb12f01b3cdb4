"""Application factory."""

from __future__ import annotations

import functools
import json
import os
from typing import Any

from flask import Flask, make_response, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, ValidationError

from webapp.api import bp as api_bp
from webapp.api.errors import error_response, http_error_response
from webapp.api.tracking import OpenPixelFastPath
from webapp.cli import register_cli
from webapp.config import check_config, derive_settings, load_config
from webapp.extensions import csrf, db, htmx, login_manager, migrate
from webapp.infra.errors import DomainError
from webapp.infra.json_provider import FastJSONProvider
from webapp.infra.sql import CHECKPOINTS_HELD, SQLITE_AUTOCHECKPOINT
from webapp.infra.types import MAX_ID
from webapp.ratelimit import init_rate_limits
from webapp.services.imports import MAX_FILE_BYTES
from webapp.services.tenants import load_user
from webapp.session_cookie import CachedSerializerSessionInterface
from webapp.web import register_web
from webapp.web.error_pages import error_page_text


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings, extensions, blueprints, error pages, CLI.

    `config` overrides settings read from the environment (tests pass theirs here).
    """
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    app = Flask(__name__, instance_relative_config=True,
                template_folder=os.path.join(root, "templates"),
                static_folder=os.path.join(root, "static"))
    app.json = FastJSONProvider(app)

    app.config.update(load_config(app.instance_path))
    if config:
        app.config.update(config)
    check_config(app.config)
    derive_settings(app.config)
    os.makedirs(app.instance_path, exist_ok=True)

    app.session_interface = CachedSerializerSessionInterface()

    _init_extensions(app)
    _register_blueprints(app)
    _register_error_handlers(app)
    _send_security_headers(app)
    init_rate_limits(app)
    _allow_large_uploads(app)
    app.wsgi_app = OpenPixelFastPath(app, app.wsgi_app)  # type: ignore[method-assign]
    _trust_proxies(app)  # outermost: the fast path sees the forwarded client address too

    register_cli(app)
    # The worker's periodic scheduler runs in a spawn'd child that builds an app of its own:
    # it takes this factory from the app it is given (a module-level function, so it pickles
    # by name) instead of importing the app from below.
    app.extensions["crm_app_factory"] = create_app
    return app


def _init_extensions(app: Flask) -> None:
    options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Writers wait for each other instead of failing at once with "database is locked".
        options.setdefault("connect_args", {"timeout": 30})
    # The last wall behind the checks at every edge: a JSON document holding NaN or Infinity
    # is never written (SQLite would keep it, and every later read would echo invalid JSON).
    options.setdefault("json_serializer", functools.partial(json.dumps, allow_nan=False))
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"),
                     render_as_batch=True)
    csrf.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_user)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Enforce foreign keys and let readers proceed while a writer commits.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL is crash-safe for the process (a killed worker loses nothing it
        # committed) and skips the fsync per commit. That matters for delivery: the time
        # between marking a message sent and releasing it to the SMTP server is the one window
        # where a killed worker loses a message, and an fsync made it milliseconds wide.
        # (A power cut may roll back the last commits; SQLite is the embedded default, not
        # the production database.)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        # SQLite's own lower() folds ASCII only: a search for "élodie" missed "Élodie", and a
        # segment's "name contains" disagreed with the same condition checked in Python. The
        # query's side is lower-cased by Python, so the rows' side is too.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value):
    return value.lower() if isinstance(value, str) else value


@event.listens_for(Engine, "connect")
def _postgres_settings(dbapi_connection, _record) -> None:
    # No JIT compilation. It starts at an estimated cost, not a measured one: a customer's
    # segment probe planned on stale statistics (right after a calculation added millions of
    # members) spent 235 ms compiling to run for 1 ms, on every purchase until the next
    # ANALYZE; and the large reads it is made for ran slower with it here (a pass over a
    # million customers 354 vs 270 ms, reachable counts over ten million members 6.2 vs 3.9 s).
    # A SET, not a startup option: connection poolers refuse unknown startup parameters.
    if type(dbapi_connection).__module__.startswith("psycopg"):
        dbapi_connection.execute("SET jit = off")
        dbapi_connection.commit()


@event.listens_for(Pool, "checkin")
def _sqlite_checkpoints_back_on(dbapi_connection, record) -> None:
    # Delivery holds SQLite's checkpoints off across a "sent" commit; a connection that comes
    # back without settle_sent() (an exception in between) must not keep them off for good.
    if record.info.pop(CHECKPOINTS_HELD, False) and dbapi_connection is not None:
        dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={SQLITE_AUTOCHECKPOINT}")


class IdConverter(IntegerConverter):
    """`<int:...>` in every URL is a database id. One that no row can have (above MAX_ID)
    is a 404 for every method, like any unknown id, instead of a database error. (A plain
    `max=` would make werkzeug answer 405 to methods of a sibling rule.)"""

    def to_python(self, value: str) -> int:
        try:
            number = super().to_python(value)
        except ValidationError:
            raise NotFound() from None
        if number > MAX_ID:
            raise NotFound()
        return number


def _register_blueprints(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter

    # The API authenticates by bearer token, never by cookie, so CSRF does not apply.
    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)
    register_web(app)
    # Browsers and feed readers ask for /favicon.ico whatever the page links: the static file,
    # served by the static view (public, cached like every static file).
    app.add_url_rule("/favicon.ico", endpoint="static", defaults={"filename": "favicon.ico"})


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _release_session(app: Flask) -> None:
    """A failed statement leaves the session unusable until it is rolled back, and the error
    page reads the signed-in user through it. An error response saves nothing, so roll back
    first, whatever went wrong."""
    try:
        db.session.rollback()
    except Exception:  # the connection itself is gone: the page must still be answered
        app.logger.exception("rolling back before an error page failed")


def _error_page(app: Flask, status: int, message: str | None, headers: list[tuple[str, str]] | None = None):
    """The error page (templates/errors/error.html), or its message alone for htmx. Without a
    message of our own the page says what its status means in the app's words."""
    _release_session(app)
    if htmx and not htmx.boosted:
        # A fragment would land wherever the request aimed (inside a tag list, say):
        # show the message in the page's flash area instead. base.html lets htmx swap it.
        _title, text = error_page_text(status, message)
        response = make_response(render_template("errors/_flash.html", message=text), status)
        response.headers["HX-Retarget"] = "#flashes"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    return render_template("errors/error.html", status=status, message=message), status, headers or []


def _own_message(exc: HTTPException) -> str | None:
    """What the code said when it raised (a role, a limit's advice), or None for Werkzeug's
    generic wording and a rate limit's bare figures ("10 per 15 minute")."""
    if isinstance(exc, RateLimitExceeded) and not exc.limit.error_message:
        return None
    return exc.description if exc.description != type(exc).description else None


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        return _error_page(app, 400, "Your form expired or was not sent from this site. "
                                     "Reload the page and try again.")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if _wants_json():
            _release_session(app)
            return http_error_response(exc)
        # Headers the status needs (Allow on a 405) travel with the page; its type does not.
        headers = [(name, value) for name, value in exc.get_headers() if name.lower() != "content-type"]
        return _error_page(app, exc.code or 500, _own_message(exc), headers)

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):
        if _wants_json():
            _release_session(app)
            return error_response(exc.status, exc.code, exc.message, exc.details)
        return _error_page(app, exc.status, exc.message)

    @app.errorhandler(Exception)
    def _unexpected_error(exc: Exception):
        """A bug or a failed database: logged with its traceback, answered with the app's own
        error page (JSON under /api/), which must not fail in turn."""
        app.logger.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
        message = "Something went wrong on our side and nothing was saved. Try again in a moment."
        if _wants_json():
            _release_session(app)
            return error_response(500, "internal_error", message)
        try:
            return _error_page(app, 500, message)
        except Exception:  # the page needs the database too (the signed-in user): say it without
            app.logger.exception("the error page failed as well")
            return f"<!doctype html><title>Error 500</title><h1>500</h1><p>{message}</p>", 500


# Mail clients fetch these (the open pixel's usual GET never reaches Flask: OpenPixelFastPath):
# an image and a redirect, nothing to frame or sniff, and every microsecond counts there.
TRACKING_PREFIX = "/api/crm/track/"


def _send_security_headers(app: Flask) -> None:
    """No other site may frame our pages (clickjacking), and no browser guesses a type other
    than the one we send. A page's own Content-Security-Policy keeps its rules and gains
    frame-ancestors."""

    def add_headers(response):
        if request.path.startswith(TRACKING_PREFIX):
            return response
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        if response.mimetype == "text/html":
            policy = headers.get("Content-Security-Policy")
            # A page that says who may frame it (the hosted signup form: any website) is
            # not overruled by the older header.
            if policy is None or "frame-ancestors" not in policy:
                headers.setdefault("X-Frame-Options", "DENY")
            if policy is None:
                headers["Content-Security-Policy"] = "frame-ancestors 'none'"
            elif "frame-ancestors" not in policy:
                headers["Content-Security-Policy"] = f"{policy}; frame-ancestors 'none'"
        return response

    app.after_request(add_headers)


# The CSV upload endpoints take files up to the import limit, the image uploads up to
# ASSET_MAX_BYTES, the batch endpoints up to BATCH_MAX_BYTES; every other request keeps
# MAX_CONTENT_LENGTH (1 MiB).
UPLOAD_ENDPOINTS = frozenset({"api.import_customers", "imports.new"})
IMAGE_UPLOAD_ENDPOINTS = frozenset({"api.upload_asset", "assets.upload"})
# The batch ingest endpoints take up to 1,000 items a request.
BATCH_ENDPOINTS = frozenset({"api.ingest_activities", "api.ingest_customers"})
BATCH_MAX_BYTES = 8 * 1024 * 1024


def _allow_large_uploads(app: Flask) -> None:
    def raise_the_limit() -> None:
        if request.endpoint in UPLOAD_ENDPOINTS:
            request.max_content_length = MAX_FILE_BYTES + 64 * 1024  # the file and the form around it
        elif request.endpoint in IMAGE_UPLOAD_ENDPOINTS:
            request.max_content_length = app.config["ASSET_MAX_BYTES"] + 64 * 1024
        elif request.endpoint in BATCH_ENDPOINTS:
            request.max_content_length = BATCH_MAX_BYTES

    # First of all before_request hooks: CSRF protection reads the form (and so the body).
    app.before_request_funcs.setdefault(None, []).insert(0, raise_the_limit)


def _trust_proxies(app: Flask) -> None:
    """Behind PROXY_HOPS reverse proxies, the client is the address they forwarded: per-address
    rate limits and tracking's address rules need the client, not the proxy. Without the
    setting the headers are ignored, so a client cannot choose its own address."""
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
