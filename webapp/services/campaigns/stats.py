"""Campaign statistics from counters and rollups, and purchase attribution.

Nothing here scans raw hits or recipients per request: delivery counters live on
email_campaigns, engagement in campaign_engagement_hours (one row per campaign and hour),
link counters on campaign_links, attributions in campaign_attributions.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, case, cast, func, select

from webapp.extensions import db
from webapp.models import (
    CampaignAttribution,
    CampaignEngagementHour,
    CampaignLink,
    CustomerActivity,
    EmailCampaign,
    Tenant,
    TrackingHit,
)
from webapp.services import webhooks
from webapp.services.campaigns.drafts import tenant_campaigns
from webapp.services.campaigns.variant_stats import ab_results
from webapp.services.webhooks import customer_refs

COUNTERS = ("opens", "human_opens", "unique_opens", "human_unique_opens",
            "clicks", "human_clicks", "unique_clicks", "human_unique_clicks")


# What the stats API gives of each variant (the report reads the rest of ab_results).
VARIANT_KEYS = ("variant", "sent", "unique_opens", "unique_clicks", "revenue", "probability_best")


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def bounce_campaign_id():
    """The campaign an email_bounced activity names (properties.campaign_id), as SQL."""
    props = CustomerActivity.properties
    if db.session.get_bind().dialect.name == "postgresql":
        return cast(props.op("->>")("campaign_id"), Integer)
    return cast(func.json_extract(props, "$.campaign_id"), Integer)


def _bounced(tenant_id: int, campaign_ids: list[int], activity: str = "email_bounced") -> dict[int, int]:
    """Per campaign, how many `activity` rows (bounces; complaints) name it."""
    key = bounce_campaign_id()
    rows = db.session.execute(
        select(key, func.count()).where(CustomerActivity.tenant_id == tenant_id,
                                        CustomerActivity.type == activity, key.in_(campaign_ids))
        .group_by(key)).all()
    return {int(k): n for k, n in rows}


def campaign_stats(tenant_id: int, campaigns: list[EmailCampaign], *, detail: bool = False) -> list[dict[str, Any]]:
    """Every figure of each campaign; with `detail`, clicks per link and per-hour series too."""
    ids = [c.id for c in campaigns]
    if not ids:
        return []
    sums = {row[0]: row[1:] for row in db.session.execute(
        select(CampaignEngagementHour.campaign_id, *[func.coalesce(func.sum(getattr(CampaignEngagementHour, c)), 0)
                                                     for c in COUNTERS])
        .where(CampaignEngagementHour.campaign_id.in_(ids)).group_by(CampaignEngagementHour.campaign_id))}
    attributed = {row[0]: (row[1], row[2]) for row in db.session.execute(
        select(CampaignAttribution.campaign_id, func.count(), func.coalesce(func.sum(CampaignAttribution.amount), 0))
        .where(CampaignAttribution.campaign_id.in_(ids)).group_by(CampaignAttribution.campaign_id))}
    bounced = _bounced(tenant_id, ids)
    complained = _bounced(tenant_id, ids, "email_complained")
    out = []
    for campaign in campaigns:
        counts = dict(zip(COUNTERS, (int(v) for v in sums.get(campaign.id, (0,) * len(COUNTERS))), strict=True))
        sent = campaign.sent_count or 0
        done = sent + (campaign.failed_count or 0) + (campaign.skipped_count or 0)
        orders, revenue = attributed.get(campaign.id, (0, Decimal(0)))
        item = {
            "campaign_id": campaign.id, "name": campaign.name, "status": campaign.status,
            "started_at": campaign.started_at, "recipients": campaign.recipients_count or 0, "sent": sent,
            "failed": campaign.failed_count or 0, "skipped": campaign.skipped_count or 0,
            "remaining": max((campaign.recipients_count or 0) - done, 0), "bounced": bounced.get(campaign.id, 0),
            "complained": complained.get(campaign.id, 0),
            "unsubscribed": campaign.unsubscribed_count or 0,
            "opens": {"all": counts["opens"], "human": counts["human_opens"]},
            "unique_opens": {"all": counts["unique_opens"], "human": counts["human_unique_opens"]},
            "clicks": {"all": counts["clicks"], "human": counts["human_clicks"]},
            "unique_clicks": {"all": counts["unique_clicks"], "human": counts["human_unique_clicks"]},
            "open_rate": {"all": _rate(counts["unique_opens"], sent),
                          "human": _rate(counts["human_unique_opens"], sent)},
            "click_rate": {"all": _rate(counts["unique_clicks"], sent),
                           "human": _rate(counts["human_unique_clicks"], sent)},
            "click_to_open_rate": {"all": _rate(counts["unique_clicks"], counts["unique_opens"]),
                                   "human": _rate(counts["human_unique_clicks"], counts["human_unique_opens"])},
            "attributed_orders": int(orders), "attributed_revenue": float(revenue),
            "links": None, "hourly": None, "variants": None, "winner": None,
        }
        results = ab_results(campaign)
        if results is not None:
            item["variants"] = [{key: v[key] for key in VARIANT_KEYS} for v in results["variants"]]
            item["winner"] = results["winner"]
        if detail:
            item["links"] = link_stats(campaign.id)
            item["hourly"] = hourly(campaign.id)
        out.append(item)
    return out


def link_stats(campaign_id: int) -> list[dict[str, Any]]:
    rows = db.session.scalars(select(CampaignLink).where(CampaignLink.campaign_id == campaign_id)
                              .order_by(CampaignLink.clicks.desc(), CampaignLink.id))
    return [{"link_id": r.id, "url": r.url, "clicks": {"all": r.clicks, "human": r.human_clicks},
             "unique_clicks": {"all": r.unique_clicks, "human": r.human_unique_clicks}} for r in rows]


def hourly(campaign_id: int) -> list[dict[str, Any]]:
    rows = db.session.scalars(select(CampaignEngagementHour).where(CampaignEngagementHour.campaign_id == campaign_id)
                              .order_by(CampaignEngagementHour.hour))
    return [{"hour": r.hour, "opens": {"all": r.opens, "human": r.human_opens},
             "clicks": {"all": r.clicks, "human": r.human_clicks}} for r in rows]


def tenant_daily_engagement(tenant_id: int, since: datetime) -> list[dict[str, Any]]:
    """Opens and clicks (all and human) per day across the tenant's campaigns, from the rollups."""
    rows = db.session.execute(
        select(CampaignEngagementHour.hour, CampaignEngagementHour.opens, CampaignEngagementHour.human_opens,
               CampaignEngagementHour.clicks, CampaignEngagementHour.human_clicks)
        .where(CampaignEngagementHour.tenant_id == tenant_id, CampaignEngagementHour.hour >= since)).all()
    days: dict[Any, dict[str, int]] = {}
    for hour, opens, human_opens, clicks, human_clicks in rows:
        day = days.setdefault(hour.date(), {"opens": 0, "human_opens": 0, "clicks": 0, "human_clicks": 0})
        day["opens"] += opens
        day["human_opens"] += human_opens
        day["clicks"] += clicks
        day["human_clicks"] += human_clicks
    start = since.date()
    return [{"day": start + timedelta(days=i), **days.get(start + timedelta(days=i),
                                                           {"opens": 0, "human_opens": 0, "clicks": 0,
                                                            "human_clicks": 0})}
            for i in range((datetime.now(since.tzinfo).date() - start).days + 1)]


