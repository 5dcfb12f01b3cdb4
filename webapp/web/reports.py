"""Campaign report: headline figures (human-only or all), opens and clicks over time, links,
recipients with their engagement, attributed revenue, and the latest raw hits."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, request
from flask_login import current_user, login_required

from webapp.services import campaigns
from webapp.services.campaigns import stats as campaign_stats
from webapp.services.hit_rules import REASONS
from webapp.web.charts import Series, line_chart
from webapp.web.pages import partial_or_page

bp = Blueprint("reports", __name__, url_prefix="/campaigns")

MAX_HOURS = 72  # beyond three days the chart shows days


def engagement_chart(hours: list[dict], view: str, *, start: datetime | None) -> object | None:
    """Opens and clicks per hour since sending (per day once the series is long)."""
    if not hours:
        return None
    first = hours[0]["hour"]
    if start is not None:
        first = min(first, start.replace(minute=0, second=0, microsecond=0))
    last = hours[-1]["hour"]
    span_hours = int((last - first).total_seconds() // 3600) + 1
    by_day = span_hours > MAX_HOURS
    step = timedelta(days=1) if by_day else timedelta(hours=1)
    if by_day:
        first = first.replace(hour=0)
    buckets: dict[datetime, list[int]] = {}
    for row in hours:
        key = row["hour"].replace(hour=0) if by_day else row["hour"]
        bucket = buckets.setdefault(key, [0, 0])
        bucket[0] += row["opens"][view]
        bucket[1] += row["clicks"][view]
    keys, at = [], first
    while at <= last:
        keys.append(at)
        at += step
    labels = [k.strftime("%d %b" if by_day else "%d %b %H:00") for k in keys]
    who = "people" if view == "human" else "all hits"
    return line_chart(labels, [Series(f"Opens ({who})", [buckets.get(k, [0, 0])[0] for k in keys], "opens"),
                               Series(f"Clicks ({who})", [buckets.get(k, [0, 0])[1] for k in keys], "clicks")],
                      title=f"Opens and clicks per {'day' if by_day else 'hour'} since sending")


@bp.get("/<int:campaign_id>/report")
@login_required
def report(campaign_id: int):
    tenant_id = current_user.tenant_id
    campaign = campaigns.get_campaign(tenant_id, campaign_id)
    view = "all" if request.args.get("view") == "all" else "human"
    status = request.args.get("status") if request.args.get("status") in campaign_stats.RECIPIENT_FILTERS[
        "status"] else None
    engagement = request.args.get("engagement") if request.args.get("engagement") in campaign_stats.RECIPIENT_FILTERS[
        "engagement"] else None
    page = campaign_stats.recipients_page(tenant_id, campaign.id, status=status, engagement=engagement,
                                          cursor=request.args.get("cursor"))
    [stats] = campaign_stats.campaign_stats(tenant_id, [campaign], detail=True)
    return partial_or_page(
        "campaigns/_report_recipients.html", "campaigns/report.html", campaign=campaign, stats=stats, view=view,
        chart=engagement_chart(stats["hourly"], view, start=campaign.started_at), recipients=page,
        status=status, engagement=engagement, hits=campaign_stats.recent_hits(campaign.id),
        filters=campaign_stats.RECIPIENT_FILTERS, machine_reasons=REASONS)
