"""HTML blueprints for marketers."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Flask, abort, request
from flask_login import current_user

from webapp.infra.validation import text_problem


def write_required(view: Callable) -> Callable:
    """Viewers may look but not change anything."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.can_write:
            abort(403, "Your role (viewer) can look at data but not change it.")
        return view(*args, **kwargs)

    return wrapper


def admin_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_admin:
            abort(403, "Only owners and admins can change settings and API tokens.")
        return view(*args, **kwargs)

    return wrapper


def partial_or_page(partial_template: str, page_template: str, **context):
    """One view serves the full page, or only the partial for HTMX requests.

    A history restore (Back after the page left htmx's cache) needs the whole page."""
    from flask import make_response, render_template

    from webapp.extensions import htmx

    wants_partial = htmx and not htmx.boosted and not htmx.history_restore_request
    response = make_response(render_template(partial_template if wants_partial else page_template, **context))
    response.headers["Vary"] = "HX-Request"
    return response


def refuse_unstorable_address() -> None:
    """Query strings and path segments (search boxes, filters, unsubscribe tokens) are read
    without a form: one the database could not even compare is a bad request, said so."""
    for name, value in [*request.args.items(multi=True), *(request.view_args or {}).items()]:
        if isinstance(value, str) and (reason := text_problem(value)):
            abort(400, f"This address is not valid: “{name}” {reason}.")


def register_web(app: Flask) -> None:
    from webapp.extensions import login_manager
    from webapp.web import (
        auth,
        campaigns,
        customers,
        dashboard,
        exports,
        imports,
        outbox,
        reports,
        segments,
        settings,
        unsubscribe,
        workflows,
    )
    from webapp.web.filters import register_filters

    for bp in (auth.bp, dashboard.bp, customers.bp, imports.bp, exports.bp, segments.bp, campaigns.bp, reports.bp,
               workflows.bp, outbox.bp, settings.bp, unsubscribe.bp):
        app.register_blueprint(bp)
        # On the app, keyed by the blueprint: the blueprints are shared by every app built.
        app.before_request_funcs.setdefault(bp.name, []).append(refuse_unstorable_address)
    register_filters(app)
    login_manager.unauthorized_handler(auth.unauthorized)
