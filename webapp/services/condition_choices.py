"""What the condition rows name and suggest beyond tags: the organisation's events (the
builder's event menu, and the names a segment's summary says instead of ids), and the
ticket types, tiers, sections, event tags and venues in use."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import Event, EventTag, PurchaseItem


def _named_events(conditions: Any) -> set[int]:
    found: set[int] = set()
    for raw in conditions if isinstance(conditions, list) else []:
        if isinstance(raw, dict) and isinstance(raw.get("conditions"), list):
            found |= _named_events(raw["conditions"])
        elif isinstance(raw, dict) and isinstance(raw.get("event"), int) and not isinstance(raw["event"], bool):
            found.add(raw["event"])
    return found


def event_names(tenant_id: int, conditions: Any) -> dict[int, str]:
    """{event id: name} of the tenant's events a definition names, so its summary says them
    by name (another organisation's id finds nothing, as it matches nothing)."""
    ids = sorted(_named_events(conditions))
    if not ids:
        return {}
    return dict(db.session.execute(select(Event.id, Event.name).where(Event.tenant_id == tenant_id,
                                                                      Event.id.in_(ids))).all())


def event_choices(tenant_id: int, *, limit: int = 300) -> list[dict[str, Any]]:
    """The builder's event menu: upcoming events soonest first, then past ones latest first
    (the value is the event's id; the view labels it with its name, date and venue)."""
    rows = db.session.execute(
        select(Event.id, Event.name, Event.starts_at, Event.venue_name, Event.timezone)
        .where(Event.tenant_id == tenant_id)
        .order_by(Event.starts_at.is_(None), Event.starts_at.desc(), Event.id.desc()).limit(limit)).all()
    now = utcnow()
    upcoming = sorted((r for r in rows if r.starts_at is not None and r.starts_at > now), key=lambda r: r.starts_at)
    past = [r for r in rows if r.starts_at is None or r.starts_at <= now]
    return [{"value": r.id, "name": r.name, "starts_at": r.starts_at, "venue": r.venue_name, "timezone": r.timezone}
            for r in upcoming + past]


def ticket_suggestions(tenant_id: int, *, limit: int = 100, recent: int = 2000) -> dict[str, list[str]]:
    """What the tenant's tickets and events say, for the builder's suggestions: ticket
    types, tiers and sections of the `recent` latest line items (a bounded read however
    many tickets were sold), event tags and venues."""
    lines = db.session.execute(select(PurchaseItem.ticket_type, PurchaseItem.tier, PurchaseItem.section)
                               .where(PurchaseItem.tenant_id == tenant_id)
                               .order_by(PurchaseItem.id.desc()).limit(recent)).all()
    found = {key: sorted({line[i] for line in lines if line[i]})[:limit]
             for i, key in enumerate(("ticket_types", "tiers", "sections"))}
    found["event_tags"] = list(db.session.scalars(select(EventTag.value).where(EventTag.tenant_id == tenant_id)
                                                  .distinct().order_by(EventTag.value).limit(limit)))
    found["venues"] = list(db.session.scalars(select(Event.venue_name).where(Event.tenant_id == tenant_id,
                                                                             Event.venue_name.isnot(None))
                                              .distinct().order_by(Event.venue_name).limit(limit)))
    return found
