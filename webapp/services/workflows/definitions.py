"""Defining workflows: CRUD of workflows and their ordered steps, and activation. Every
change moves the workflow's version (the trigger cache notices); customers on a step that
is removed or moved keep going sensibly (see delete_step, reorder_steps, set_active)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, func, literal, select, update

from webapp.extensions import db
from webapp.infra.errors import Conflict, ValidationFailed
from webapp.infra.queues import after_commit
from webapp.infra.types import UTCDateTime, utcnow
from webapp.models import AutomationEnrollment, AutomationStep, AutomationWorkflow, EmailCampaign, Tenant
from webapp.models.workflow import OPEN_STATUSES, PATH_STEP_TYPES, REENTRY_POLICIES
from webapp.services.campaigns.drafts import compiled_design
from webapp.services.enrollment import closed_reentry_key
from webapp.services.enrollment.goal_criteria import check_criteria
from webapp.services.sending_domains import check_from_address
from webapp.services.tenants import normalise_email
from webapp.services.triggers import check_trigger
from webapp.services.workflows.email_guard import check_email_steps
from webapp.services.workflows.paths import (
    MAIN_PATH,
    PathKey,
    branch_count,
    branch_label,
    descendants,
    next_step,
    on_path,
    path_key,
    same_path_ids,
)
from webapp.services.workflows.reading import get_step, get_workflow, steps_of
from webapp.services.workflows.steps import STEP_TYPES, validate_step
from webapp.services.workflows.steps.send_email import SENDER_FIELDS

MAX_STEPS = 50


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



def _touch(workflow: AutomationWorkflow) -> None:
    """Every change moves the version: the trigger cache notices at the next purchase."""
    workflow.version = (workflow.version or 0) + 1
    workflow.updated_at = utcnow()


def create_workflow(tenant_id: int, data: dict[str, Any]) -> AutomationWorkflow:
    """A new workflow, switched off; steps given here are added in order."""
    name = _name(data.get("name"))
    trigger_type = data.get("trigger_type")
    config = check_trigger(tenant_id, trigger_type, data.get("trigger_config"))
    reentry = _reentry(data.get("reentry") or "one_at_a_time")
    tenant = db.session.get(Tenant, tenant_id)
    steps = data.get("steps") or []
    if len(steps) > MAX_STEPS:
        raise ValidationFailed("steps", f"at most {MAX_STEPS} steps")
    checked = []
    for i, step in enumerate(steps):
        for field in ("parent_step_id", "branch"):
            if step.get(field) is not None:
                raise ValidationFailed(f"steps[{i}].{field}", "steps given with the workflow go on its main path: "
                                                              "add steps on paths afterwards (POST .../steps)")
        try:
            checked.append((step["type"], validate_step(step["type"], step.get("config") or {},
                                                        allowlist=tenant.webhook_allowlist)))
        except ValidationFailed as exc:
            raise ValidationFailed(f"steps[{i}].{exc.field}", exc.reason) from None
        if checked[-1][0] == "condition" and "else_step" in checked[-1][1]:
            raise ValidationFailed(f"steps[{i}].config.else_step", "add the step first, then point at it")
    goal = check_criteria(data.get("goal"), "goal", goal=True)
    exit_conditions = check_criteria(data.get("exit_conditions"), "exit_conditions", goal=False)
    workflow = AutomationWorkflow(tenant_id=tenant_id, name=name, trigger_type=trigger_type, trigger_config=config,
                                  reentry=reentry, active=False, version=1, goal=goal, exit_conditions=exit_conditions)
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
        config = check_trigger(tenant_id, trigger_type, changes.get("trigger_config", {}
                                if trigger_type != workflow.trigger_type else workflow.trigger_config))
    else:
        config = workflow.trigger_config
    reentry = _reentry(changes["reentry"]) if changes.get("reentry") is not None else workflow.reentry
    # null removes the goal or the exit conditions; absent keeps them.
    if "goal" in changes:
        workflow.goal = check_criteria(changes["goal"], "goal", goal=True)
    if "exit_conditions" in changes:
        workflow.exit_conditions = check_criteria(changes["exit_conditions"], "exit_conditions", goal=False)
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

def _email_config(tenant_id: int, config: dict[str, Any]) -> dict[str, Any]:
    """A send_email step's config with its design compiled (brand kit, images) into
    content and its sender checked against the tenant's sending domains."""
    config = dict(config)
    if config.get("design") is not None:
        config["design"], config["content"] = compiled_design(tenant_id, config["design"], "config.design")
    for field in ("from_email", "reply_to"):
        if config.get(field):
            config[field] = normalise_email(config[field], f"config.{field}")
    if config.get("from_email"):
        check_from_address(tenant_id, config["from_email"], "config.from_email")
    return config


