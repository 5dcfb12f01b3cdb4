"""Who came: ticket scans mark a holder `attended` as they happen; when an event is over,
settling it writes `no_show` for every other holder, marks the event ended and fires
`event_ended` for each holder with the flag (feedback to those who came, win-back to the
rest). The figures the API shows per event are read here too.

A scan that names a ticket code counts once: its idempotency key is derived from (event,
ticket), so the gate scanning the same ticket again (re-entry, a second scanner, a retried
delivery) returns the stored scan and changes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import and_, case, func, literal, or_, select, union, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import visitors

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.infra.queues import enqueue_unique
from webapp.infra.sql import dialect, insert_ignoring_duplicates
from webapp.infra.types import UTCDateTime, utcnow
from webapp.infra.validation import Moment, validate
from webapp.models import CustomerActivity, Event, EventAttendance, PurchaseItem, Tenant
from webapp.services.enrollment import active_workflows, enroll_into, log_enrolled, matches
from webapp.services.events.catalogue import event_payload, find_event
from webapp.services.events.holders import holders_subquery
from webapp.services.segments import compiler_for, definition_of, list_segments

# When an event gave no end: how long it is taken to last. Then how long after the end
# late scans may still arrive before attendance is settled, and how far back the sweep
# looks (an event first seen weeks after it happened, e.g. history loaded from the
# platform, is not settled: its holders would all be no-shows and be told so).
ASSUMED_LENGTH = timedelta(hours=4)
SETTLE_GRACE = timedelta(hours=2)
SETTLE_LOOKBACK = timedelta(days=14)
RECALC_TIMEOUT = 1800
SCAN_KEY_PREFIX = "ticket_scanned:"


def _fits_key_column(value: str | int) -> str | int:
    # Events' platform ids are stored in String(200) columns.
    if isinstance(value, bool):
        raise ValueError("must be a string or a number")
    if not str(value).strip():
        raise ValueError("must not be empty")
    if len(str(value)) > 200:
        raise ValueError("at most 200 characters")
    return value


PlatformId = Annotated[str | int, AfterValidator(_fits_key_column)]


class ScannedEvent(BaseModel):
    """The event a scan was for, by the platform's id (`external_id`, or `id` as purchases say it)."""

    model_config = ConfigDict(extra="allow")

    external_id: PlatformId | None = None
    id: PlatformId | None = None


class ScanProperties(BaseModel):
    """What a ticket_scanned activity carries; other keys are kept as given."""

    model_config = ConfigDict(extra="allow")

    event: ScannedEvent
    # The ticket's code or barcode: a second scan of it is the same scan.
    ticket: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    gate: Annotated[str, Field(max_length=200)] | None = None
    scanned_at: Moment | None = None


@dataclass(frozen=True)
class Scan:
    event: Event
    ticket: str | None
    scanned_at: datetime | None
    # The scan's idempotency key when it names a ticket (None: only the platform's key applies).
    key: str | None


def ticket_key(event: Event, ticket: str) -> str:
    """The idempotency key of every scan of `ticket` at `event` (<= 200 characters)."""
    key = f"{SCAN_KEY_PREFIX}{event.id}:{ticket}"
    if len(key) > 200:
        key = f"{SCAN_KEY_PREFIX}{event.id}:sha256:{hashlib.sha256(ticket.encode()).hexdigest()}"
    return key


def read_scan(tenant_id: int, properties: dict[str, Any]) -> Scan:
    """A ticket_scanned activity's properties, validated, with the tenant's event it names:
    ValidationFailed naming the field otherwise (a scan never creates an event, and another
    organisation's event is as unknown as a missing one)."""
    scan = validate(ScanProperties, properties, "properties")
    given = scan.event.external_id if scan.event.external_id is not None else scan.event.id
    if given is None:
        raise ValidationFailed("properties.event", "give the event's external_id (the platform's id)")
    platform_id = str(given).strip()
    event = find_event(tenant_id, platform_id)
    if event is None:
        raise ValidationFailed("properties.event", f"no event has the external_id {platform_id!r}: "
                                                   "create it first (POST /api/crm/events)")
    ticket = scan.ticket.strip() if scan.ticket is not None and scan.ticket.strip() else None
    return Scan(event, ticket, scan.scanned_at, ticket_key(event, ticket) if ticket else None)


