"""Workflows: CRUD of workflows and their ordered steps, activation, triggers and
enrollment (set-based, re-entry enforced by unique keys), reading progress and traces.

Running the steps is webapp/services/workflow_engine.py.

Triggers enroll set-based and run no step with effects inline. An enrollment whose
workflow opens with a wait starts on it at once (status, next_run_at and the trace row
written with the enrollment, set-based); any other is due at once and a job is enqueued
after the trigger's transaction commits (the periodic scheduler catches any job Redis
lost). A purchase POST thus pays for a few INSERTs, never for SMTP or a webhook.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    Text,
    and_,
    bindparam,
    case,
    delete,
    event,
    func,
    insert,
    literal,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from webapp.extensions import db
from webapp.infra.errors import Conflict, NotFound, ValidationFailed
from webapp.infra.pagination import Page, keyset_by_id
from webapp.infra.sql import insert_ignoring_duplicates
from webapp.infra.types import UTCDateTime, utcnow
from webapp.infra.validation import parse_moment
from webapp.models import (
    AutomationEnrollment,
    AutomationStep,
    AutomationStepExecution,
    AutomationWorkflow,
    Customer,
    CustomerActivity,
    EmailCampaign,
    Tenant,
)
from webapp.models.workflow import FINAL_STATUSES, OPEN_STATUSES, REENTRY_POLICIES
from webapp.services.workflow_config import DEFAULT_STEP_CONFIG, validate_step, validate_trigger
from webapp.services.workflow_engine import wait_outcome

log = logging.getLogger(__name__)

MAX_STEPS = 50
ENROLL_MANY_MAX = 1000


def _dialect() -> str:
    return db.session.get_bind().dialect.name


# --- reading ----------------------------------------------------------------------------------

def get_workflow(tenant_id: int, workflow_id: int) -> AutomationWorkflow:
    workflow = db.session.scalar(select(AutomationWorkflow).where(
        AutomationWorkflow.id == workflow_id, AutomationWorkflow.tenant_id == tenant_id))
    if workflow is None:
        raise NotFound("workflow not found")
    return workflow


def steps_of(workflow_id: int) -> list[AutomationStep]:
    return list(db.session.scalars(select(AutomationStep).where(AutomationStep.workflow_id == workflow_id)
                                   .order_by(AutomationStep.position, AutomationStep.id)))


def get_step(tenant_id: int, workflow_id: int, step_id: int) -> AutomationStep:
    workflow = get_workflow(tenant_id, workflow_id)
    step = db.session.scalar(select(AutomationStep).where(AutomationStep.id == step_id,
                                                          AutomationStep.workflow_id == workflow.id))
    if step is None:
        raise NotFound("step not found")
    return step


def workflows_page(tenant_id: int, *, limit: int = 50, cursor: str | None = None) -> Page:
    stmt = select(AutomationWorkflow).where(AutomationWorkflow.tenant_id == tenant_id)
    return keyset_by_id(stmt, AutomationWorkflow.id, limit=limit, cursor=cursor)


def enrollment_counts(workflow_ids: list[int]) -> dict[int, dict[str, int]]:
    """{workflow_id: {enrolled, active, completed, exited, failed}} in one grouped query."""
    counts = {wid: {"enrolled": 0, "active": 0, "completed": 0, "exited": 0, "failed": 0} for wid in workflow_ids}
    if not workflow_ids:
        return counts
    rows = db.session.execute(select(AutomationEnrollment.workflow_id, AutomationEnrollment.status, func.count())
                              .where(AutomationEnrollment.workflow_id.in_(workflow_ids))
                              .group_by(AutomationEnrollment.workflow_id, AutomationEnrollment.status))
    for wid, status, n in rows:
        bucket = counts[wid]
        bucket["enrolled"] += n
        bucket["active" if status in OPEN_STATUSES else status] += n
    return counts


def step_counts(workflow_id: int) -> dict[int, dict[str, int]]:
    """Per step: customers on it now, and how many passed it (executions that finished)."""
    out: dict[int, dict[str, int]] = {}
    for step_id, n in db.session.execute(
            select(AutomationEnrollment.current_step_id, func.count())
            .where(AutomationEnrollment.workflow_id == workflow_id, AutomationEnrollment.status.in_(OPEN_STATUSES))
            .group_by(AutomationEnrollment.current_step_id)):
        out.setdefault(step_id, {"now": 0, "passed": 0})["now"] = n
    step_ids = select(AutomationStep.id).where(AutomationStep.workflow_id == workflow_id)
    for step_id, n in db.session.execute(
            select(AutomationStepExecution.step_id, func.count(func.distinct(AutomationStepExecution.enrollment_id)))
            .where(AutomationStepExecution.step_id.in_(step_ids),
                   AutomationStepExecution.outcome.in_(("done", "skipped", "jumped")))
            .group_by(AutomationStepExecution.step_id)):
        out.setdefault(step_id, {"now": 0, "passed": 0})["passed"] = n
    return out


def enrollments_page(tenant_id: int, workflow_id: int, *, status: str | None = None, limit: int = 50,
                     cursor: str | None = None) -> Page:
    """A workflow's enrollments, newest first; items are (enrollment, customer) pairs."""
    workflow = get_workflow(tenant_id, workflow_id)
    stmt = select(AutomationEnrollment).where(AutomationEnrollment.workflow_id == workflow.id)
    if status:
        stmt = stmt.where(AutomationEnrollment.status == status)
    page = keyset_by_id(stmt, AutomationEnrollment.id, limit=limit, cursor=cursor)
    ids = {e.customer_id for e in page.items}
    by_id = {c.id: c for c in db.session.scalars(select(Customer).where(Customer.id.in_(ids)))} if ids else {}
    return Page([(e, by_id[e.customer_id]) for e in page.items], page.next_cursor)