def _sync_campaign(campaign: EmailCampaign, config: dict[str, Any]) -> None:
    """The hidden campaign sends what the step says: content, design and sender fields."""
    campaign.subject, campaign.html_content, campaign.design = config["subject"], config["content"], \
        config.get("design")
    for field in SENDER_FIELDS:
        setattr(campaign, field, config.get(field))
    # The frequency cap counts the sent rows of non-transactional campaigns (frequency_cap.py).
    campaign.transactional = bool(config.get("transactional"))


def _hidden_campaign(workflow: AutomationWorkflow, config: dict[str, Any]) -> EmailCampaign:
    campaign = EmailCampaign(tenant_id=workflow.tenant_id, kind="workflow", name=f"Workflow: {workflow.name}"[:200],
                             status="draft")
    _sync_campaign(campaign, config)
    db.session.add(campaign)
    db.session.flush()
    return campaign


def _new_step(workflow: AutomationWorkflow, step_type: str, config: dict[str, Any], position: int,
              path: PathKey = MAIN_PATH) -> AutomationStep:
    if step_type == "send_email":
        config = _email_config(workflow.tenant_id, config)
    step = AutomationStep(workflow_id=workflow.id, tenant_id=workflow.tenant_id, position=position, type=step_type,
                          config=config, parent_step_id=path[0], branch=path[1])
    if step_type == "send_email":
        step.campaign_id = _hidden_campaign(workflow, config).id
    db.session.add(step)
    db.session.flush()
    return step


def _renumber(steps: list[AutomationStep]) -> None:
    for position, step in enumerate(steps):
        if step.position != position:
            step.position = position


def _path(steps: list[AutomationStep], parent_step_id: int | None, branch: int | None) -> PathKey:
    """The path a step goes on: the main path, or a path of one of this workflow's split or
    wait_for steps (ValidationFailed naming parent_step_id or branch otherwise)."""
    if parent_step_id is None:
        if branch is not None:
            raise ValidationFailed("branch", "give parent_step_id too: the split or wait_for step whose path it is")
        return MAIN_PATH
    parent = next((s for s in steps if s.id == parent_step_id), None)
    if parent is None or parent.type not in PATH_STEP_TYPES:
        raise ValidationFailed("parent_step_id", "must be a split or wait_for step of this workflow")
    count = branch_count(parent)
    if branch is None or not 0 <= branch < count:
        raise ValidationFailed("branch", f"must be between 0 and {count - 1} (the paths of step #{parent.id})")
    return parent_step_id, branch


def add_step(tenant_id: int, workflow_id: int, step_type: str, config: dict[str, Any] | None = None,
             position: int | None = None, *, parent_step_id: int | None = None,
             branch: int | None = None) -> AutomationStep:
    """Append a step to a path (the main path, or path `branch` of the split or wait_for
    step `parent_step_id`), or insert it at `position` in that path (0 = first). Without a
    config, the type's default (valid) config is used, for the builder's "Add step"."""
    workflow = get_workflow(tenant_id, workflow_id)
    steps = steps_of(workflow.id)
    if len(steps) >= MAX_STEPS:
        raise ValidationFailed("type", f"a workflow has at most {MAX_STEPS} steps")
    path = _path(steps, parent_step_id, branch)
    tenant = db.session.get(Tenant, tenant_id)
    if config is None:
        entry = STEP_TYPES.get(step_type)
        config = entry.starting_config(tenant) if entry is not None else {}
    config = validate_step(step_type, config, allowlist=tenant.webhook_allowlist,
                           step_ids=same_path_ids(steps, path))
    siblings = on_path(steps, path)
    if position is not None and not 0 <= position <= len(siblings):
        raise ValidationFailed("position", f"must be between 0 and {len(siblings)}")
    step = _new_step(workflow, step_type, config, len(siblings), path)
    if position is not None:
        siblings.insert(position, step)
        _renumber(siblings)
    _touch(workflow)
    db.session.commit()
    return step


def update_step(tenant_id: int, workflow_id: int, step_id: int, config: dict[str, Any]) -> AutomationStep:
    step = get_step(tenant_id, workflow_id, step_id)
    workflow = db.session.get(AutomationWorkflow, step.workflow_id)
    tenant = db.session.get(Tenant, tenant_id)
    steps = steps_of(workflow.id)
    config = validate_step(step.type, config, allowlist=tenant.webhook_allowlist,
                           step_ids=same_path_ids(steps, path_key(step)) - {step.id})
    if step.type == "split":
        _keep_used_paths(step, steps, len(config["paths"]))
    if step.type == "wait_for":
        # Those waiting on it now wait for what it says now.
        db.session.execute(update(AutomationEnrollment).where(
            AutomationEnrollment.current_step_id == step.id, AutomationEnrollment.waiting_for.isnot(None))
            .values(waiting_for=config["activity_type"]).execution_options(synchronize_session=False))
    if step.type == "send_email":
        config = _email_config(tenant_id, config)
    step.config = config
    step.updated_at = utcnow()
    if step.type == "send_email":
        campaign = db.session.get(EmailCampaign, step.campaign_id) if step.campaign_id else None
        if campaign is None:
            step.campaign_id = _hidden_campaign(workflow, config).id
        else:
            _sync_campaign(campaign, config)
    _touch(workflow)
    db.session.commit()
    return step


