"""The public "Add to calendar" link of an event: /c/<token>.ics, reached from emails
({{ trigger.event.calendar_url }}). The token is signed (services/events/calendar.py), so
only links we sent open; the file is always the event as it is now, cancelled included."""

from __future__ import annotations

from flask import Blueprint, Response, abort

from webapp.services.events import calendar

bp = Blueprint("calendar_files", __name__, url_prefix="/c")


@bp.get("/<token>.ics")
def event_file(token: str):
    event = calendar.event_for_token(token)
    ics = calendar.event_calendar(event) if event is not None else None
    if ics is None:
        # A token we did not sign, a deleted event, or one with no date yet: nothing to add.
        abort(404, "This calendar link is not valid.")
    response = Response(ics, mimetype="text/calendar")
    response.headers["Content-Type"] = f"{calendar.CONTENT_TYPE}; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{calendar.FILENAME}"'
    # The token is in the address; changes reach whoever opens the link again.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-cache"
    return response