def get_enrollment(tenant_id: int, workflow_id: int, enrollment_id: int) -> AutomationEnrollment:
    workflow = get_workflow(tenant_id, workflow_id)
    enrollment = db.session.scalar(select(AutomationEnrollment).where(
        AutomationEnrollment.id == enrollment_id, AutomationEnrollment.workflow_id == workflow.id))
    if enrollment is None:
        raise NotFound("enrollment not found")
    return enrollment


def executions_of(enrollment_ids: list[int]) -> dict[int, list[AutomationStepExecution]]:
    out: dict[int, list[AutomationStepExecution]] = {i: [] for i in enrollment_ids}
    if enrollment_ids:
        for row in db.session.scalars(select(AutomationStepExecution)
                                      .where(AutomationStepExecution.enrollment_id.in_(enrollment_ids))
                                      .order_by(AutomationStepExecution.id)):
            out[row.enrollment_id].append(row)
    return out


def customer_enrollments(tenant_id: int, customer_id: int, *, limit: int = 100) -> list[AutomationEnrollment]:
    """A customer's enrollments, newest first (the customer page and the trace API)."""
    from webapp.services.customers import get_customer

    customer = get_customer(tenant_id, customer_id)
    return list(db.session.scalars(select(AutomationEnrollment).where(AutomationEnrollment.customer_id == customer.id)
                                   .order_by(AutomationEnrollment.id.desc()).limit(limit)))


def workflow_names(tenant_id: int, workflow_ids: set[int]) -> dict[int, str]:
    if not workflow_ids:
        return {}
    return dict(db.session.execute(select(AutomationWorkflow.id, AutomationWorkflow.name).where(
        AutomationWorkflow.tenant_id == tenant_id, AutomationWorkflow.id.in_(workflow_ids))).all())


# --- writing workflows -----------------------------------------------------------------------------

def _name(value: Any) -> str:
    name = (value or "").strip() if isinstance(value, str) else ""
    if not name:
        raise ValidationFailed("name", "must not be empty")
    if len(name) > 200:
        raise ValidationFailed("name", "at most 200 characters")
    return name


def _reentry(value: Any) -> str:
    if value not in REENTRY_POLICIES:
        raise ValidationFailed("reentry", f"must be one of {', '.join(REENTRY_POLICIES)}")
    return value


def _check_trigger(tenant_id: int, trigger_type: str, config: Any) -> dict[str, Any]:
    out = validate_trigger(trigger_type, config)
    if trigger_type == "segment_entered":
        from webapp.services.segments import get_segment

        try:
            get_segment(tenant_id, out["segment_id"])
        except NotFound:
            raise ValidationFailed("trigger_config.segment_id", "no such segment") from None
    return out


def _touch(workflow: AutomationWorkflow) -> None:
    """Every change moves the version: the trigger cache notices at the next purchase."""
    workflow.version = (workflow.version or 0) + 1
    workflow.updated_at = utcnow()


def create_workflow(tenant_id: int, data: dict[str, Any]) -> AutomationWorkflow:
    """A new workflow, switched off; steps given here are added in order."""
    name = _name(data.get("name"))
    trigger_type = data.get("trigger_type")
    config = _check_trigger(tenant_id, trigger_type, data.get("trigger_config"))
    reentry = _reentry(data.get("reentry") or "one_at_a_time")
    tenant = db.session.get(Tenant, tenant_id)
    steps = data.get("steps") or []
    if len(steps) > MAX_STEPS:
        raise ValidationFailed("steps", f"at most {MAX_STEPS} steps")
    checked = []
    for i, step in enumerate(steps):
        try:
            checked.append((step["type"], validate_step(step["type"], step.get("config") or {},
                                                        allowlist=tenant.webhook_allowlist)))
        except ValidationFailed as exc:
            raise ValidationFailed(f"steps[{i}].{exc.field}", exc.reason) from None
        if checked[-1][0] == "condition" and "else_step" in checked[-1][1]:
            raise ValidationFailed(f"steps[{i}].config.else_step", "add the step first, then point at it")
    workflow = AutomationWorkflow(tenant_id=tenant_id, name=name, trigger_type=trigger_type, trigger_config=config,
                                  reentry=reentry, active=False, version=1)
    db.session.add(workflow)
    db.session.flush()
    for position, (step_type, step_config) in enumerate(checked):
        _new_step(workflow, step_type, step_config, position)
    db.session.commit()
    return workflow


