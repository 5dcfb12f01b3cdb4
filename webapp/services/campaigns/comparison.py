"""What the campaign report adds to the figures: people's cumulative opens and clicks since
sending started, and this campaign against the average of the tenant's previous five."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.types import hour_of
from webapp.models import CampaignEngagementHour, EmailCampaign
from webapp.services.campaigns.drafts import tenant_campaigns
from webapp.services.campaigns.stats import campaign_stats

HOURLY_SPAN = timedelta(hours=48)  # hourly points this long after sending started, then daily
PREVIOUS = 5


# --- cumulative engagement ----------------------------------------------------------------

@dataclass(frozen=True)
class Point:
    at: datetime  # the figures are those reached by this moment
    opened: int
    clicked: int
    hourly: bool


def _moments(start: datetime, end: datetime, zone: ZoneInfo) -> list[tuple[datetime, bool]]:
    """Every hour from `start` for 48 hours (or to `end`), then each local midnight, then `end`."""
    moments, at = [], start
    hourly_until = min(end, start + HOURLY_SPAN)
    while at <= hourly_until:
        moments.append((at, True))
        at += timedelta(hours=1)
    if end > hourly_until:
        local = hourly_until.astimezone(zone)
        day = datetime(local.year, local.month, local.day, tzinfo=zone) + timedelta(days=1)
        while day.astimezone(start.tzinfo) < end:
            moments.append((day.astimezone(start.tzinfo), False))
            day += timedelta(days=1)  # wall-clock arithmetic: the next local midnight, DST or not
        moments.append((end, False))
    return moments


def cumulative_engagement(campaign: EmailCampaign, *, timezone: str, now: datetime,
                          people_only: bool = True) -> list[Point]:
    """How many people had opened and clicked by each moment since sending started: hourly for
    the first 48 hours, then at each midnight of the tenant's timezone, up to the last
    engagement (or now, while it is still coming in). Empty before sending started."""
    if campaign.started_at is None:
        return []
    hours = CampaignEngagementHour
    opened_col, clicked_col = ((hours.human_unique_opens, hours.human_unique_clicks) if people_only
                               else (hours.unique_opens, hours.unique_clicks))
    rows = db.session.execute(select(hours.hour, opened_col, clicked_col)
                              .where(hours.campaign_id == campaign.id).order_by(hours.hour)).all()
    start = hour_of(campaign.started_at)
    last = max([start, *[row[0] + timedelta(hours=1) for row in rows]])
    now_hour = hour_of(now) + timedelta(hours=1)
    # While the first 48 hours run the line reaches now; after them, the last engagement.
    end = min(max(last, min(now_hour, start + HOURLY_SPAN)), now_hour)
    end = max(end, start + timedelta(hours=1))
    points, opened, clicked, index = [], 0, 0, 0
    for at, hourly in _moments(start, end, ZoneInfo(timezone)):
        while index < len(rows) and rows[index][0] < at:
            opened, clicked = opened + rows[index][1], clicked + rows[index][2]
            index += 1
        points.append(Point(at, opened, clicked, hourly))
    return points


# --- against the previous five ------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    key: str
    label: str
    value: float
    average: float
    # Rates are compared in percentage points, money per recipient in the tenant's currency.
    unit: str
    higher_is_better: bool

    @property
    def delta(self) -> float:
        return self.value - self.average

    @property
    def points(self) -> float:
        """The difference in percentage points (rates) or in money (per recipient), rounded as shown."""
        return round(self.delta * 100, 1) if self.unit == "pts" else round(self.delta, 2)

    @property
    def verdict(self) -> str:
        """better, worse or same: the words and arrow the page shows, never colour alone."""
        if self.points == 0:
            return "same"
        return "better" if (self.points > 0) == self.higher_is_better else "worse"


def _figures(item: dict[str, Any]) -> dict[str, float]:
    sent = item["sent"]
    return {"open_rate": item["open_rate"]["human"], "click_rate": item["click_rate"]["human"],
            "unsubscribe_rate": item["unsubscribed"] / sent if sent else 0.0,
            "revenue_per_recipient": item["attributed_revenue"] / sent if sent else 0.0}


METRICS = (("open_rate", "Open rate", "pts", True), ("click_rate", "Click rate", "pts", True),
           ("unsubscribe_rate", "Unsubscribe rate", "pts", False),
           ("revenue_per_recipient", "Revenue per recipient", "money", True))


def previous_campaigns(tenant_id: int, campaign: EmailCampaign, limit: int = PREVIOUS) -> list[EmailCampaign]:
    """The tenant's last `limit` sent campaigns that started before this one."""
    if campaign.started_at is None:
        return []
    return list(db.session.scalars(
        tenant_campaigns(tenant_id).where(EmailCampaign.status == "sent", EmailCampaign.id != campaign.id,
                                          EmailCampaign.started_at < campaign.started_at)
        .order_by(EmailCampaign.started_at.desc(), EmailCampaign.id.desc()).limit(limit)))


def compare_with_previous(tenant_id: int, campaign: EmailCampaign, stats: dict[str, Any]) -> dict[str, Any]:
    """This campaign's people-only figures against the plain average of the previous five
    sent campaigns' ({"count": how many there were, "items": [Comparison]}; no items without
    a previous campaign)."""
    previous = campaign_stats(tenant_id, previous_campaigns(tenant_id, campaign))
    if not previous:
        return {"count": 0, "items": []}
    mine = _figures(stats)
    theirs = [_figures(item) for item in previous]
    items = [Comparison(key, label, mine[key], sum(f[key] for f in theirs) / len(theirs), unit, better)
             for key, label, unit, better in METRICS]
    return {"count": len(previous), "items": items}