def _keep_used_paths(step: AutomationStep, steps: list[AutomationStep], count: int) -> None:
    """A split may lose a path only when no step is on it."""
    for branch in range(count, branch_count(step)):
        if on_path(steps, (step.id, branch)):
            raise ValidationFailed("config.paths", f"path {branch_label(step, branch)} has steps: delete them "
                                                   "first, or keep the path")


def delete_step(tenant_id: int, workflow_id: int, step_id: int, *, now: datetime | None = None) -> None:
    """Remove a step, and for a split or wait_for the steps on its paths with it; customers
    on any of them move on to the step after it (or complete when nothing follows), and
    condition steps that jumped to a removed step exit instead."""
    now = now or utcnow()
    step = get_step(tenant_id, workflow_id, step_id)
    workflow = db.session.get(AutomationWorkflow, step.workflow_id)
    steps = steps_of(workflow.id)
    removed = [step, *descendants(steps, step.id)]
    removed_ids = [s.id for s in removed]
    after = next_step(steps, step)
    on_it = and_(AutomationEnrollment.workflow_id == workflow.id, AutomationEnrollment.current_step_id.in_(removed_ids),
                 AutomationEnrollment.status.in_(OPEN_STATUSES))
    if after is not None:
        db.session.execute(update(AutomationEnrollment).where(on_it).values(
            current_step_id=after.id, step_entered_at=now, next_run_at=now, attempts=0, waiting_for=None,
            awaited_at=None, status=case((AutomationEnrollment.status == "held", "held"), else_="active"))
            .execution_options(synchronize_session=False))
    else:
        db.session.execute(update(AutomationEnrollment).where(on_it).values(
            current_step_id=None, status="completed", finished_at=now, next_run_at=None, claim_token=None,
            waiting_for=None, awaited_at=None, reentry_key=closed_reentry_key())
            .execution_options(synchronize_session=False))
    for other in steps:
        if other.type == "condition" and other.config.get("else_step") in removed_ids:
            other.config = {k: v for k, v in other.config.items() if k != "else_step"}
    # Deepest first, so no step outlives its parent even where the database does not cascade.
    for gone in reversed(removed):
        db.session.delete(gone)
        db.session.flush()
    _renumber([s for s in on_path(steps, path_key(step)) if s.id != step.id])
    _touch(workflow)
    _sweep_after_commit()  # customers moved on from the removed step run at once
    db.session.commit()


def reorder_steps(tenant_id: int, workflow_id: int, step_ids: list[int], *, parent_step_id: int | None = None,
                  branch: int | None = None) -> list[AutomationStep]:
    """A path's steps in this order (the main path, or path `branch` of `parent_step_id`);
    customers keep pointing at their step, so the new order applies to the steps they have
    not run yet. Steps stay on their path: moving between paths is delete and add."""
    workflow = get_workflow(tenant_id, workflow_id)
    all_steps = steps_of(workflow.id)
    steps = on_path(all_steps, _path(all_steps, parent_step_id, branch))
    if sorted(step_ids) != sorted(s.id for s in steps) or len(set(step_ids)) != len(step_ids):
        raise ValidationFailed("step_ids", "must list every step of the path exactly once" if parent_step_id
                               else "must list every step of the workflow's main path exactly once")
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
    for n, step in enumerate(steps, 1):
        try:
            validate_step(step.type, step.config, allowlist=tenant.webhook_allowlist,
                          step_ids=same_path_ids(steps, path_key(step)))
        except ValidationFailed as exc:
            raise ValidationFailed("active", f"step {n} ({step.type}) is invalid: {exc.message}") from None
    check_email_steps(workflow.tenant_id, steps)  # the subject, placeholder text and merge tags of each email
    if any(s.type == "send_email" for s in steps) and not (tenant.postal_address or "").strip():
        raise ValidationFailed("active", "set your organisation's postal address in Settings before switching "
                                         "on a workflow that sends email: the law requires it in every message")
    check_trigger(workflow.tenant_id, workflow.trigger_type, workflow.trigger_config)


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
        _sweep_after_commit()  # waits that ran out while it was off go on at once
    db.session.commit()
    return workflow


def _sweep_after_commit() -> None:
    """Once this transaction commits, a sweep runs every enrollment due now."""
    after_commit("workflows.enqueue_due_enrollments", queue="default", job_timeout=1800, result_ttl=60,
                 job_id=f"workflows-due-now-{int(time.time())}")