def update_workflow(tenant_id: int, workflow_id: int, changes: dict[str, Any]) -> AutomationWorkflow:
    workflow = get_workflow(tenant_id, workflow_id)
    name = _name(changes["name"]) if "name" in changes else workflow.name
    trigger_type = changes.get("trigger_type") or workflow.trigger_type
    if "trigger_config" in changes or trigger_type != workflow.trigger_type:
        config = _check_trigger(tenant_id, trigger_type, changes.get("trigger_config", {}
                                if trigger_type != workflow.trigger_type else workflow.trigger_config))
    else:
        config = workflow.trigger_config
    reentry = _reentry(changes["reentry"]) if changes.get("reentry") is not None else workflow.reentry
    workflow.name, workflow.trigger_type, workflow.trigger_config = name, trigger_type, config
    workflow.reentry = reentry
    _touch(workflow)
    db.session.commit()
    return workflow


def delete_workflow(tenant_id: int, workflow_id: int, *, force: bool = False) -> None:
    workflow = get_workflow(tenant_id, workflow_id)
    open_count = db.session.scalar(select(func.count()).select_from(AutomationEnrollment).where(
        AutomationEnrollment.workflow_id == workflow.id, AutomationEnrollment.status.in_(OPEN_STATUSES)))
    if open_count and not force:
        raise Conflict(f"{open_count} customers are still in this workflow: switch it off and let them finish, "
                       "or delete with force=true")
    campaign_ids = [s.campaign_id for s in steps_of(workflow.id) if s.campaign_id]
    db.session.execute(delete(AutomationWorkflow).where(AutomationWorkflow.id == workflow.id))
    # The hidden campaigns go too (their recipient rows with them); sent mail stays on timelines.
    if campaign_ids:
        db.session.execute(delete(EmailCampaign).where(EmailCampaign.id.in_(campaign_ids),
                                                       EmailCampaign.kind == "workflow"))
    db.session.commit()


# --- steps -----------------------------------------------------------------------------------------

def _hidden_campaign(workflow: AutomationWorkflow, config: dict[str, Any]) -> EmailCampaign:
    campaign = EmailCampaign(tenant_id=workflow.tenant_id, kind="workflow", name=f"Workflow: {workflow.name}"[:200],
                             subject=config["subject"], html_content=config["content"], status="draft")
    db.session.add(campaign)
    db.session.flush()
    return campaign


def _new_step(workflow: AutomationWorkflow, step_type: str, config: dict[str, Any], position: int) -> AutomationStep:
    step = AutomationStep(workflow_id=workflow.id, tenant_id=workflow.tenant_id, position=position, type=step_type,
                          config=config)
    if step_type == "send_email":
        step.campaign_id = _hidden_campaign(workflow, config).id
    db.session.add(step)
    db.session.flush()
    return step


def _renumber(steps: list[AutomationStep]) -> None:
    for position, step in enumerate(steps):
        if step.position != position:
            step.position = position


def add_step(tenant_id: int, workflow_id: int, step_type: str, config: dict[str, Any] | None = None,
             position: int | None = None) -> AutomationStep:
    """Append a step, or insert it at `position` (0 = first). Without a config, the type's
    default (valid) config is used, for the builder's "Add step"."""
    workflow = get_workflow(tenant_id, workflow_id)
    steps = steps_of(workflow.id)
    if len(steps) >= MAX_STEPS:
        raise ValidationFailed("type", f"a workflow has at most {MAX_STEPS} steps")
    if config is None:
        config = DEFAULT_STEP_CONFIG.get(step_type, {})
    tenant = db.session.get(Tenant, tenant_id)
    config = validate_step(step_type, config, allowlist=tenant.webhook_allowlist, step_ids={s.id for s in steps})
    if position is not None and not 0 <= position <= len(steps):
        raise ValidationFailed("position", f"must be between 0 and {len(steps)}")
    step = _new_step(workflow, step_type, config, len(steps))
    if position is not None:
        steps.insert(position, step)
        _renumber(steps)
    _touch(workflow)
    db.session.commit()
    return step


def update_step(tenant_id: int, workflow_id: int, step_id: int, config: dict[str, Any]) -> AutomationStep:
    step = get_step(tenant_id, workflow_id, step_id)
    workflow = db.session.get(AutomationWorkflow, step.workflow_id)
    tenant = db.session.get(Tenant, tenant_id)
    config = validate_step(step.type, config, allowlist=tenant.webhook_allowlist,
                           step_ids={s.id for s in steps_of(workflow.id)} - {step.id})
    step.config = config
    step.updated_at = utcnow()
    if step.type == "send_email":
        campaign = db.session.get(EmailCampaign, step.campaign_id) if step.campaign_id else None
        if campaign is None:
            step.campaign_id = _hidden_campaign(workflow, config).id
        else:
            campaign.subject, campaign.html_content = config["subject"], config["content"]
    _touch(workflow)
    db.session.commit()
    return step


