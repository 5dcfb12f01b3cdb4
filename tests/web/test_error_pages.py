"""The error page never fails in turn: after a database error mid-request the session is
rolled back, the page renders in the signed-in layout, and the API answers its JSON shape."""

from __future__ import annotations

import logging

import pytest
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
