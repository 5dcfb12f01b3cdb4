"""Log in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_url, login_user, logout_user

from webapp.extensions import htmx, login_manager
from webapp.services.tenants import authenticate, end_session, start_session
from webapp.web.audit import note
from webapp.web.forms import LoginForm

bp = Blueprint("auth", __name__)

LOGIN_FAILED = "Wrong email or password."


def safe_next(target: str | None) -> str:
    """Only same-site relative paths: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("dashboard.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            start_session(user, request.remote_addr)
            login_user(user)
            note("signed_in")
            return redirect(safe_next(request.args.get("next")))
        error = LOGIN_FAILED
    elif request.method == "POST":
        error = LOGIN_FAILED if not form.errors.get("csrf_token") else None
    status = 401 if error else 200
    return render_template("auth/login.html", form=form, error=error), status


@bp.post("/logout")
@login_required
def logout():
    # Ended on the server too: a copy of this browser's cookie no longer signs anyone in.
    note("signed_out")
    end_session(current_user._get_current_object())
    logout_user()
    flash("You have been logged out.", "info")
    return redirect(url_for("auth.login"))


def unauthorized():
    """No session (never logged in, logged out elsewhere, password changed): the login page,
    coming back here afterwards. An htmx request is told to load it as a whole page, since
    swapping a login form into a fragment of the old page would make no sense."""
    if htmx:
        response = make_response("", 401)
        response.headers["HX-Redirect"] = login_url("auth.login", next_url=htmx.current_url)
        return response
    flash(login_manager.login_message, "info")
    return redirect(login_url("auth.login", next_url=request.url if request.method == "GET" else None))