def delete_step(tenant_id: int, workflow_id: int, step_id: int, *, now: datetime | None = None) -> None:
    """Remove a step; customers on it move on to the next step (or complete when it was
    the last), and condition steps that jumped to it exit instead."""
    now = now or utcnow()
    step = get_step(tenant_id, workflow_id, step_id)
    workflow = db.session.get(AutomationWorkflow, step.workflow_id)
    steps = steps_of(workflow.id)
    later = [s for s in steps if s.position > step.position or (s.position == step.position and s.id > step.id)]
    on_it = and_(AutomationEnrollment.workflow_id == workflow.id, AutomationEnrollment.current_step_id == step.id,
                 AutomationEnrollment.status.in_(OPEN_STATUSES))
    if later:
        db.session.execute(update(AutomationEnrollment).where(on_it).values(
            current_step_id=later[0].id, step_entered_at=now, next_run_at=now, attempts=0,
            status=case((AutomationEnrollment.status == "held", "held"), else_="active"))
            .execution_options(synchronize_session=False))
    else:
        db.session.execute(update(AutomationEnrollment).where(on_it).values(
            current_step_id=None, status="completed", finished_at=now, next_run_at=None, claim_token=None,
            reentry_key=_closed_reentry_key()).execution_options(synchronize_session=False))
    for other in steps:
        if other.type == "condition" and other.config.get("else_step") == step.id:
            other.config = {k: v for k, v in other.config.items() if k != "else_step"}
    db.session.delete(step)
    _renumber([s for s in steps if s.id != step.id])
    _touch(workflow)
    _enqueue_after_commit([])  # customers moved on from the removed step run at once
    db.session.commit()


def reorder_steps(tenant_id: int, workflow_id: int, step_ids: list[int]) -> list[AutomationStep]:
    """The steps in this order; customers keep pointing at their step, so the new order
    applies to the steps they have not run yet."""
    workflow = get_workflow(tenant_id, workflow_id)
    steps = steps_of(workflow.id)
    if sorted(step_ids) != sorted(s.id for s in steps) or len(set(step_ids)) != len(step_ids):
        raise ValidationFailed("step_ids", "must list every step of the workflow exactly once")
    by_id = {s.id: s for s in steps}
    ordered = [by_id[i] for i in step_ids]
    _renumber(ordered)
    _touch(workflow)
    db.session.commit()
    return ordered


# --- activation ------------------------------------------------------------------------------------

def check_activatable(workflow: AutomationWorkflow) -> None:
    steps = steps_of(workflow.id)
    if not steps:
        raise ValidationFailed("active", "add at least one step before switching the workflow on")
    tenant = db.session.get(Tenant, workflow.tenant_id)
    ids = {s.id for s in steps}
    for n, step in enumerate(steps, 1):
        try:
            validate_step(step.type, step.config, allowlist=tenant.webhook_allowlist, step_ids=ids)
        except ValidationFailed as exc:
            raise ValidationFailed("active", f"step {n} ({step.type}) is invalid: {exc.message}") from None
    if any(s.type == "send_email" for s in steps) and not (tenant.postal_address or "").strip():
        raise ValidationFailed("active", "set your organisation's postal address in Settings before switching "
                                         "on a workflow that sends email: the law requires it in every message")
    _check_trigger(workflow.tenant_id, workflow.trigger_type, workflow.trigger_config)


def set_active(tenant_id: int, workflow_id: int, active: bool | None = None, *,
               now: datetime | None = None) -> AutomationWorkflow:
    """Switch on or off (None: flip). Off holds customers where they are; on resumes them,
    and waits that ran out meanwhile continue at once."""
    now = now or utcnow()
    workflow = get_workflow(tenant_id, workflow_id)
    target = (not workflow.active) if active is None else active
    if target == workflow.active:
        return workflow
    if target:
        check_activatable(workflow)
        db.session.execute(update(AutomationEnrollment).where(
            AutomationEnrollment.workflow_id == workflow.id, AutomationEnrollment.status == "held")
            .values(status=case((AutomationEnrollment.next_run_at > literal(now, UTCDateTime), "waiting"),
                                else_="active")).execution_options(synchronize_session=False))
    else:
        db.session.execute(update(AutomationEnrollment).where(
            AutomationEnrollment.workflow_id == workflow.id, AutomationEnrollment.status.in_(("active", "waiting")))
            .values(status="held").execution_options(synchronize_session=False))
    workflow.active = target
    _touch(workflow)
    if target:
        _enqueue_after_commit([])  # waits that ran out while it was off go on at once
    db.session.commit()
    return workflow


# --- triggers and enrollment -----------------------------------------------------------------------

@dataclass(frozen=True)
class ActiveWorkflow:
    id: int
    trigger_type: str
    config: dict
    reentry: str
    first_step_id: int
    first_step_type: str
    first_step_config: dict


# tenant_id -> (key, {trigger_type: [ActiveWorkflow]}). The key (count, sum of versions,
# latest update) of the tenant's active workflows moves with every change, so the cache is
# never stale; checking it is one indexed aggregate instead of loading 50 workflows.
_ACTIVE_CACHE: dict[int, tuple[tuple, dict[str, list[ActiveWorkflow]]]] = {}
_ACTIVE_CACHE_SIZE = 1024


