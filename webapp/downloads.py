"""Streamed CSV downloads: the HTTP side of the exports.

The domain (webapp.services.exports, an import's rejected rows) yields CSV text; a view of
either surface wraps it here. The module sits beside web/ and api/, which may not import
each other; the domain below them never imports it.
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import Response, stream_with_context


def csv_response(filename: str, pieces: Iterator[str]) -> Response:
    """A streamed CSV download for either blueprint: the generator runs while the response
    is sent, inside the request's context (it reads the database batch by batch)."""
    response = Response(stream_with_context(pieces), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
