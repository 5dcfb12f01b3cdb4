"""Campaign report: headline figures (human-only or all) against the previous five campaigns,
people's cumulative opens and clicks, mail clients and devices, links, recipients with their
engagement, attributed revenue, and the latest raw hits."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from webapp.infra.errors import Conflict, ValidationFailed
from webapp.infra.types import utcnow
from webapp.services import campaigns
from webapp.services.audit import Target
from webapp.services.campaigns import ab_winner, variant_stats
from webapp.services.campaigns import clients as campaign_clients
from webapp.services.campaigns import comparison as campaign_comparison
from webapp.services.campaigns import recipients as campaign_recipients
from webapp.services.campaigns import stats as campaign_stats
from webapp.services.hit_rules import REASONS
from webapp.services.topics import topic_names
from webapp.web.ab_forms import WinnerForm
from webapp.web.access import write_required
from webapp.web.audit import note
from webapp.web.charts import Series, line_chart
from webapp.web.pages import partial_or_page, wants_partial
from webapp.web.times import distance_words, tenant_zone

bp = Blueprint("reports", __name__, url_prefix="/campaigns")

MAX_LABELS = 7  # x-axis labels that fit the chart's width with room between them


def _ticks(points: list[campaign_comparison.Point]) -> list[int]:
    """The points whose time the axis shows: the hours every few hours, the days every day
    or few days, and the last point, never closer than the chart's width allows."""
    hourly = [i for i, p in enumerate(points) if p.hourly]
    daily = [i for i, p in enumerate(points) if not p.hourly]
    wanted = hourly[::max(1, -(-len(hourly) // 6))] + daily[::max(1, -(-len(daily) // 4))]
    gap = max(1, len(points) // MAX_LABELS)
    ticks: list[int] = []
    for i in wanted:
        if not ticks or i - ticks[-1] >= gap:
            ticks.append(i)
    last = len(points) - 1
    if ticks[-1] != last:  # the latest moment is always named, in place of a neighbour too close
        ticks[-1:] = [last] if last - ticks[-1] < gap and len(ticks) > 1 else [ticks[-1], last]
    return ticks


def engagement_chart(points: list[campaign_comparison.Point], view: str, timezone: str) -> Markup | None:
    """People who had opened and clicked by each hour of the first two days, then each day,
    on an axis in the tenant's timezone."""
    if not points:
        return None
    zone = ZoneInfo(timezone)
    labels = [p.at.astimezone(zone).strftime("%a %H:%M" if p.hourly else "%a %d %b") for p in points]
    first_daily = next((i for i, p in enumerate(points) if not p.hourly), None)
    who = "People who" if view == "human" else "Recipients who (machines included)"
    return line_chart(labels, [Series(f"{who} opened", [p.opened for p in points], "opens"),
                               Series(f"{who} clicked", [p.clicked for p in points], "clicks")],
                      title=f"{who} opened and clicked since sending started, hourly for two days, then daily",
                      ticks=_ticks(points), dots=False,
                      mark=(first_daily, "daily from here") if first_daily else None)


def _recipient_filters() -> dict[str, str | None]:
    args = request.args
    return {"status": args.get("status") if args.get("status") in campaign_recipients.STATUSES else None,
            "engagement": args.get("engagement") if args.get("engagement") in campaign_recipients.ENGAGEMENT
            else None,
            "email": (args.get("email") or "").strip()[:200] or None}


@bp.get("/<int:campaign_id>/report")
@login_required
def report(campaign_id: int):
    tenant = current_user.tenant
    campaign = campaigns.get_campaign(tenant.id, campaign_id)
    view = "all" if request.args.get("view") == "all" else "human"
    filters = _recipient_filters()
    counts = campaign_recipients.filter_counts(tenant.id, campaign.id, filters["email"])
    try:
        page = campaign_recipients.recipients_page(tenant.id, campaign.id, cursor=request.args.get("cursor"),
                                                   counts=counts, **filters)
    except ValidationFailed:
        page = campaign_recipients.recipients_page(tenant.id, campaign.id, counts=counts, **filters)
    context = {"campaign": campaign, "view": view, "recipients": page, "counts": counts, **filters,
               "filters": campaign_recipients.RECIPIENT_FILTERS,
               "engagement_labels": campaign_recipients.engagement_labels()}
    # The recipients card alone (filters, search, paging) needs none of the rest.
    if not wants_partial():
        context.update(_whole_report(tenant, campaign, view))
    return partial_or_page("campaigns/_report_recipients.html", "campaigns/report.html",
                           **context)


def _whole_report(tenant, campaign, view: str) -> dict:
    [stats] = campaign_stats.campaign_stats(tenant.id, [campaign], detail=True)
    points = campaign_comparison.cumulative_engagement(campaign, timezone=tenant.timezone or "UTC", now=utcnow(),
                                                       people_only=view == "human")
    return {"stats": stats, "chart": engagement_chart(points, view, tenant.timezone or "UTC"),
            "comparison": campaign_comparison.compare_with_previous(tenant.id, campaign, stats),
            "agents": campaign_clients.clients_and_devices(tenant.id, campaign.id, people_only=view == "human"),
            "hits": campaign_stats.recent_hits(campaign.id), "machine_reasons": REASONS,
            "ab": _ab_card(campaign, tenant), "winner_form": WinnerForm(),
            "topic_name": topic_names(tenant.id).get(campaign.topic_id) if campaign.topic_id else None}


def _ab_card(campaign, tenant) -> dict | None:
    """The A/B test card's figures, and the winner's time as people read it: "14:30" today,
    "Sat 5 Dec, 14:30" on another day, in the tenant's zone; and how far off it is."""
    ab = variant_stats.ab_report(campaign, tenant)
    if ab is None or ab["ends_at"] is None:
        return ab
    zone, now = tenant_zone(), utcnow()
    local = ab["ends_at"].astimezone(zone)
    same_day = local.date() == now.astimezone(zone).date()
    ab["ends_at_words"] = f"{local:%H:%M}" if same_day else f"{local:%a} {local.day} {local:%b}, {local:%H:%M}"
    ab["ends_in"] = distance_words(ab["ends_at"], now, zone)
    return ab


@bp.post("/<int:campaign_id>/winner")
@login_required
@write_required
def choose_winner(campaign_id: int):
    """"Send variant X to the rest" on the report, while the test runs."""
    campaign = campaigns.get_campaign(current_user.tenant_id, campaign_id)
    form = WinnerForm()
    back = redirect(url_for("reports.report", campaign_id=campaign.id))
    if not form.validate_on_submit():
        flash("Choose one of the variants.", "error")
        return back
    try:
        campaign = ab_winner.pick_winner(current_user.tenant_id, campaign.id, form.variant.data)
    except (Conflict, ValidationFailed) as exc:
        flash(f"Not sent: {exc}.", "error")
        return back
    note("campaign.winner_chosen", Target("campaign", campaign.id, campaign.name))
    flash(f"Variant {form.variant.data} is the winner: it goes to the rest of the recipients now.", "success")
    return back