def active_workflows(tenant_id: int, trigger_type: str) -> list[ActiveWorkflow]:
    key = tuple(db.session.execute(
        select(func.count(AutomationWorkflow.id), func.coalesce(func.sum(AutomationWorkflow.version), 0),
               func.max(AutomationWorkflow.updated_at))
        .where(AutomationWorkflow.tenant_id == tenant_id, AutomationWorkflow.active.is_(True))).one())
    if not key[0]:
        return []
    cached = _ACTIVE_CACHE.get(tenant_id)
    if cached is None or cached[0] != key:
        first = (select(AutomationStep.workflow_id, func.min(AutomationStep.position).label("position"))
                 .group_by(AutomationStep.workflow_id).subquery())
        rows = db.session.execute(
            select(AutomationWorkflow.id, AutomationWorkflow.trigger_type, AutomationWorkflow.trigger_config,
                   AutomationWorkflow.reentry, AutomationStep.id, AutomationStep.type, AutomationStep.config)
            .join(first, first.c.workflow_id == AutomationWorkflow.id)
            .join(AutomationStep, and_(AutomationStep.workflow_id == AutomationWorkflow.id,
                                       AutomationStep.position == first.c.position))
            .where(AutomationWorkflow.tenant_id == tenant_id, AutomationWorkflow.active.is_(True))
            .order_by(AutomationWorkflow.id, AutomationStep.id))
        by_type: dict[str, list[ActiveWorkflow]] = {}
        seen: set[int] = set()
        for wid, ttype, config, reentry, step_id, step_type, step_config in rows:
            if wid not in seen:
                seen.add(wid)
                by_type.setdefault(ttype, []).append(ActiveWorkflow(wid, ttype, dict(config or {}), reentry, step_id,
                                                                    step_type, dict(step_config or {})))
        if len(_ACTIVE_CACHE) >= _ACTIVE_CACHE_SIZE:
            _ACTIVE_CACHE.pop(next(iter(_ACTIVE_CACHE)))
        cached = _ACTIVE_CACHE[tenant_id] = (key, by_type)
    return cached[1].get(trigger_type, [])


def matches(workflow: ActiveWorkflow, payload: dict[str, Any]) -> bool:
    config = workflow.config
    if workflow.trigger_type == "purchase":
        total = payload.get("order_total")
        if config.get("min_order_total") is not None:
            if not isinstance(total, int | float) or total < config["min_order_total"]:
                return False
        event = payload.get("event") if isinstance(payload.get("event"), dict) else {}
        if config.get("event_id") is not None and str(event.get("id")) != config["event_id"]:
            return False
        if config.get("event_name") is not None and \
                str(event.get("name") or "").strip().lower() != config["event_name"].strip().lower():
            return False
    if workflow.trigger_type == "segment_entered":
        return payload.get("segment_id") == config.get("segment_id")
    return True


def _closed_reentry_key():
    """An ended enrollment frees 'one_at_a_time' (NULL), 'once' stays taken."""
    return case((AutomationEnrollment.reentry_key == "open", None), else_=AutomationEnrollment.reentry_key)


def _start(workflow: ActiveWorkflow, payload: dict[str, Any], now: datetime
           ) -> tuple[str, datetime, str | None, str | None]:
    """How an enrollment begins: ("waiting", until, the wait's step type, the trace's detail)
    when the workflow opens with a wait that has not run out (the engine's own rule), else
    ("active", now, None, None): due at once, for a worker."""
    if workflow.first_step_type in ("wait", "wait_until"):
        try:
            outcome = wait_outcome(workflow.first_step_type, workflow.first_step_config, entered_at=now,
                                   payload=payload, now=now)
        except (ValueError, TypeError, LookupError, ArithmeticError):
            # A wait saved by an older version that this one cannot read: the enrollment
            # starts due, and the runner fails it with the reason on its row. The purchase
            # (and every other workflow it starts) goes on.
            return "active", now, None, None
        if outcome.kind == "waiting":
            return "waiting", outcome.until, workflow.first_step_type, outcome.detail
    return "active", now, None, None


def _reentry_key(policy: str) -> str | None:
    return {"once": "once", "one_at_a_time": "open"}.get(policy)


def _given_rows(name: str, columns: dict[str, Any], dialect: str):
    """A FROM of rows passed in as one parameter (see _given_rows_params), reading no table:
    unnest() of one array per column on PostgreSQL, json_each() of a JSON list of rows on
    SQLite. The statement's text stays the same whatever the count, so it is prepared once,
    and its plan has no table to misjudge: a prepared INSERT ... SELECT that looked its rows
    up in automation_enrollments kept the seq scan planned while the table was new and empty."""
    if dialect == "postgresql":
        arrays = [bindparam(f"{name}_{column}", type_=postgresql.ARRAY(kind)) for column, kind in columns.items()]
        return func.unnest(*arrays).table_valued(*columns).render_derived(name=name)
    each = func.json_each(bindparam(name, type_=String())).table_valued("value")
    return select(*(func.json_extract(each.c.value, f"$[{i}]").label(column) for i, column in enumerate(columns))
                  ).select_from(each).subquery(name)


