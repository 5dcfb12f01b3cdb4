"""HTML blueprints for marketers."""

from __future__ import annotations

from flask import Flask, abort, request

from webapp.extensions import login_manager
from webapp.infra.validation import text_problem
from webapp.web import (
    ab_tests,
    assets,
    audit,
    auth,
    calendar_files,
    campaigns,
    customers,
    dashboard,
    deliverability,
    events,
    exports,
    hosted_forms,
    imports,
    outbox,
    password,
    reports,
    segments,
    settings,
    signup_forms,
    step_email,
    team,
    templates,
    topics,
    unsubscribe,
    waitlist_pages,
    webhooks,
    workflow_goals,
    workflows,
)
from webapp.web.error_pages import error_page_text
from webapp.web.filters import register_filters


def refuse_unstorable_address() -> None:
    """Query strings and path segments (search boxes, filters, unsubscribe tokens) are read
    without a form: one the database could not even compare is a bad request, said so."""
    for name, value in [*request.args.items(multi=True), *(request.view_args or {}).items()]:
        if isinstance(value, str) and (reason := text_problem(value)):
            abort(400, f"This address is not valid: “{name}” {reason}.")


def register_web(app: Flask) -> None:
    for bp in (auth.bp, dashboard.bp, customers.bp, imports.bp, exports.bp, segments.bp, campaigns.bp, reports.bp,
               workflows.bp, step_email.bp, outbox.bp, assets.bp, settings.bp, templates.bp, unsubscribe.bp,
               team.bp, password.bp, audit.bp, topics.bp, deliverability.bp, hosted_forms.bp, signup_forms.bp,
               events.bp, calendar_files.bp, waitlist_pages.bp, workflow_goals.bp, webhooks.bp, ab_tests.bp):
        app.register_blueprint(bp)
        # On the app, keyed by the blueprint: the blueprints are shared by every app built.
        app.before_request_funcs.setdefault(bp.name, []).append(refuse_unstorable_address)
    register_filters(app)
    app.jinja_env.globals["error_page_text"] = error_page_text
    login_manager.unauthorized_handler(auth.unauthorized)
