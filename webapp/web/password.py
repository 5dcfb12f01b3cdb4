"""Forgotten passwords: ask for a link by email, then choose a new password with it."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user

from webapp.infra.errors import ValidationFailed
from webapp.services import password_reset, tenants
from webapp.services.audit import Actor
from webapp.services.audit import record as record_event
from webapp.services.team import LinkUnusable
from webapp.web.forms import apply_domain_error
from webapp.web.team_forms import ForgotPasswordForm, ResetPasswordForm

bp = Blueprint("password", __name__, url_prefix="/password")

# The one answer, whether or not the address has a login: nobody learns who has an account.
SENT = ("If {email} has a login, a link to choose a new password is on its way. It works for "
        "{minutes} minutes. Nothing arrived? Check the spam folder, or the address.")


@bp.route("/forgot", methods=["GET", "POST"])
def forgot():
    form = ForgotPasswordForm()
    sent_to = None
    if form.validate_on_submit():
        email = form.email.data.strip()
        password_reset.request_reset(email, request.remote_addr)
        sent_to = email
    status = 422 if form.errors else 200
    message = SENT.format(email=sent_to, minutes=password_reset.RESET_MINUTES) if sent_to else None
    return render_template("auth/forgot.html", form=form, message=message), status


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    try:
        found = password_reset.reset_for_link(token)
    except LinkUnusable as exc:
        return render_template("team/link_unusable.html", title="Password reset", message=str(exc),
                               retry=url_for("password.forgot")), 410
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            user = password_reset.reset_password(token, form.new_password.data)
        except LinkUnusable as exc:
            return render_template("team/link_unusable.html", title="Password reset", message=str(exc),
                                   retry=url_for("password.forgot")), 410
        except ValidationFailed as exc:
            apply_domain_error(form, exc.field, exc.reason)
        else:
            if current_user.is_authenticated:
                tenants.end_session(current_user._get_current_object())
            tenants.start_session(user, request.remote_addr)
            login_user(user)
            record_event(user.tenant_id, Actor.of_user(user, request.remote_addr), "password.reset")
            flash("Password changed. Every other session of yours has been logged out.", "success")
            return redirect(url_for("dashboard.index"))
    status = 422 if form.errors else 200
    return render_template("auth/reset.html", form=form, email=found.user.email), status