def _given_rows_params(name: str, columns: dict[str, Any], rows: list[tuple]) -> dict[str, Any]:
    if _dialect() == "postgresql":
        return {f"{name}_{column}": [row[i] for row in rows] for i, column in enumerate(columns)}
    return {name: json.dumps(rows)}


_CHOSEN = {"workflow_id": Integer(), "step_id": Integer(), "reentry_key": String()}
_STARTED = {"enrollment_id": BigInteger(), "step_id": Integer()}
_ENROLL_COLUMNS = ["tenant_id", "workflow_id", "customer_id", "status", "current_step_id", "step_entered_at",
                   "next_run_at", "trigger_type", "trigger_payload", "reentry_key", "dedupe_key", "attempts",
                   "enrolled_at"]


def _enroll_statement(customers=None):
    """INSERT ... SELECT of one enrollment per chosen workflow (rows of workflow_id, first
    step_id, reentry_key), for the customer :customer_id or every row of `customers` (a
    subquery with a customer_id column). The payload and times are bound once, not once per
    row; the unique keys skip whom the re-entry policy keeps out; RETURNING (id, workflow_id,
    customer_id) of those created. The single-customer form is built once per backend."""
    if customers is None:
        return _enroll_one_statement(_dialect())
    return _build_enroll_statement(_dialect(), customers)


@functools.cache
def _enroll_one_statement(dialect: str):
    return _build_enroll_statement(dialect, None)


def _build_enroll_statement(dialect: str, customers):
    chosen = _given_rows("chosen", _CHOSEN, dialect)
    at = bindparam("now", type_=UTCDateTime())
    customer = bindparam("customer_id", type_=Integer()) if customers is None else customers.c.customer_id
    rows = select(bindparam("tenant_id", type_=Integer()), chosen.c.workflow_id, customer,
                  bindparam("status", type_=String()), chosen.c.step_id, at,
                  bindparam("next_run_at", type_=UTCDateTime()), bindparam("trigger_type", type_=String()),
                  bindparam("payload", type_=AutomationEnrollment.__table__.c.trigger_payload.type),
                  chosen.c.reentry_key, bindparam("dedupe_key", type_=String()), literal_column("0"), at)
    # Every customer into every chosen workflow. The WHERE keeps SQLite from reading ON
    # CONFLICT as a join's ON.
    rows = rows.select_from(chosen if customers is None else chosen.join(customers, true())).where(true())
    enrollments = AutomationEnrollment.__table__
    return insert_ignoring_duplicates(enrollments).from_select(_ENROLL_COLUMNS, rows).returning(
        enrollments.c.id, enrollments.c.workflow_id, enrollments.c.customer_id)


def _record_waits(tenant_id: int, step_type: str, detail: str, started: list[tuple[int, int]],
                  now: datetime) -> None:
    """The trace row of the wait that new enrollments (enrollment id, step id) start on, open
    until the wait is over, as the runner would write it: one INSERT ... SELECT for the lot."""
    db.session.execute(_record_waits_statement(_dialect()), {
        "tenant_id": tenant_id, "step_type": step_type, "now": now, "detail": detail[:2000],
        **_given_rows_params("started", _STARTED, started)})


@functools.cache
def _record_waits_statement(dialect: str):
    given = _given_rows("started", _STARTED, dialect)
    rows = select(bindparam("tenant_id", type_=Integer()), given.c.enrollment_id, given.c.step_id,
                  bindparam("step_type", type_=String()), bindparam("now", type_=UTCDateTime()),
                  literal_column("'waiting'"), bindparam("detail", type_=Text())).select_from(given)
    return insert(AutomationStepExecution.__table__).from_select(
        ["tenant_id", "enrollment_id", "step_id", "step_type", "started_at", "outcome", "detail"], rows)


