"""The dashboard."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

from webapp.infra.types import utcnow
from webapp.services import activity_text
from webapp.services.campaigns import stats as campaign_stats
from webapp.services.dashboard import dashboard_figures
from webapp.web.charts import Series, line_chart

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def home():
    return redirect(url_for("dashboard.index"))


@bp.get("/dashboard")
@login_required
def index():
    tenant_id = current_user.tenant_id
    figures = dashboard_figures(tenant_id)
    days = campaign_stats.tenant_daily_engagement(tenant_id, utcnow() - timedelta(days=29))
    chart = None
    if any(d["opens"] or d["clicks"] for d in days):
        labels = [d["day"].strftime("%d %b") for d in days]
        chart = line_chart(labels, [Series("Opens (people)", [d["human_opens"] for d in days], "opens"),
                                    Series("Clicks (people)", [d["human_clicks"] for d in days], "clicks")],
                           title="Email opens and clicks per day, last 30 days")
    return render_template("dashboard.html", figures=figures, chart=chart,
                           campaigns=campaign_stats.latest_sent_campaigns(tenant_id),
                           activity_text=activity_text.for_activities(tenant_id, [a for a, _ in figures.recent]))
