"""Campaigns sent at a local time: each recipient gets the campaign when a wall-clock time
("10:00 on 10 December") comes in their own timezone (customers.timezone, or the tenant's
when theirs is empty or not a zone we know).

How it runs: the campaign starts (its snapshot is taken) at the earliest moment that wall
time exists anywhere, UTC+14; the snapshot gives every row its wave (wave_at, and
next_attempt_at, which claims already honour) with one CASE over the few distinct zones of
the audience; the start job then asks for each batch at each of its waves, and the
reconciler re-enqueues any wave whose job Redis lost (it sends every batch with due rows).

Recipients whose wall time has already passed when the campaign starts (it was scheduled
less than a day or so ahead) get it at once: their wave is in the past, so the first batch
jobs send them. The progress page says so beside each such wave.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import case, distinct, func, literal, select

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.infra.types import utcnow
from webapp.infra.validation import EARLIEST, LATEST
from webapp.models import CampaignRecipient, Customer, CustomerSegmentMember, EmailCampaign
from webapp.services.campaigns.jobs import enqueue_wave

# The furthest zones from UTC (Kiribati's Line Islands, Baker Island): a wall time comes
# first at UTC+14 and last at UTC-12.
EARLIEST_OFFSET = timedelta(hours=14)
LATEST_OFFSET = timedelta(hours=-12)
LOCAL_TIME_FORMAT = "%Y-%m-%dT%H:%M"


def zone_or(name: str | None, fallback: str | None) -> ZoneInfo:
    """The zone `name` names, else the fallback's (the tenant's), else UTC."""
    for candidate in (name, fallback):
        if not candidate:
            continue
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def wall_time_in(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC moment `wall` (naive) happens in `zone`. A time the clocks skip (02:30 when
    they go forward) is read with the offset before the change, so it lands just after it
    (03:30 summer time); a time that happens twice (clocks going back) is the first."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def first_and_last_wave(wall: datetime) -> tuple[datetime, datetime]:
    """When `wall` (naive) comes first (UTC+14) and last (UTC-12) anywhere on Earth."""
    return (wall.replace(tzinfo=UTC) - EARLIEST_OFFSET, wall.replace(tzinfo=UTC) - LATEST_OFFSET)


def parse_local_time(value: datetime, field: str = "local_time") -> datetime:
    """A wall-clock time to send at, minute precision, naive; ValidationFailed naming the field."""
    if value.tzinfo is not None:
        raise ValidationFailed(field, "is a wall-clock time without an offset, e.g. 2026-12-10T10:00")
    wall = value.replace(second=0, microsecond=0)
    # Checked before any arithmetic: a day off either end of Python's calendar overflows.
    if not EARLIEST.replace(tzinfo=None) + timedelta(days=1) <= wall < LATEST.replace(tzinfo=None) - timedelta(days=1):
        raise ValidationFailed(field, "must be between 1900-01-02 and 2999-12-30")
    return wall


def start_of(wall: datetime, now: datetime | None = None) -> datetime:
    """When a campaign at local time `wall` starts: its first possible wave, or now when
    that has passed (those whose time has passed then get it at once). Refused when the
    time has passed everywhere."""
    now = now or utcnow()
    first, last = first_and_last_wave(wall)
    if last <= now:
        raise ValidationFailed("local_time", "has already passed in every timezone: pick a later time")
    return max(first, now)


# --- the snapshot ---------------------------------------------------------------------------

def wave_expression(campaign: EmailCampaign, tenant_zone: str | None):
    """SQL giving each customer row its wave: a CASE over the distinct zones of the
    campaign's audience (zones are few), computed here; other zones (empty, unknown, or a
    customer who joined between the two statements) get the tenant's."""
    wall = datetime.strptime(campaign.local_send_time, LOCAL_TIME_FORMAT)
    fallback = wall_time_in(wall, zone_or(tenant_zone, None))
    zones = db.session.scalars(
        select(distinct(Customer.timezone))
        .join(CustomerSegmentMember, CustomerSegmentMember.customer_id == Customer.id)
        .where(CustomerSegmentMember.segment_id == campaign.segment_id, Customer.tenant_id == campaign.tenant_id,
               Customer.timezone.isnot(None), Customer.timezone != "")).all()
    whens = {zone: wall_time_in(wall, zone_or(zone, tenant_zone)) for zone in zones}
    moment = CampaignRecipient.__table__.c.wave_at.type
    if not whens:
        return _bound(fallback, moment)
    return case({zone: _bound(at, moment) for zone, at in whens.items()}, value=Customer.timezone,
                else_=_bound(fallback, moment))


