"""The public side of waitlists: the page where a fan joins an event's waitlist by email
(/w/<public token>) and the single-use offer link (/w/offer/<token>).

CSRF: as on signup forms (hosted_forms.py), these pages work without a session or an account,
so a session-cookie token cannot protect them. The join form carries a signed fill token from
the page's GET instead (which waitlist, when shown); the offer page's POST is authorised by
the secret in its link, which only the offer email holds.

Why the offer link shows a button rather than claiming on GET: mail scanners and link
previews open every link in a message, and an offer claimed by a scanner would be spent
before the fan saw it.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, make_response, redirect, render_template, request

from webapp.extensions import csrf, db
from webapp.infra.errors import Conflict
from webapp.infra.types import utcnow
from webapp.models import Event, EventWaitlist, Tenant
from webapp.services.events import waitlist, waitlist_page
from webapp.services.events.catalogue import event_payload
from webapp.services.preferences import mask_email
from webapp.services.signup_forms import FillProblem, LikelyBot
from webapp.web.hosted_forms import HONEYPOT, NOT_FRAMEABLE, _brand

bp = Blueprint("waitlist_pages", __name__, url_prefix="/w")


def _page(template: str, status: int = 200, **context) -> Response:
    response = make_response(render_template(template, **context), status)
    response.headers["Content-Security-Policy"] = NOT_FRAMEABLE
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _waitlist_or_404(public_id: str) -> tuple[EventWaitlist, Event, Tenant]:
    found = waitlist.waitlist_by_token(public_id)
    if found is None:
        abort(_page("waitlist/missing.html", 404, tenant=None, brand={}))
    settings, event = found
    tenant = db.session.get(Tenant, event.tenant_id)
    return settings, event, tenant


def _show(settings: EventWaitlist, event: Event, tenant: Tenant, *, values=None, errors=None, problem=None,
          status: int = 200) -> Response:
    return _page("waitlist/join.html", status, settings=settings, event=event, about=event_payload(event, tenant),
                 tenant=tenant, brand=_brand(tenant), values=values or {}, errors=errors or {}, problem=problem,
                 closed=waitlist.joining_closed(event, utcnow()), token=waitlist_page.fill_token(settings),
                 honeypot=HONEYPOT, most=waitlist.MAX_QUANTITY)


# The rate limit (webapp/ratelimit.py) keys on the typed address per `public_id`, as signup forms.
@bp.get("/<public_id>")
def show(public_id: str):
    return _show(*_waitlist_or_404(public_id))


@bp.post("/<public_id>")
@csrf.exempt  # the signed fill token stands in for it: see the module's docstring
def join(public_id: str):
    settings, event, tenant = _waitlist_or_404(public_id)
    values = request.form
    answers, errors = waitlist_page.read_answers(values)
    try:
        waitlist_page.check_fill(settings, values.get("form_token"), values.get(HONEYPOT))
    except LikelyBot:
        # Answered like a success so the script learns nothing; nothing is stored.
        return _page("waitlist/joined.html", event=event, about=event_payload(event, tenant), tenant=tenant,
                     brand=_brand(tenant), email=mask_email(answers.email if answers else "someone@example.com"),
                     position=None)
    except FillProblem as exc:
        return _show(settings, event, tenant, values=values, problem=str(exc), status=422)
    if answers is None:
        return _show(settings, event, tenant, values=values, errors=errors, status=422)
    try:
        entry, position = waitlist_page.join_from_page(settings, event, answers)
    except Conflict:
        return _show(settings, event, tenant, values=values, status=409)
    return _page("waitlist/joined.html", event=event, about=event_payload(event, tenant), tenant=tenant,
                 brand=_brand(tenant), email=mask_email(answers.email), position=position,
                 offered=entry.status == "offered")


def _offer_page(offer: waitlist.Offer, token: str, status: int | None = None) -> Response:
    tenant = db.session.get(Tenant, offer.event.tenant_id) if offer.event is not None else None
    codes = {"invalid": 404, "expired": 410, "left": 410, "claimed": 409}
    return _page("waitlist/offer.html", status or codes.get(offer.state, 200), offer=offer, token=token,
                 tenant=tenant, brand=_brand(tenant) if tenant is not None else {},
                 about=event_payload(offer.event, tenant) if offer.event is not None else None)


@bp.get("/offer/<token>")
def offer(token: str):
    """A GET never claims (mail scanners open links): it shows the offer and its button."""
    return _offer_page(waitlist.find_offer(token), token)


@bp.post("/offer/<token>")
@csrf.exempt  # the link's secret is the authority; there is no session to ride on
def claim(token: str):
    claimed = waitlist.claim_offer(token)
    if claimed.state != "done":
        return _offer_page(claimed, token)
    target = waitlist.platform_url(claimed.event, token)
    if target is None:
        return _offer_page(claimed, token, status=200)
    # The event's page as stored (an http(s) address the platform gave), never the request's.
    return redirect(target, 303)


@bp.errorhandler(429)
def too_many(exc) -> Response:
    response = _page("waitlist/too_many.html", 429, tenant=None, brand={})
    retry = getattr(exc, "retry_after", None) or (exc.get_response().headers.get("Retry-After")
                                                  if hasattr(exc, "get_response") else None)
    if retry:
        response.headers["Retry-After"] = str(retry)
    return response
