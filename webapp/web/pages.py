"""How a view answers: the whole page, or only its partial for HTMX."""

from __future__ import annotations

from flask import make_response, render_template

from webapp.extensions import htmx


def wants_partial() -> bool:
    """An HTMX request for a part of the page (not a boosted link, not a history restore)."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def partial_or_page(partial_template: str, page_template: str, **context):
    """One view serves the full page, or only the partial for HTMX requests.

    A history restore (Back after the page left htmx's cache) needs the whole page."""
    response = make_response(render_template(partial_template if wants_partial() else page_template, **context))
    response.headers["Vary"] = "HX-Request"
    return response