def _bound(at: datetime, type_):
    return literal(at, type_)


def enqueue_waves(campaign_id: int) -> int:
    """Ask for every batch at each of its future waves (job ids per wave: asking again is
    free). Due ones are the start job's; lost ones are the reconciler's. Returns how many."""
    now = utcnow()
    pairs = db.session.execute(
        select(CampaignRecipient.batch_no, CampaignRecipient.wave_at)
        .where(CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.status == "pending",
               CampaignRecipient.wave_at > now)
        .group_by(CampaignRecipient.batch_no, CampaignRecipient.wave_at)).all()
    for batch_no, wave_at in pairs:
        enqueue_wave(campaign_id, batch_no, wave_at)
    return len(pairs)


# --- the progress page ------------------------------------------------------------------------

@dataclass(frozen=True)
class Wave:
    at: datetime  # UTC
    zones: list[str]  # the customers' zones in this wave ("" for those on the tenant's)
    recipients: int
    sent: int
    skipped: int
    failed: int
    passed_at_start: bool  # the time had passed when the campaign started: sent at once


def waves_of(campaign: EmailCampaign, max_zones: int = 6) -> list[Wave]:
    """The campaign's waves in time order: when, which zones, how many, how many sent so far.
    Two grouped reads over the campaign's rows (index on campaign_id)."""
    if not campaign.local_send_time or campaign.snapshot_at is None:
        return []
    rows = CampaignRecipient.__table__
    counts = db.session.execute(
        select(rows.c.wave_at, rows.c.status, func.count())
        .where(rows.c.campaign_id == campaign.id, rows.c.wave_at.isnot(None))
        .group_by(rows.c.wave_at, rows.c.status)).all()
    zones: dict[datetime, list[str]] = {}
    for wave_at, zone in db.session.execute(
            select(rows.c.wave_at, Customer.timezone).join(Customer, Customer.id == rows.c.customer_id)
            .where(rows.c.campaign_id == campaign.id, rows.c.wave_at.isnot(None))
            .group_by(rows.c.wave_at, Customer.timezone).order_by(rows.c.wave_at, Customer.timezone)):
        shown = zone if zone and _is_zone(zone) else ""  # the tenant's zone stands in for it
        if shown not in zones.setdefault(wave_at, []):
            zones[wave_at].append(shown)
    by_wave: dict[datetime, dict[str, int]] = {}
    for wave_at, status, n in counts:
        by_wave.setdefault(wave_at, {})[status] = n
    # Named zones first, alphabetically; those on the organisation's zone last.
    named_first = {at: sorted(names, key=lambda zone: (zone == "", zone)) for at, names in zones.items()}
    return [Wave(at=at, zones=named_first.get(at, [])[:max_zones], recipients=sum(tally.values()),
                 sent=tally.get("sent", 0), skipped=tally.get("skipped", 0), failed=tally.get("failed", 0),
                 passed_at_start=at < campaign.snapshot_at - timedelta(seconds=1))
            for at, tally in sorted(by_wave.items())]


def future_waves(campaign: EmailCampaign) -> bool:
    """Some recipients' time has not come yet (the send is waiting, not slow)."""
    if not campaign.local_send_time or campaign.status != "sending":
        return False
    return db.session.scalar(select(CampaignRecipient.id).where(
        CampaignRecipient.campaign_id == campaign.id, CampaignRecipient.status == "pending",
        CampaignRecipient.next_attempt_at > utcnow()).limit(1)) is not None
