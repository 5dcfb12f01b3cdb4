"""The dashboard."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

from webapp.services.dashboard import dashboard_figures

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def home():
    return redirect(url_for("dashboard.index"))


@bp.get("/dashboard")
@login_required
def index():
    figures = dashboard_figures(current_user.tenant_id)
    return render_template("dashboard.html", figures=figures)
