"""Events as the builder's event card shows them, read from the tenant's purchases: a
customer's next event, or one event by the platform's id."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.infra.validation import parse_moment
from webapp.models import CustomerActivity


def _card(event_id: str, raw: dict[str, Any], zone: ZoneInfo) -> dict[str, Any] | None:
    """What the card reads of a purchase's event: name, when (in the tenant's zone), venue,
    link and image; None when the purchase names no start the calendar can hold."""
    starts_at = parse_moment(raw.get("starts_at")) if isinstance(raw.get("starts_at"), str) else None
    if starts_at is None:
        return None
    venue = raw.get("venue")
    if isinstance(venue, dict):
        venue = ", ".join(str(v) for v in (venue.get("name"), venue.get("city")) if v)
    local = starts_at.astimezone(zone)
    return {"id": event_id, "name": str(raw.get("name") or "Your event")[:300], "starts_at": starts_at,
            "when": f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M}", "venue": str(venue)[:300] if venue else "",
            "url": _http(raw.get("url")), "image_url": _http(raw.get("image_url") or raw.get("image"))}


def _http(value: Any) -> str | None:
    return value[:2000] if isinstance(value, str) and value.startswith(("https://", "http://")) else None


def next_events(tenant_id: int, customer_ids: Iterable[int], timezone: str = "UTC",
                now: datetime | None = None) -> dict[int, dict[str, Any]]:
    """{customer_id: the earliest event still ahead among the customer's purchases}, for a
    group of recipients in one query."""
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    now, zone = now or utcnow(), ZoneInfo(timezone or "UTC")
    rows = db.session.execute(select(CustomerActivity.customer_id, CustomerActivity.event_id,
                                     CustomerActivity.properties["event"])
                              .where(CustomerActivity.tenant_id == tenant_id, CustomerActivity.type == "purchase",
                                     CustomerActivity.customer_id.in_(ids), CustomerActivity.event_id.isnot(None)))
    best: dict[int, dict[str, Any]] = {}
    for customer_id, event_id, raw in rows:
        card = _card(event_id, raw, zone) if isinstance(raw, dict) else None
        if card and card["starts_at"] > now and (customer_id not in best
                                                 or card["starts_at"] < best[customer_id]["starts_at"]):
            best[customer_id] = card
    return best


def events_by_id(tenant_id: int, event_ids: Iterable[str], timezone: str = "UTC") -> dict[str, dict[str, Any]]:
    """{event id: the event as its latest purchase describes it} for the ids named."""
    ids = sorted(set(event_ids))
    if not ids:
        return {}
    zone = ZoneInfo(timezone or "UTC")
    found: dict[str, dict[str, Any]] = {}
    for event_id in ids[:20]:  # a design names a handful; each is its latest purchase's description
        raw = db.session.scalar(select(CustomerActivity.properties["event"])
                                .where(CustomerActivity.tenant_id == tenant_id, CustomerActivity.type == "purchase",
                                       CustomerActivity.event_id == event_id)
                                .order_by(CustomerActivity.id.desc()).limit(1))
        if isinstance(raw, dict) and (card := _card(event_id, raw, zone)):
            found[event_id] = card
    return found