def mark_attended(tenant_id: int, customer_id: int, event: Event, scanned_at: datetime) -> None:
    """The customer came to `event`: their attendance row becomes (or stays) `attended`, one
    more scan counted and the earliest scan time kept, in one INSERT ... ON CONFLICT (a late
    scan after settlement turns a no_show into attended)."""
    table = EventAttendance.__table__
    insert = (postgresql if dialect() == "postgresql" else sqlite).insert(table).values(
        event_id=event.id, customer_id=customer_id, tenant_id=tenant_id, status="attended", scans=1,
        first_scanned_at=scanned_at, event_starts_at=event.starts_at)
    first, new_first = table.c.first_scanned_at, insert.excluded.first_scanned_at
    db.session.execute(insert.on_conflict_do_update(index_elements=["event_id", "customer_id"], set_={
        "status": "attended", "scans": table.c.scans + 1, "event_starts_at": insert.excluded.event_starts_at,
        # Scans may arrive out of order (a gate's queue flushed late): the earliest is the first.
        "first_scanned_at": case((or_(first.is_(None), first > new_first), new_first), else_=first)}))


# --- settlement --------------------------------------------------------------------------


@dataclass(frozen=True)
class Settled:
    event_id: int
    no_shows: int
    enrolled: int


def _due_events(now: datetime, grace: timedelta, assumed_length: timedelta, lookback: timedelta):
    """(tenant_id, id) of events not cancelled nor settled whose end (given, else the start
    plus `assumed_length`) is `grace` past. The bounded range on starts_at keeps this an
    index scan of the last `lookback` (ix_events_starts) however many events are behind."""
    over = now - grace
    return db.session.execute(
        select(Event.tenant_id, Event.id)
        .where(Event.starts_at >= now - lookback, Event.starts_at <= over, Event.settled_at.is_(None),
               Event.status != "cancelled",
               or_(Event.ends_at <= over, and_(Event.ends_at.is_(None), Event.starts_at <= over - assumed_length)))
        .order_by(Event.starts_at, Event.id)).all()


def _write_no_shows(tenant_id: int, event: Event) -> int:
    """A no_show row for every holder without an attendance row, in one INSERT ... SELECT
    (holders who scanned already have theirs: the primary key skips them)."""
    holders = holders_subquery(tenant_id, event)
    table = EventAttendance.__table__
    rows = select(literal(event.id), holders.c.customer_id, literal(tenant_id), literal("no_show"), literal(0),
                  literal(event.starts_at, UTCDateTime)).where(holders.c.customer_id.isnot(None))
    return db.session.execute(insert_ignoring_duplicates(table).from_select(
        ["event_id", "customer_id", "tenant_id", "status", "scans", "event_starts_at"], rows)).rowcount


def _fire_event_ended(tenant_id: int, event: Event, tenant: Tenant, now: datetime) -> int:
    """event_ended for everyone with an attendance row (after settlement: every holder, and
    anyone scanned in), set-based: one enrollment per attended flag. The dedupe key makes it
    once per customer per event per workflow."""
    workflows = active_workflows(tenant_id, "event_ended")
    if not workflows:
        return 0
    about = event_payload(event, tenant)
    enrolled = 0
    for attended in (True, False):
        payload = {"event": about, "attended": attended}
        chosen = [w for w in workflows if matches(w, payload)]
        if not chosen:
            continue
        who = select(EventAttendance.customer_id.label("customer_id")).where(
            EventAttendance.tenant_id == tenant_id, EventAttendance.event_id == event.id,
            EventAttendance.status == ("attended" if attended else "no_show")).subquery()
        created = enroll_into(tenant_id, chosen, "event_ended", payload, now, customers=who,
                              dedupe_key=f"event_ended:{event.id}")
        log_enrolled(tenant_id, created, now)
        enrolled += len(created)
    return enrolled


def settle_event(tenant_id: int, event_id: int, *, now: datetime | None = None) -> Settled | None:
    """Settle one event's attendance in one transaction (committed here): claim it (a
    conditional UPDATE to `ended`, so two sweeps never both settle it; a cancelled or
    settled event is left alone: None), write its no-shows and fire event_ended."""
    now = now or utcnow()
    claimed = db.session.execute(
        update(Event).where(Event.id == event_id, Event.tenant_id == tenant_id, Event.settled_at.is_(None),
                            Event.status != "cancelled")
        .values(settled_at=now, status="ended", updated_at=now).execution_options(synchronize_session=False)).rowcount
    if not claimed:
        db.session.rollback()
        return None
    event = db.session.scalars(select(Event).where(Event.id == event_id)
                               .execution_options(populate_existing=True)).one()
    no_shows = _write_no_shows(tenant_id, event)
    enrolled = _fire_event_ended(tenant_id, event, db.session.get(Tenant, tenant_id), now)
    db.session.commit()
    return Settled(event_id, no_shows, enrolled)