def _enroll(tenant_id: int, chosen: list[ActiveWorkflow], trigger_type: str, payload: dict[str, Any], now: datetime,
            *, customer_id: int | None = None, customers=None,
            dedupe_key: str | None = None) -> list[tuple[int, int, int]]:
    """Enroll one customer (or each of `customers`) into the `chosen` workflows, in the
    caller's transaction: (enrollment id, workflow id, customer id) of those created.

    Running steps up to the first wait is set-based here: one INSERT ... SELECT per distinct
    start, and enrollments whose workflow opens with a wait start on it, their trace rows
    written by one more INSERT ... SELECT (no job, no worker until the wait is over). The
    rest are due now and go to a worker after commit, one by one, since their steps have
    effects (mail, tags, webhooks)."""
    starts: dict[str, tuple[str, datetime, str | None, str | None]] = {}
    groups: dict[tuple[str, datetime, str | None, str | None], list[ActiveWorkflow]] = {}
    for workflow in chosen:
        # Workflows that open with the same wait (or with no wait) start alike: work it out once.
        key = f"{workflow.first_step_type} {sorted(workflow.first_step_config.items())}" \
            if workflow.first_step_type in ("wait", "wait_until") else ""
        if key not in starts:
            starts[key] = _start(workflow, payload, now)
        groups.setdefault(starts[key], []).append(workflow)
    statement = _enroll_statement(customers)
    first_step = {w.id: w.first_step_id for w in chosen}
    created: list[tuple[int, int, int]] = []
    due: list[int] = []
    for (status, until, step_type, detail), members in groups.items():
        given = [(w.id, w.first_step_id, _reentry_key(w.reentry)) for w in members]
        rows = [tuple(r) for r in db.session.execute(statement, {
            "tenant_id": tenant_id, "customer_id": customer_id, "status": status, "now": now, "next_run_at": until,
            "trigger_type": trigger_type, "payload": payload, "dedupe_key": dedupe_key,
            **_given_rows_params("chosen", _CHOSEN, given)})]
        created += rows
        if step_type is None:
            due += [r[0] for r in rows]
        elif rows:
            _record_waits(tenant_id, step_type, detail, [(r[0], first_step[r[1]]) for r in rows], now)
    if due:
        _enqueue_after_commit(due)
    created.sort(key=lambda r: (r[1], r[0]))
    return created


def _log_enrolled(tenant_id: int, rows: list[tuple[int, int, int]], now: datetime) -> None:
    """workflow_enrolled on each new enrollment's timeline: rows of (enrollment, workflow, customer)."""
    if rows:
        db.session.execute(insert(CustomerActivity.__table__), [
            {"tenant_id": tenant_id, "customer_id": customer_id, "type": "workflow_enrolled",
             "properties": {"workflow_id": workflow_id, "enrollment_id": enrollment_id},
             "occurred_at": now, "created_at": now} for enrollment_id, workflow_id, customer_id in rows])


def process_trigger(tenant_id: int, trigger_type: str, customer: Customer | int, payload: dict[str, Any] | None = None,
                    *, now: datetime | None = None, workflow_ids: set[int] | None = None) -> list[int]:
    """Enroll the customer in every active workflow this trigger matches, in the caller's
    transaction (the caller commits); returns the new enrollments' ids. Re-entry policies
    are unique keys, so a customer the policy forbids is skipped by the INSERT itself."""
    now = now or utcnow()
    payload = dict(payload or {})
    customer_id = customer if isinstance(customer, int) else customer.id
    chosen = [w for w in active_workflows(tenant_id, trigger_type)
              if matches(w, payload) and (workflow_ids is None or w.id in workflow_ids)]
    if not chosen:
        return []
    created = _enroll(tenant_id, chosen, trigger_type, payload, now, customer_id=customer_id)
    ids = [r[0] for r in created]
    if created:
        # One timeline entry for the trigger, however many workflows it started: a purchase
        # matching 50 workflows writes one row here, not 50.
        db.session.execute(insert(CustomerActivity.__table__).values(
            tenant_id=tenant_id, customer_id=customer_id, type="workflow_enrolled",
            properties={"workflow_ids": [r[1] for r in created], "enrollment_ids": ids, "trigger": trigger_type},
            occurred_at=now, created_at=now))
    return ids


def enroll_selected(tenant_id: int, trigger_type: str, customer_ids, payload: dict[str, Any],
                    *, now: datetime | None = None) -> int:
    """Set-based process_trigger for many customers at once (`customer_ids` is a SELECT
    subquery with a customer_id column): one INSERT ... SELECT for all matching workflows."""
    now = now or utcnow()
    chosen = [w for w in active_workflows(tenant_id, trigger_type) if matches(w, payload)]
    if not chosen:
        return 0
    created = _enroll(tenant_id, chosen, trigger_type, payload, now, customers=customer_ids)
    _log_enrolled(tenant_id, created, now)
    return len(created)


def enroll_customers(tenant_id: int, workflow_id: int, customer_ids: list[int],
                     payload: dict[str, Any] | None = None, *, now: datetime | None = None) -> dict[str, list[int]]:
    """Manual enrollment (the UI, the API, the custom trigger) into one active workflow:
    {"enrolled": [customer ids], "skipped": [customer ids the re-entry policy kept out]}."""
    workflow = get_workflow(tenant_id, workflow_id)
    if not workflow.active:
        raise Conflict("switch the workflow on before enrolling customers")
    if not customer_ids:
        raise ValidationFailed("customer_ids", "give at least one customer id")
    if len(customer_ids) > ENROLL_MANY_MAX:
        raise ValidationFailed("customer_ids", f"at most {ENROLL_MANY_MAX} at once")
    wanted = list(dict.fromkeys(customer_ids))
    found = set(db.session.scalars(select(Customer.id).where(Customer.tenant_id == tenant_id, Customer.id.in_(wanted))))
    missing = [c for c in wanted if c not in found]
    if missing:
        raise ValidationFailed("customer_ids", f"no such customer: {missing[0]}")
    active = [w for w in active_workflows(tenant_id, workflow.trigger_type) if w.id == workflow.id]
    if not active:
        raise Conflict("the workflow has no steps to run")
    now = now or utcnow()
    chosen = (select(Customer.id.label("customer_id"))
              .where(Customer.tenant_id == tenant_id, Customer.id.in_(wanted)).subquery())
    created = _enroll(tenant_id, active, "custom", dict(payload or {}), now, customers=chosen)
    _log_enrolled(tenant_id, created, now)
    db.session.commit()
    enrolled = {r[2] for r in created}
    return {"enrolled": [c for c in wanted if c in enrolled], "skipped": [c for c in wanted if c not in enrolled]}


