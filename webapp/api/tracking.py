"""Public open and click tracking endpoints (no token: ids are signed, see mail/tracking.py)."""

from __future__ import annotations

from flask import Response, request

from webapp.api import bp
from webapp.api.errors import ApiError
from webapp.api.registry import api_route
from webapp.services import tracking

NO_CACHE = {"Cache-Control": "no-store, no-cache, must-revalidate, max-age=0, private", "Pragma": "no-cache",
            "Expires": "0", "Referrer-Policy": "no-referrer"}


def _request_facts() -> dict:
    return {"method": request.method, "ip": request.remote_addr, "user_agent": request.headers.get("User-Agent"),
            "referer": request.headers.get("Referer")}


@api_route(bp, "/track/open/<open_id>", "GET", summary="Open pixel (1x1 GIF)", tag="tracking", public=True,
           media_type="image/gif",
           description="Always the same 1x1 GIF with no-cache headers, whether or not the id is known. "
                       "Genuine ids are queued and written in batches.")
def track_open(open_id: str):
    tracking.record_open(open_id, **_request_facts())
    return Response(tracking.PIXEL, mimetype="image/gif", headers=NO_CACHE)


@api_route(bp, "/track/click/<click_id>", "GET", summary="Tracked link: redirect to the stored target",
           tag="tracking", public=True, status=302, errors=(404,),
           description="302 to the target stored for this campaign link; the target never comes from the "
                       "request. Unknown, forged or altered ids are a 404 without Location.")
def track_click(click_id: str):
    target = tracking.record_click(click_id, **_request_facts())
    if target is None:
        raise ApiError(404, "not_found", "this link is not valid")
    return Response(status=302, headers={"Location": target, **NO_CACHE})