def settle_ended_events(*, now: datetime | None = None, grace: timedelta = SETTLE_GRACE,
                        assumed_length: timedelta = ASSUMED_LENGTH, lookback: timedelta = SETTLE_LOOKBACK
                        ) -> list[Settled]:
    """Periodic: settle every event whose end is past by `grace`, each in its own
    transaction, then have the segments that read attendance recalculated (by job name,
    set-based) for each organisation that had events settled. Idempotent: a settled event
    is never settled again, and costs nothing to look for."""
    now = now or utcnow()
    done: list[Settled] = []
    tenants: set[int] = set()
    for tenant_id, event_id in _due_events(now, grace, assumed_length, lookback):
        settled = settle_event(tenant_id, event_id, now=now)
        if settled is not None:
            done.append(settled)
            if settled.no_shows:
                tenants.add(tenant_id)
    for tenant_id in sorted(tenants):
        recalculate_attendance_segments(tenant_id)
    return done


def segments_reading(tenant_id: int, table_name: str) -> list[int]:
    """Ids of the tenant's segments whose SQL reads `table_name`, found from the compiled
    definitions themselves (so a condition type added later is found without a list here)."""
    compiler = compiler_for(tenant_id)
    found = []
    for segment in list_segments(tenant_id):
        statement = compiler.members(definition_of(segment))
        if any(getattr(element, "name", None) == table_name and hasattr(element, "columns")
               for element in visitors.iterate(statement)):
            found.append(segment.id)
    return found


def recalculate_attendance_segments(tenant_id: int) -> list[int]:
    """Settlement writes no-shows for many customers at once: rather than re-evaluating each
    customer, the segments that read attendance are recalculated whole (one set-based job
    each, queued once however many events settled)."""
    ids = segments_reading(tenant_id, EventAttendance.__tablename__)
    for segment_id in ids:
        enqueue_unique("segments.recalculate_segment", tenant_id, segment_id, job_id=f"segment-recalc-{segment_id}",
                       queue="bulk", lease_seconds=RECALC_TIMEOUT, job_timeout=RECALC_TIMEOUT, result_ttl=600,
                       failure_ttl=86400)
    return ids


# --- figures -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Attendance:
    attended: int
    no_show: int
    # Attended as a share of holders (0..1, 4 places); None until settled or anyone is scanned.
    rate: float | None


def _share(part: int, whole: int) -> float | None:
    if not whole:
        return None
    return float((Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def _holder_counts(tenant_id: int, events: list[Event]) -> dict[int, int]:
    """{event id: holders and scanned-in customers} for events not settled yet, one grouped query."""
    if not events:
        return {}
    by_platform = select(Event.id.label("event_id"), CustomerActivity.customer_id.label("customer_id")).join(
        CustomerActivity, and_(CustomerActivity.tenant_id == Event.tenant_id,
                               CustomerActivity.event_id == Event.external_id, CustomerActivity.type == "purchase")
    ).where(Event.tenant_id == tenant_id, Event.id.in_([e.id for e in events]))
    guests = select(PurchaseItem.event_id, PurchaseItem.attendee_customer_id).where(
        PurchaseItem.tenant_id == tenant_id, PurchaseItem.event_id.in_([e.id for e in events]),
        PurchaseItem.attendee_customer_id.isnot(None))
    scanned = select(EventAttendance.event_id, EventAttendance.customer_id).where(
        EventAttendance.tenant_id == tenant_id, EventAttendance.event_id.in_([e.id for e in events]))
    people = union(by_platform, guests, scanned).subquery()
    return dict(db.session.execute(select(people.c.event_id, func.count()).group_by(people.c.event_id)).all())


def attendance(tenant_id: int, events: list[Event]) -> dict[int, Attendance]:
    """{event id: who came} for a page of events in one grouped query (and one more for the
    holders of events being scanned but not settled yet). Settled: attended / (attended +
    no_show); while the gates are open: attended / everyone holding a ticket so far."""
    found = {e.id: Attendance(0, 0, None) for e in events}
    if not events:
        return found
    attended = func.coalesce(func.sum(case((EventAttendance.status == "attended", 1), else_=0)), 0)
    no_show = func.coalesce(func.sum(case((EventAttendance.status == "no_show", 1), else_=0)), 0)
    counts = {event_id: (int(a), int(n)) for event_id, a, n in db.session.execute(
        select(EventAttendance.event_id, attended, no_show)
        .where(EventAttendance.tenant_id == tenant_id, EventAttendance.event_id.in_(list(found)))
        .group_by(EventAttendance.event_id))}
    open_gates = [e for e in events if e.settled_at is None and counts.get(e.id, (0, 0))[0]]
    holders = _holder_counts(tenant_id, open_gates)
    for event in events:
        came, missed = counts.get(event.id, (0, 0))
        if event.settled_at is not None:
            found[event.id] = Attendance(came, missed, _share(came, came + missed))
        elif came:
            found[event.id] = Attendance(came, missed, _share(came, holders.get(event.id, came)))
        else:
            found[event.id] = Attendance(came, missed, None)
    return found