# --- attribution ------------------------------------------------------------------------

def attribute_purchase(activity: CustomerActivity, *, last_touched_at: datetime | None,
                       window_days: int | None = None) -> CampaignAttribution | None:
    """Credit a purchase (in its own transaction; the caller commits) to the campaign of the
    customer's last human click within the tenant's window before it, else the last human
    open. Machine hits never earn credit. `last_touched_at`: the buyer's
    customers.last_touched_at, as the caller read it; before the window (or None), there
    is nothing to credit and nothing is looked up. `window_days`: the tenant's
    attribution_days when the caller read them, else they are read here."""
    if last_touched_at is None or activity.amount is None:
        return None  # never reached by a campaign: the tenant's window is not even read
    days = window_days if window_days is not None else db.session.get(Tenant, activity.tenant_id).attribution_days or 0
    if days <= 0 or last_touched_at < activity.occurred_at - timedelta(days=days):
        return None
    # The last human click in the window, else the last human open: one query.
    touch = db.session.execute(
        select(TrackingHit.campaign_id, TrackingHit.occurred_at, TrackingHit.kind)
        .where(TrackingHit.customer_id == activity.customer_id, TrackingHit.kind.in_(("click", "open")),
               TrackingHit.is_machine.is_(False), TrackingHit.occurred_at <= activity.occurred_at,
               TrackingHit.occurred_at >= activity.occurred_at - timedelta(days=days))
        .order_by(case((TrackingHit.kind == "click", 0), else_=1), TrackingHit.occurred_at.desc())
        .limit(1)).first()
    if touch is None:
        return None
    credit = CampaignAttribution(activity_id=activity.id, tenant_id=activity.tenant_id,
                                 campaign_id=touch.campaign_id, customer_id=activity.customer_id,
                                 amount=activity.amount, touch=touch.kind, touched_at=touch.occurred_at)
    db.session.add(credit)
    webhooks.emit(activity.tenant_id, "purchase.attributed", lambda: _attributed_payload(activity, credit))
    return credit


def _attributed_payload(activity: CustomerActivity, credit: CampaignAttribution) -> dict[str, Any]:
    campaign_name = db.session.scalar(select(EmailCampaign.name).where(EmailCampaign.id == credit.campaign_id))
    properties = activity.properties or {}
    return {"purchase": {"activity_id": activity.id, "order_id": properties.get("order_id"),
                         "amount": float(credit.amount), "occurred_at": activity.occurred_at.isoformat()},
            "campaign": {"id": credit.campaign_id, "name": campaign_name},
            "customer": customer_refs(activity.tenant_id, [activity.customer_id]).get(activity.customer_id),
            "touch": credit.touch, "touched_at": credit.touched_at.isoformat()}


# --- pages ------------------------------------------------------------------------------

def recent_hits(campaign_id: int, limit: int = 20) -> list[TrackingHit]:
    """The latest raw hits of a campaign, headers included (shown escaped)."""
    return list(db.session.scalars(select(TrackingHit).where(TrackingHit.campaign_id == campaign_id)
                                   .order_by(TrackingHit.id.desc()).limit(limit)))


def latest_sent_campaigns(tenant_id: int, limit: int = 5) -> list[dict[str, Any]]:
    """The tenant's last campaigns that went out, with their figures (dashboard)."""
    rows = list(db.session.scalars(tenant_campaigns(tenant_id).where(EmailCampaign.started_at.isnot(None))
                                   .order_by(EmailCampaign.started_at.desc()).limit(limit)))
    return campaign_stats(tenant_id, rows)
