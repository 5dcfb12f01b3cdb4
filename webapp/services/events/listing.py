"""Lists of events: upcoming soonest first, past latest first, keyset-paginated on
(starts_at, id)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.infra.pagination import Page, decode_cursor, encode_cursor, keyset_by_id
from webapp.infra.types import MAX_ID, utcnow
from webapp.infra.validation import parse_moment
from webapp.models import Event, Tenant


def zones(tenant_id: int, events: list[Event]) -> dict[int, str]:
    """{event id: its wall clock's IANA zone}: the venue's, else the organisation's."""
    tenant_zone = db.session.scalar(select(Tenant.timezone).where(Tenant.id == tenant_id)) or "UTC"
    return {e.id: e.timezone or tenant_zone for e in events}


def _cursor(cursor: str | None) -> tuple[datetime, int] | None:
    after = decode_cursor(cursor, 2)
    if after is None:
        return None
    at = parse_moment(after[0]) if isinstance(after[0], str) else None
    if at is None or isinstance(after[1], bool) or not isinstance(after[1], int) or not 0 < after[1] <= MAX_ID:
        raise ValidationFailed("cursor", "is not a cursor returned by this list")
    return at, after[1]


def list_events(tenant_id: int, *, when: str | None = None, status: str | None = None, limit: int = 50,
                cursor: str | None = None, now: datetime | None = None) -> Page:
    """The tenant's events. `when="upcoming"`: starting now or later, soonest first;
    `"past"`: started before now, latest first; None: newest created first (every event,
    those without a date too)."""
    stmt = select(Event).where(Event.tenant_id == tenant_id)
    if status:
        stmt = stmt.where(Event.status == status)
    if when is None:
        return keyset_by_id(stmt, Event.id, limit=limit, cursor=cursor)
    now = now or utcnow()
    after = _cursor(cursor)
    if when == "upcoming":
        stmt = stmt.where(Event.starts_at >= now)
        if after:
            stmt = stmt.where(or_(Event.starts_at > after[0], and_(Event.starts_at == after[0], Event.id > after[1])))
        stmt = stmt.order_by(Event.starts_at, Event.id)
    else:
        stmt = stmt.where(Event.starts_at < now)
        if after:
            stmt = stmt.where(or_(Event.starts_at < after[0], and_(Event.starts_at == after[0], Event.id < after[1])))
        stmt = stmt.order_by(Event.starts_at.desc(), Event.id.desc())
    rows = list(db.session.scalars(stmt.limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([last.starts_at.isoformat(), last.id])
    return Page(rows[:limit], next_cursor)
