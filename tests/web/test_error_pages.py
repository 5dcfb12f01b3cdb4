"""Error pages are the app's own: for 400, 403, 404, 405, 410, 413, 429 and 500 a person gets
the app's layout, a title and a sentence in plain words (the code's own message when it has a
more precise one), and a way back: the dashboard when signed in, the log-in page otherwise.
The API keeps its JSON errors. The page never fails in turn: after a database error
mid-request the session is rolled back and the page renders in the signed-in layout."""

from __future__ import annotations

import logging
import re
from html import unescape

import pytest
from flask import abort
from flask_login import login_required
from sqlalchemy import select

from webapp import create_app
from webapp.extensions import csrf, db
from webapp.models import User

from .conftest import HX, log_in
from .pages import csrf_from


@pytest.fixture
def failing_app(app):
    """The suite's app settings plus routes that break the database mid-request. Exceptions are
    handled as in production (not re-raised to the test), so what a browser gets is what is tested."""
    config = {key: app.config[key] for key in ("SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "REDIS_URL", "BASE_URL",
                                               "PASSWORD_HASH_METHOD", "TRACKING_SPOOL_DIR")}
    broken = create_app({**config, "TESTING": True, "SERVER_NAME": None, "PROPAGATE_EXCEPTIONS": False})

    def duplicate_user():
        # A user signed in on the page has been loaded (login_required), then a flush fails:
        # the session now refuses every statement, even the lazy loads the page layout makes.
        existing = db.session.scalars(select(User).order_by(User.id)).first()
        db.session.add(User(tenant_id=existing.tenant_id, email=existing.email, password_hash="x"))
        db.session.flush()
        return "unreachable"

    broken.add_url_rule("/test-only/duplicate-user", "duplicate_user", login_required(duplicate_user),
                        methods=["POST"])
    @csrf.exempt  # under /api/ as the API is: bearer tokens, no cookie session, no CSRF
    def api_duplicate_user():
        return duplicate_user()

    broken.add_url_rule("/api/test-only/duplicate-user", "api_duplicate_user", api_duplicate_user,
                        methods=["POST"])
    # Statuses no route of ours gives today, as an extension or a future view might.
    broken.add_url_rule("/test-only/gone", "gone", lambda: abort(410))
    broken.add_url_rule("/test-only/busy", "busy", lambda: abort(429))
    yield broken
    with broken.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def signed_in(failing_app, tenant_a, password):
    client = failing_app.test_client()
    assert log_in(client, tenant_a.owner_email, password).status_code == 302
    return client


def post_with_token(client, path, **kwargs):
    token = csrf_from(client.get("/dashboard").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token}, **kwargs)


def test_a_failed_flush_gets_the_error_page_in_the_signed_in_layout(signed_in, tenant_a, caplog):
    with caplog.at_level(logging.ERROR):
        response = post_with_token(signed_in, "/test-only/duplicate-user")

    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Something went wrong on our side" in html
    assert tenant_a.owner_email in html and "Log out" in html  # the layout read the user after the failure
    assert "Arena Alpha" in html
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "unhandled error" in errors[0].getMessage()  # logged once, no second failure
    assert errors[0].exc_info and "IntegrityError" in type(errors[0].exc_info[1]).__name__
    # The next request on the same session works as before.
    assert signed_in.get("/dashboard").status_code == 200


def test_a_failed_flush_in_an_htmx_request_lands_in_the_flash_area(signed_in):
    response = post_with_token(signed_in, "/test-only/duplicate-user", headers=HX)

    assert response.status_code == 500
    assert response.headers["HX-Retarget"] == "#flashes"
    assert "Something went wrong on our side" in response.get_data(as_text=True)


def test_a_failed_flush_under_the_api_answers_the_json_error_shape(failing_app, tenant_a):
    response = failing_app.test_client().post("/api/test-only/duplicate-user")

    assert response.status_code == 500
    body = response.get_json()
    assert body["error"]["code"] == "internal_error"
    assert "went wrong" in body["error"]["message"]


# --- every status a person can meet ------------------------------------------------------------

