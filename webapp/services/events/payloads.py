"""The event a workflow's trigger payload names: what "N hours before the event" waits, the
calendar attachment and the add-to-calendar link read."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.types import MAX_ID
from webapp.models import Event
from webapp.models.workflow import event_reference


def payload_event(tenant_id: int, payload: dict[str, Any] | None) -> Event | None:
    """The tenant's event a trigger payload names: `event.event_id` (ours, event triggers) or
    the platform's id as enrollments keep it (event_reference: `event.external_id`, else
    `event.id`, trimmed). None when it names none."""
    info = (payload or {}).get("event")
    if not isinstance(info, dict):
        return None
    ours = info.get("event_id")
    if isinstance(ours, int) and not isinstance(ours, bool) and 0 < ours <= MAX_ID:
        event = db.session.get(Event, ours)
        return event if event is not None and event.tenant_id == tenant_id else None
    platform = event_reference(payload)
    if platform is not None:
        return db.session.scalar(select(Event).where(Event.tenant_id == tenant_id, Event.external_id == platform))
    return None
