"""Public open and click tracking endpoints (no token: ids are signed, see mail/tracking.py)."""

from __future__ import annotations

from flask import Response, request

from webapp.api.blueprint import bp
from webapp.api.errors import ApiError
from webapp.api.registry import api_route
from webapp.services import tracking

NO_CACHE = {"Cache-Control": "no-store, no-cache, must-revalidate, max-age=0, private", "Pragma": "no-cache",
            "Expires": "0", "Referrer-Policy": "no-referrer"}


class RateLimited(ApiError):
    def __init__(self, seconds: int) -> None:
        super().__init__(429, "rate_limited", f"too many requests from this address; try again in {seconds} s")
        self.retry_after = seconds


def _refuse_if_over_the_limit() -> None:
    # RATELIMIT_PUBLIC per address, counted by the hit spool (webapp/ratelimit.py leaves
    # these two endpoints to it: Flask-Limiter's check cost 4x the rest of the request).
    seconds = tracking.retry_after(request.remote_addr)
    if seconds:
        raise RateLimited(seconds)


def _request_facts() -> dict:
    return {"method": request.method, "ip": request.remote_addr, "user_agent": request.headers.get("User-Agent"),
            "referer": request.headers.get("Referer")}


@api_route(bp, "/track/open/<open_id>", "GET", summary="Open pixel (1x1 GIF)", tag="tracking", public=True,
           media_type="image/gif",
           description="Always the same 1x1 GIF with no-cache headers, whether or not the id is known. "
                       "Genuine ids are queued and written in batches.")
def track_open(open_id: str):
    _refuse_if_over_the_limit()
    tracking.record_open(open_id, **_request_facts())
    return Response(tracking.PIXEL, mimetype="image/gif", headers=NO_CACHE)


@api_route(bp, "/track/click/<click_id>", "GET", summary="Tracked link: redirect to the stored target",
           tag="tracking", public=True, status=302, errors=(404,),
           description="302 to the target stored for this campaign link; the target never comes from the "
                       "request. Unknown, forged or altered ids are a 404 without Location.")
def track_click(click_id: str):
    _refuse_if_over_the_limit()
    target = tracking.record_click(click_id, **_request_facts())
    if target is None:
        raise ApiError(404, "not_found", "this link is not valid")
    return Response(status=302, headers={"Location": target, **NO_CACHE})


class OpenPixelFastPath:
    """WSGI middleware: GET and HEAD of the open pixel answered before Flask's request
    machinery (routing, request and response objects, every extension's hooks), which cost
    more CPU than everything the pixel itself does. Same work as `track_open`: the limit,
    the signature, the spool, the same GIF and headers. Whatever it does not answer (another
    method, a malformed path, an address over its limit: the 429 is built by the view)
    goes on to Flask and `track_open`."""

    PREFIX = "/api/crm/track/open/"

    def __init__(self, app, wsgi_app) -> None:
        self.app, self.wsgi_app = app, wsgi_app
        self.headers = [("Content-Type", "image/gif"), ("Content-Length", str(len(tracking.PIXEL))),
                        *NO_CACHE.items()]

    def __call__(self, environ, start_response):
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD")
        open_id = path[len(self.PREFIX):]
        if (method not in ("GET", "HEAD") or not path.startswith(self.PREFIX) or not open_id
                or "/" in open_id):
            return self.wsgi_app(environ, start_response)
        address = environ.get("REMOTE_ADDR")
        with self.app.app_context():
            if tracking.retry_after(address):
                return self.wsgi_app(environ, start_response)
            tracking.record_open(open_id, method=method, ip=address, user_agent=environ.get("HTTP_USER_AGENT"),
                                 referer=environ.get("HTTP_REFERER"))
        start_response("200 OK", list(self.headers))
        return [b""] if method == "HEAD" else [tracking.PIXEL]
