"""Real-time segment membership: a customer (or a batch of them) re-evaluated against every
segment of the tenant in one statement, the memberships that changed written, counted and
logged (segment_entered / segment_exited, which segment_entered workflows hook into)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, delete, exists, insert, literal, select, tuple_, union_all

from webapp.extensions import db
from webapp.infra.memo import VersionedCache
from webapp.infra.sql import among, dialect, for_driver, run_compiled
from webapp.infra.types import utcnow
from webapp.models import Customer, CustomerSegment, CustomerSegmentMember
from webapp.segments.compiler import Compiler
from webapp.services.cache_keys import keys_locking, tenant_keys
from webapp.services.customer_locks import lock_customers
from webapp.services.segments import count_moved, definition_of, list_segments, lock_segments, log_moves

# Per tenant (and kind): the union of every segment's probe, reused while no segment changes:
# building 50 expression trees costs far more than running the statement. Bounded, never
# stale (under each segment's updated_at).
_PROBES = VersionedCache[Any](size=256)


def _versions(tenant_id: int) -> list[tuple[int, datetime]]:
    """(id, updated_at) of the tenant's segments: what the probe statements are cached by,
    read with the workflows' keys once per transaction (services/cache_keys.py)."""
    return tenant_keys(tenant_id).segments


def _probe_statement(tenant_id: int, versions: list[tuple[int, datetime]], now: datetime | None):
    """(segment_id, matches): the ids of the tenant's segments that customer :customer_id
    matches (1) and of those it is a member of now (0), in one statement."""
    if now is not None:  # a moment of its own: built for this call only
        return _build_probe(tenant_id, now)
    return _PROBES.get((tenant_id, dialect()), tuple(versions), lambda: _build_probe(tenant_id, None))


def _build_probe(tenant_id: int, now: datetime | None):
    segments = list_segments(tenant_id)
    compiler = Compiler(tenant_id, dialect(), now)
    customer_id = bindparam("customer_id")
    probes = [select(literal(segment.id).label("segment_id"), literal(1).label("matches")).where(
        exists().where(Customer.id == customer_id, Customer.tenant_id == tenant_id,
                       compiler.group(definition_of(segment))))
        for segment in segments]
    member = select(CustomerSegmentMember.segment_id, literal(0)).where(
        CustomerSegmentMember.customer_id == customer_id)
    return union_all(*probes, member)


def _probe(tenant_id: int, versions: list[tuple[int, datetime]], now: datetime | None,
           customer_id: int) -> list[tuple[int, int]]:
    """The probe's rows for one customer. On PostgreSQL the statement (50 segments: some
    30,000 characters and a hundred parameters) is compiled once per version of the
    segments into the server's placeholders, and each run sends the customer and the
    parameters fixed at compile time: no SQLAlchemy execution, no placeholder rewriting
    (psycopg rewrites those of a statement this long on every call)."""
    statement = _probe_statement(tenant_id, versions, now)
    if now is not None or dialect() != "postgresql":
        return [tuple(r) for r in db.session.execute(statement, {"customer_id": customer_id})]
    compiled = _PROBES.get(("driver", tenant_id), tuple(versions), lambda: for_driver(statement, customer_id=0))
    return run_compiled(compiled, customer_id=customer_id)


def refresh_customer_segments(tenant_id: int, customer_id: int, *, now: datetime | None = None,
                              locked: bool = False) -> dict[str, list[int]]:
    """Re-evaluate one customer against every segment of the tenant, in the caller's
    transaction (the caller commits). One statement evaluates all segments and reads the
    memberships; only segments whose membership changes are locked and written. `locked`:
    the caller's transaction already updated the customer's row (which locks it more
    strongly than the lock below). Returns {"entered": [...], "exited": [...]}.
    """
    # One refresh per customer at a time (PostgreSQL): concurrent activities for the same
    # customer would otherwise both see "not a member yet" and insert the membership twice.
    # NO KEY UPDATE (not UPDATE) so a recalculation inserting this customer's membership (a
    # foreign-key KEY SHARE lock) never deadlocks with us. Taken with the segments' versions
    # when this transaction reads them first.
    versions = _versions(tenant_id) if locked else keys_locking(tenant_id, customer_id).segments
    if not versions:
        return {"entered": [], "exited": []}
    rows = _probe(tenant_id, versions, now, customer_id)
    matching = {segment_id for segment_id, matches in rows if matches}
    current = {segment_id for segment_id, matches in rows if not matches}
    entered, exited = sorted(matching - current), sorted(current - matching)
    _apply_moves(tenant_id, {**{sid: ([customer_id], []) for sid in entered},
                             **{sid: ([], [customer_id]) for sid in exited}}, now or utcnow())
    return {"entered": entered, "exited": exited}


