"""What the per-process caches of a tenant's workflows and segments are keyed by, read in
one statement once per transaction: the active workflows' key and all workflows' key
(count, sum of versions, latest update: they move with every change), and each segment's
(id, updated_at). A purchase needs all three (triggers, goals, wait_for, the segment
probes); they were two reads. A change of a workflow, step or segment in this session
forgets them, and so do the transaction's end and any statement that may write those tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam, case, event, func, select
from sqlalchemy.orm import ORMExecuteState, Session

from webapp.extensions import db
from webapp.infra.sql import HotStatement
from webapp.models import AutomationStep, AutomationWorkflow, Customer, CustomerSegment
from webapp.services.customer_locks import locking


@dataclass(frozen=True)
class TenantKeys:
    active: tuple  # the active workflows' (count, sum of versions, latest update)
    workflows: tuple  # the same over every workflow, switched on or off
    segments: list[tuple[int, datetime]]  # (id, updated_at) of each segment, by id


def _build(lock: bool = False):
    tenant_id = bindparam("tenant_id", type_=Integer())
    active = AutomationWorkflow.active.is_(True)
    flows = select(func.count(case((active, 1))).label("active_count"),
                   func.coalesce(func.sum(case((active, AutomationWorkflow.version))), 0).label("active_versions"),
                   func.max(case((active, AutomationWorkflow.updated_at))).label("active_updated"),
                   func.count(AutomationWorkflow.id).label("all_count"),
                   func.coalesce(func.sum(AutomationWorkflow.version), 0).label("all_versions"),
                   func.max(AutomationWorkflow.updated_at).label("all_updated")
                   ).where(AutomationWorkflow.tenant_id == tenant_id).subquery("flows")
    # One row per segment with the workflows' aggregate beside it (one row of NULLs when there
    # are no segments): the segments' index on (tenant_id, id) serves it in order.
    columns = [flows, CustomerSegment.id, CustomerSegment.updated_at]
    if lock:
        # Evaluated once (an uncorrelated subquery), before the rows: the row lock a segment
        # refresh takes, in the same round trip.
        columns.append(locking(Customer.id == bindparam("customer_id", type_=Integer())).scalar_subquery())
    return (select(*columns)
            .select_from(flows.outerjoin(CustomerSegment, CustomerSegment.tenant_id == tenant_id))
            .order_by(CustomerSegment.id))


_READ = HotStatement(_build, tenant_id=0)
_READ_LOCKING = HotStatement(lambda: _build(lock=True), tenant_id=0, customer_id=0)
_LOCK = HotStatement(lambda: locking(Customer.id == bindparam("customer_id", type_=Integer())), customer_id=0)
_MEMO = "crm_tenant_keys"  # db.session.info: tenant_id -> TenantKeys, for this transaction
# The execution option of a write to those tables that moves none of the keys (a segment's
# member count, services/segments.count_moved): the memo stays.
KEEPS_KEYS = {"crm_keeps_keys": True}
_TABLES = frozenset({AutomationWorkflow.__tablename__, AutomationStep.__tablename__, CustomerSegment.__tablename__})


def _memo() -> dict[int, TenantKeys]:
    session = db.session()
    if _changes_keyed(session):
        # Not flushed yet: the read that follows flushes it first, as it would without the memo.
        forget(session)
    return session.info.setdefault(_MEMO, {})


def tenant_keys(tenant_id: int) -> TenantKeys:
    memo = _memo()
    if tenant_id not in memo:
        _remember(memo, tenant_id, _READ.rows(tenant_id=tenant_id))
    return memo[tenant_id]


def keys_locking(tenant_id: int, customer_id: int) -> TenantKeys:
    """tenant_keys, with the customer's row locked FOR NO KEY UPDATE on PostgreSQL (what a
    segment refresh holds while it reads and writes the customer's memberships): in the
    same statement when this transaction has not read the keys yet. The lock is taken
    before the statement that follows starts, so that one sees what the lock waited for."""
    if db.session.get_bind().dialect.name != "postgresql":
        return tenant_keys(tenant_id)
    memo = _memo()
    if tenant_id in memo:
        if memo[tenant_id].segments:  # nothing to refresh, nothing to hold
            _LOCK.rows(customer_id=customer_id)
    else:
        _remember(memo, tenant_id, _READ_LOCKING.rows(tenant_id=tenant_id, customer_id=customer_id))
    return memo[tenant_id]


def _remember(memo: dict[int, TenantKeys], tenant_id: int, rows: list[tuple]) -> None:
    first = rows[0]
    memo[tenant_id] = TenantKeys(tuple(first[:3]), tuple(first[3:6]),
                                 [(row[6], row[7]) for row in rows if row[6] is not None])


def forget(session: Session, *_: Any) -> None:
    session.info.pop(_MEMO, None)


def _changes_keyed(session: Session) -> bool:
    return any(isinstance(o, AutomationWorkflow | AutomationStep | CustomerSegment)
               for o in (*session.new, *session.dirty, *session.deleted))


@event.listens_for(Session, "before_flush")
def _forget_on_change(session: Session, *_: Any) -> None:
    if _changes_keyed(session):
        forget(session)


@event.listens_for(Session, "do_orm_execute")
def _forget_on_statement(state: ORMExecuteState) -> None:
    if not state.is_select and _MEMO in state.session.info and not state.execution_options.get("crm_keeps_keys"):
        table = getattr(state.statement, "table", None)
        if table is None or getattr(table, "name", None) in _TABLES:
            forget(state.session)


for _name in ("after_commit", "after_rollback", "after_soft_rollback"):
    event.listen(Session, _name, forget)