def fire_trigger(tenant_id: int, trigger_type: str, customer_id: int, payload: dict[str, Any] | None = None,
                 *, now: datetime | None = None) -> list[int]:
    """The API's POST /triggers: process_trigger for one of the tenant's customers, committed."""
    from webapp.services.customers import get_customer

    if trigger_type not in ("purchase", "signup", "custom", "segment_entered"):
        raise ValidationFailed("type", "must be one of purchase, signup, custom, segment_entered "
                                       "(event_day fires from the scheduler)")
    customer = get_customer(tenant_id, customer_id)
    ids = process_trigger(tenant_id, trigger_type, customer, payload, now=now)
    db.session.commit()
    return ids


# --- event_day -------------------------------------------------------------------------------------

def _event_starts(tenant_id: int) -> list[tuple[str, str | None, str]]:
    """(event_id, event_name, starts_at text) of every event in the tenant's purchases."""
    starts = CustomerActivity.properties[("event", "starts_at")].as_string()
    return [tuple(r) for r in db.session.execute(
        select(CustomerActivity.event_id, func.max(CustomerActivity.event_name), func.max(starts))
        .where(CustomerActivity.tenant_id == tenant_id, CustomerActivity.type == "purchase",
               CustomerActivity.event_id.isnot(None), starts.isnot(None))
        .group_by(CustomerActivity.event_id))]


def event_fire_time(starts_at: datetime, timezone: str, offset_days: int, hour: int) -> datetime:
    """When an event_day workflow fires for an event: `hour` o'clock in the tenant's
    timezone, on the event's local date plus offset_days."""
    zone = ZoneInfo(timezone or "UTC")
    day = starts_at.astimezone(zone).date() + timedelta(days=offset_days)
    return datetime.combine(day, time(hour), tzinfo=zone)


def enroll_event_day(*, now: datetime | None = None, late_grace: timedelta = timedelta(days=1)) -> int:
    """Periodic: enroll ticket holders of each event whose fire time has come (and is at most
    `late_grace` ago, so a late scheduler still fires). The dedupe key makes it once per
    customer per event however often this runs."""
    now = now or utcnow()
    total = 0
    workflows = db.session.execute(select(AutomationWorkflow.tenant_id, AutomationWorkflow.id).where(
        AutomationWorkflow.active.is_(True), AutomationWorkflow.trigger_type == "event_day")).all()
    tenant_ids = sorted({t for t, _ in workflows})
    for tenant_id in tenant_ids:
        tenant = db.session.get(Tenant, tenant_id)
        events = _event_starts(tenant_id)
        for workflow in active_workflows(tenant_id, "event_day"):
            offset, hour = int(workflow.config.get("offset_days", 0)), int(workflow.config.get("hour", 9))
            for event_id, event_name, starts_text in events:
                # Event times come from purchases' free-form properties: one the calendar
                # cannot hold is skipped, never a failed sweep for every tenant.
                starts_at = parse_moment(starts_text)
                if starts_at is None:
                    continue
                fire_at = event_fire_time(starts_at, tenant.timezone, offset, hour)
                if not fire_at <= now < fire_at + late_grace:
                    continue
                holders = (select(CustomerActivity.customer_id.label("customer_id"))
                           .where(CustomerActivity.tenant_id == tenant_id, CustomerActivity.type == "purchase",
                                  CustomerActivity.event_id == event_id).distinct().subquery())
                payload = {"event": {"id": event_id, "name": event_name, "starts_at": starts_at.isoformat()}}
                created = _enroll(tenant_id, [workflow], "event_day", payload, now, customers=holders,
                                  dedupe_key=f"event:{event_id}"[:200])
                _log_enrolled(tenant_id, created, now)
                total += len(created)
        db.session.commit()
    return total


# --- handing new work to the workers ---------------------------------------------------------------

def _enqueue_after_commit(enrollment_ids: list[int]) -> None:
    """Remember enrollments that are due now; once the transaction commits, a job runs them."""
    pending = db.session.info.setdefault("workflow_due", [])
    pending.append(enrollment_ids)


@event.listens_for(Session, "after_commit")
def _hand_over_due_enrollments(session: Session) -> None:
    batches = session.info.pop("workflow_due", None)
    if not batches:
        return
    ids = [i for batch in batches for i in batch]
    from webapp.tasks.workflows import enqueue_run

    enqueue_run(ids)


@event.listens_for(Session, "after_rollback")
def _forget_due_enrollments(session: Session) -> None:
    session.info.pop("workflow_due", None)


def finished_filter():
    return AutomationEnrollment.status.in_(FINAL_STATUSES)