def _apply_moves(tenant_id: int, moved: dict[int, tuple[list[int], list[int]]], at: datetime) -> None:
    """Memberships that moved ({segment id: (customers in, customers out)}): the segments
    locked (one statement, in id order), the rows inserted and deleted (one statement each),
    the counts moved (one UPDATE) and the moves logged, entries first (segments.log_moves)."""
    if not moved:
        return
    lock_segments(sorted(moved))
    member = CustomerSegmentMember
    came = [(sid, cid) for sid in sorted(moved) for cid in moved[sid][0]]
    left = [(sid, cid) for sid in sorted(moved) for cid in moved[sid][1]]
    if came:
        db.session.execute(insert(member), [
            {"segment_id": sid, "customer_id": cid, "tenant_id": tenant_id, "added_at": at} for sid, cid in came])
    if left:
        db.session.execute(delete(member).where(tuple_(member.segment_id, member.customer_id).in_(left))
                           .execution_options(synchronize_session=False))
    segments = {s.id: s for s in db.session.scalars(select(CustomerSegment).where(CustomerSegment.id.in_(moved)))}
    log_moves(tenant_id, [(segments[sid], kind, moved[sid][side]) for side, kind in ((0, "segment_entered"),
                                                                                    (1, "segment_exited"))
                          for sid in sorted(moved) if moved[sid][side]], at)
    count_moved(CustomerSegment.id.in_(moved), case(
        {sid: len(came) - len(left) for sid, (came, left) in moved.items()}, value=CustomerSegment.id, else_=0))


def _batch_probe_statement(tenant_id: int, versions: list[tuple[int, datetime]]):
    """SELECT (segment_id, customer_id) for every segment each of :customer_ids matches."""
    return _PROBES.get(("batch", tenant_id, dialect()), tuple(versions), lambda: _build_batch_probe(tenant_id))


def _build_batch_probe(tenant_id: int):
    segments = list_segments(tenant_id)
    compiler = Compiler(tenant_id, dialect(), None)
    probes = [select(literal(segment.id).label("segment_id"), Customer.id.label("customer_id")).where(
        Customer.tenant_id == tenant_id, among(Customer.id, "customer_ids", dialect()),
        compiler.group(definition_of(segment)))
        for segment in segments]
    return union_all(*probes) if len(probes) > 1 else probes[0]


def refresh_segments_for(tenant_id: int, customer_ids: list[int] | set[int]) -> dict[str, list[tuple[int, int]]]:
    """refresh_customer_segments for many customers at once, in the caller's transaction: one
    statement finds every (segment, customer) pair that matches, one reads the current
    memberships; the difference is inserted and deleted in bulk, and each segment whose
    membership moved is locked, counted and logged once. Returns {"entered": [(segment_id,
    customer_id), ...], "exited": [...]}."""
    ids = sorted(set(customer_ids))
    versions = _versions(tenant_id) if ids else []
    if not versions:
        return {"entered": [], "exited": []}
    lock_customers(tenant_id, ids)  # the same per-customer lock as refresh_customer_segments
    matching = {(row.segment_id, row.customer_id) for row in
                db.session.execute(_batch_probe_statement(tenant_id, versions), {"customer_ids": ids})}
    member = CustomerSegmentMember
    current = {(row.segment_id, row.customer_id) for row in db.session.execute(
        select(member.segment_id, member.customer_id).where(among(member.customer_id, "customer_ids", dialect())),
        {"customer_ids": ids})}
    entered, exited = sorted(matching - current), sorted(current - matching)
    moved: dict[int, tuple[list[int], list[int]]] = {}
    for segment_id, customer_id in entered:
        moved.setdefault(segment_id, ([], []))[0].append(customer_id)
    for segment_id, customer_id in exited:
        moved.setdefault(segment_id, ([], []))[1].append(customer_id)
    _apply_moves(tenant_id, moved, utcnow())
    return {"entered": entered, "exited": exited}


