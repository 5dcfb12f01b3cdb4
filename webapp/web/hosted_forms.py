"""The public side of signup forms: the hosted page /f/<public_id> (shown on its own or in an
iframe on the organisation's website) and the confirmation link /f/confirm/<token>.

Why the website gets an iframe of this page rather than a bare <form> posting here: the
page's GET hands out the signed fill token (which form, when it was shown) that keeps bots
out and stands in for CSRF, answers are checked with the message beside the field, the
organisation's changes to the form reach every website at once, and none of it needs a
cookie or a script of ours on their site.

CSRF: a session-cookie token cannot work here, since in an iframe on another site the
browser does not send our cookie (SameSite) and the page must work for people who never
visited us. The POST carries the signed fill token from the GET instead, bound to the form
and to the time it was shown. There is no ambient authority to abuse either: a submission
only asks for a confirmation email, and the confirmation link's secret is what confirms.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, make_response, render_template, request
from werkzeug.datastructures import MultiDict

from webapp.extensions import csrf, db
from webapp.mail.design import brand_of
from webapp.models import SignupForm, Tenant
from webapp.services import signup_forms

bp = Blueprint("hosted_forms", __name__, url_prefix="/f")

# No script runs on these pages; styles are ours plus the brand colour inline.
_POLICY = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self'; form-action 'self'; base-uri 'none'"
# The form may be framed by any website (that is what the snippet does); the confirmation
# pages by none (a framed Confirm button could be clicked through a disguise).
FRAMEABLE = f"{_POLICY}; frame-ancestors *"
NOT_FRAMEABLE = f"{_POLICY}; frame-ancestors 'none'"
HONEYPOT = "website"


def _brand(tenant: Tenant) -> dict[str, str]:
    brand = brand_of(tenant.brand)
    colour, ink = str(brand.get("primary_color")), str(brand.get("button_text_color"))
    if not signup_forms.HEX_COLOUR.match(colour) or not signup_forms.HEX_COLOUR.match(ink):
        return {}
    return {"colour": colour, "ink": ink}


def _page(template: str, status: int = 200, *, frameable: bool = False, **context) -> Response:
    response = make_response(render_template(template, **context), status)
    response.headers["Content-Security-Policy"] = FRAMEABLE if frameable else NOT_FRAMEABLE
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"  # each GET carries a fresh fill token
    return response


def _form_or_404(public_id: str) -> SignupForm:
    form = signup_forms.active_form(public_id)
    if form is None:
        abort(_page("hosted_forms/missing.html", 404, frameable=True))
    return form


def _show(form: SignupForm, values: MultiDict | None = None, errors: dict[str, str] | None = None,
          problem: str | None = None, status: int = 200) -> Response:
    tenant = db.session.get(Tenant, form.tenant_id)
    offered = signup_forms.offered_topics(form)
    if values is None:  # first view: the topics ticked by default
        ticked = {str(topic.id) for topic, checked in offered if checked}
    else:
        ticked = set(values.getlist("topic"))
    return _page("hosted_forms/form.html", status, frameable=True, form=form, tenant=tenant, brand=_brand(tenant),
                 offered=offered, ticked=ticked, values=values or MultiDict(), errors=errors or {}, problem=problem,
                 token=signup_forms.fill_token(form), honeypot=HONEYPOT,
                 input_name=signup_forms.custom_input_name)


@bp.get("/<public_id>")
def show(public_id: str):
    return _show(_form_or_404(public_id))


@bp.post("/<public_id>")
@csrf.exempt  # the signed fill token stands in for it: see the module's docstring
def submit(public_id: str):
    form = _form_or_404(public_id)
    tenant = db.session.get(Tenant, form.tenant_id)
    values = request.form
    try:
        signup_forms.check_fill(form, values.get("form_token"), values.get(HONEYPOT))
    except signup_forms.LikelyBot:
        # Answered like a success, so the script learns nothing to adapt to; nothing is stored.
        return _page("hosted_forms/check_inbox.html", frameable=True, form=form, tenant=tenant, brand=_brand(tenant))
    except signup_forms.FillProblem as exc:
        return _show(form, values, problem=str(exc), status=422)
    answers, errors = signup_forms.read_answers(form, values)
    if answers is None:
        return _show(form, values, errors=errors, status=422)
    signup = signup_forms.submit(form, answers, ip_address=request.remote_addr,
                                 user_agent=request.headers.get("User-Agent"))
    if signup.status == "subscribed":
        return _page("hosted_forms/subscribed.html", frameable=True, form=form, tenant=tenant, brand=_brand(tenant))
    return _page("hosted_forms/check_inbox.html", frameable=True, form=form, tenant=tenant, brand=_brand(tenant))


@bp.errorhandler(429)
def too_many(exc) -> Response:
    """A rate limit, said on a page of the form's own look (it may be inside a website's frame)."""
    response = _page("hosted_forms/too_many.html", 429, frameable=True, tenant=None, brand={})
    retry = getattr(exc, "retry_after", None) or (exc.get_response().headers.get("Retry-After")
                                                  if hasattr(exc, "get_response") else None)
    if retry:
        response.headers["Retry-After"] = str(retry)
    return response


def _link_page(state: str, pending, token: str) -> Response:
    form = db.session.get(SignupForm, pending.form_id) if pending is not None else None
    tenant = db.session.get(Tenant, pending.tenant_id) if pending is not None else None
    status = {"invalid": 404, "expired": 410}.get(state, 200)
    return _page("hosted_forms/confirm.html", status, state=state, form=form, tenant=tenant, token=token,
                 brand=_brand(tenant) if tenant is not None else {}, email=pending.email if pending else None,
                 form_live=form is not None and form.status == "active",
                 days=signup_forms.PENDING_DAYS)


@bp.get("/confirm/<token>")
def confirm_page(token: str):
    """A GET never confirms: link scanners and previews open every link in a message."""
    pending = signup_forms.pending_for_link(token)
    return _link_page(signup_forms.link_state(pending), pending, token)


@bp.post("/confirm/<token>")
@csrf.exempt  # the link's secret is the authority; there is no session to ride on
def confirm(token: str):
    state, pending = signup_forms.confirm(token, ip_address=request.remote_addr,
                                          user_agent=request.headers.get("User-Agent"))
    return _link_page(state, pending, token)