def error_page(response) -> dict[str, str]:
    """The parts of the error page: its title, heading, sentence and the way back."""
    html = response.get_data(as_text=True)
    card = re.search(r'<section class="card narrow error-page".*?</section>', html, re.S)
    assert card, f"not the app's error page: {html[:300]}"
    back = re.search(r'<a class="button primary" href="([^"]+)">([^<]+)</a>', card.group(0))
    found = {
        "title": re.search(r"<title>(.*?) · Ticketing CRM</title>", html).group(1),
        "status": re.search(r'<p class="error-status">(.*?)</p>', card.group(0)).group(1),
        "heading": re.search(r'<h1 id="error-title">(.*?)</h1>', card.group(0)).group(1),
        "text": re.search(r"</h1>\s*<p>(.*?)</p>", card.group(0), re.S).group(1),
        "back": f"{back.group(2)} -> {back.group(1)}",
        "layout": "signed in" if "Log out" in html else "public",
    }
    return {name: unescape(value) for name, value in found.items()}


def test_a_missing_page_signed_out_leads_to_the_log_in_page(client):
    response = client.get("/no-such-page")

    assert response.status_code == 404
    assert error_page(response) == {
        "title": "Page not found", "status": "Error 404", "heading": "Page not found",
        "text": "The page may have been moved or deleted, or the address has a typo.",
        "back": "Go to the log-in page -> /login", "layout": "public"}


def test_a_missing_page_signed_in_leads_back_to_the_dashboard(owner_a):
    page = error_page(owner_a.get("/no-such-page"))

    assert page["back"] == "Back to the dashboard -> /dashboard" and page["layout"] == "signed in"
    assert page["heading"] == "Page not found"


def test_a_missing_record_says_what_is_missing(owner_a):
    response = owner_a.get("/customers/999999")

    assert response.status_code == 404
    page = error_page(response)
    assert page["heading"] == "Page not found" and "Werkzeug" not in page["text"]
    assert "requested URL" not in page["text"]  # never Werkzeug's own wording


def test_a_role_refusal_is_a_403_page_that_names_the_role(viewer_a):
    response = viewer_a.get("/campaigns/new")

    assert response.status_code == 403
    page = error_page(response)
    assert page["heading"] == "You can't open this" and page["title"] == "You can't open this"
    assert "viewer" in page["text"]
    assert page["back"] == "Back to the dashboard -> /dashboard"


def test_a_wrong_method_is_a_405_page_that_keeps_its_allow_header(owner_a):
    response = owner_a.client.delete("/customers/")

    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert response.mimetype == "text/html"
    assert error_page(response)["heading"] == "That action is not available here"


def test_a_body_over_the_limit_is_a_413_page(client, app):
    response = client.post("/login", data={"email": "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)})

    assert response.status_code == 413
    page = error_page(response)
    assert page["heading"] == "That was too large" and "size limit" in page["text"]


def test_too_many_sign_in_attempts_is_a_429_page_with_the_limits_advice(client, tenant_a, app):
    budget = int(app.config["RATELIMIT_LOGIN_ACCOUNT"].split()[0])
    codes = [log_in(client, tenant_a.owner_email, "not-the-password").status_code for _ in range(budget + 1)]

    assert codes[-1] == 429
    response = log_in(client, tenant_a.owner_email, "not-the-password")
    page = error_page(response)
    assert page["heading"] == "Too many requests"
    assert page["text"] == "Too many failed sign-in attempts. Wait a few minutes and try again."
    assert "Retry-After" in response.headers


@pytest.mark.parametrize(("path", "status", "heading", "words"), [
    ("/test-only/gone", 410, "This is gone", "will not come back"),
    ("/test-only/busy", 429, "Too many requests", "Wait a minute"),
])
def test_other_statuses_get_the_apps_words(failing_app, path, status, heading, words):
    response = failing_app.test_client().get(path)

    assert response.status_code == status
    page = error_page(response)
    assert page["heading"] == heading and words in page["text"]
    assert page["back"] == "Go to the log-in page -> /login"


def test_the_500_page_leads_back_to_the_dashboard(signed_in):
    page = error_page(post_with_token(signed_in, "/test-only/duplicate-user"))

    assert page["heading"] == "Something went wrong" and page["status"] == "Error 500"
    assert page["back"] == "Back to the dashboard -> /dashboard"


def test_an_htmx_request_for_a_missing_page_gets_the_sentence_in_the_flash_area(owner_a):
    response = owner_a.get("/no-such-page", headers=HX)

    assert response.status_code == 404
    assert response.headers["HX-Retarget"] == "#flashes"
    assert "The page may have been moved or deleted" in response.get_data(as_text=True)


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/api/crm/no-such-thing", 404), ("DELETE", "/api/crm/activities", 405)])
def test_the_api_keeps_answering_json_errors(client, method, path, status):
    response = client.open(path, method=method)

    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert set(response.get_json()["error"]) >= {"code", "message"}
