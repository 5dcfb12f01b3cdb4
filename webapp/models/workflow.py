"""Automation workflows, their ordered steps, enrollments (a customer's run through a
workflow) and step executions (the trace of every run)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.infra.types import BigId, JsonDoc, UTCDateTime, utcnow

REENTRY_POLICIES = ("once", "one_at_a_time", "always")
STEP_TYPES = ("send_email", "wait", "wait_until", "condition", "add_tag", "remove_tag", "update_attribute",
              "webhook", "split", "wait_for", "holdout")
# Steps that own paths: a split's paths (0..3) and a wait_for's (0 happened, 1 timed out).
PATH_STEP_TYPES = ("split", "wait_for")
# active: due to run its current step; waiting: on a wait step until next_run_at; held: its
# workflow was switched off; the rest are final (converted: ended by meeting the goal).
ENROLLMENT_STATUSES = ("active", "waiting", "held", "completed", "converted", "exited", "failed")
OPEN_STATUSES = ("active", "waiting", "held")
FINAL_STATUSES = ("completed", "converted", "exited", "failed")
EVENT_REF_LENGTH = 200  # events.external_id


def event_reference(payload: Any) -> str | None:
    """The platform's id of the event a trigger payload names, as purchases read it:
    `event.external_id`, else `event.id` (a string or a whole number, trimmed). Every event
    trigger's payload carries it as `event.id`; None when the payload names no event."""
    info = payload.get("event") if isinstance(payload, dict) else None
    if not isinstance(info, dict):
        return None
    value = info["external_id"] if info.get("external_id") is not None else info.get("id")
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    ref = str(value).strip()
    return ref if 0 < len(ref) <= EVENT_REF_LENGTH else None


def _payload_event_reference(context) -> str | None:
    return event_reference(context.get_current_parameters().get("trigger_payload"))


class AutomationWorkflow(db.Model):
    __tablename__ = "automation_workflows"
    __table_args__ = (
        Index("ix_automation_workflows_tenant_id", "tenant_id", "id"),
        # Triggers look up a tenant's active workflows on every purchase.
        Index("ix_automation_workflows_tenant_active", "tenant_id", "active", "trigger_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    trigger_type: Mapped[str] = mapped_column(String(32))
    trigger_config: Mapped[dict] = mapped_column(JsonDoc, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    reentry: Mapped[str] = mapped_column(String(20), default="one_at_a_time")
    # {conditions, match, within_days}: what counts as a conversion (services/enrollment/goals.py).
    goal: Mapped[dict | None] = mapped_column(JsonDoc)
    # {conditions, match}: who leaves at once, checked before every step.
    exit_conditions: Mapped[dict | None] = mapped_column(JsonDoc)
    # Moves with every change to the workflow or its steps: the trigger cache's key.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AutomationStep(db.Model):
    __tablename__ = "automation_steps"
    __table_args__ = (
        Index("ix_automation_steps_workflow_position", "workflow_id", "position"),
        # A split's or wait_for's paths: deleting the step deletes its paths' steps.
        Index("ix_automation_steps_parent", "parent_step_id", "branch", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("automation_workflows.id", ondelete="CASCADE"))
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    # The split or wait_for step whose path this step is on (NULL: the main path), and which
    # of its paths (split: 0..3; wait_for: 0 happened, 1 timed out). Positions count within a path.
    parent_step_id: Mapped[int | None] = mapped_column(ForeignKey("automation_steps.id", ondelete="CASCADE"))
    branch: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32))
    config: Mapped[dict] = mapped_column(JsonDoc, default=dict)
    # send_email steps own a hidden campaign (kind='workflow'): its recipients and counters
    # track the step's sends like a campaign's.
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("email_campaigns.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AutomationEnrollment(db.Model):
    __tablename__ = "automation_enrollments"
    __table_args__ = (
        # Re-entry: 'once' keeps reentry_key='once' forever, 'one_at_a_time' keeps 'open' until
        # the enrollment ends (then NULL), 'always' uses NULL; NULLs never collide, so the
        # database itself refuses a second enrollment the policy forbids.
        # Customer first: the same index serves a customer's enrollments (their page, the trace).
        UniqueConstraint("customer_id", "workflow_id", "reentry_key", name="uq_automation_enrollments_reentry"),
        # event_day: once per customer per event, however often the scheduler runs. Only
        # where there is a key (NULLs never collide): on PostgreSQL a partial unique index
        # (0037), which a purchase's enrollments, without a key, are not written to; SQLite
        # keeps the whole-table constraint its table was made with.
        Index("uq_automation_enrollments_dedupe", "customer_id", "workflow_id", "dedupe_key", unique=True,
              postgresql_where=text("dedupe_key IS NOT NULL")),
        # The scheduler's scan: due enrollments.
        Index("ix_automation_enrollments_due", "status", "next_run_at"),
        # A workflow's enrollments by status (lists, counts, holding, per-step figures). Few
        # indexes on purpose: each is written by every enrollment a purchase makes.
        Index("ix_automation_enrollments_workflow", "workflow_id", "status", "id"),
        # An event's page: the workflows its purchases and its own triggers set off. Partial:
        # enrollments that name no event (tags, signups, dates) are not written to it.
        Index("ix_automation_enrollments_event", "tenant_id", "event_ref", "workflow_id",
              postgresql_where=text("event_ref IS NOT NULL"), sqlite_where=text("event_ref IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # No foreign key on PostgreSQL (migration 0036): the tenant is the workflow's, and the
    # workflow's and the customer's keys delete the row with its tenant.
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    workflow_id: Mapped[int] = mapped_column(ForeignKey("automation_workflows.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="active")
    # NULL once the enrollment has no step left (completed) or when its step was deleted last.
    current_step_id: Mapped[int | None] = mapped_column(Integer)
    step_entered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    trigger_type: Mapped[str] = mapped_column(String(32))
    trigger_payload: Mapped[dict] = mapped_column(JsonDoc, default=dict)
    reentry_key: Mapped[str | None] = mapped_column(String(20))
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    # event_reference(trigger_payload): written with the enrollment by every path (the
    # set-based INSERTs pass it; an ORM insert takes this default).
    event_ref: Mapped[str | None] = mapped_column(String(EVENT_REF_LENGTH), default=_payload_event_reference)
    # Failed attempts at the current step (reset when a step passes).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    exit_reason: Mapped[str | None] = mapped_column(Text)
    # The paths taken at splits and wait_for steps, in order ("B", "B / happened").
    path: Mapped[str | None] = mapped_column(String(200))
    # On a wait_for step: the activity type awaited (NULL otherwise), so recording an activity
    # finds whom it wakes by the customer's index; awaited_at is when it happened.
    waiting_for: Mapped[str | None] = mapped_column(String(64))
    awaited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the customer met the workflow's goal within its window (any status: completed and
    # held-out enrollments convert too, which makes treated vs held out comparable).
    converted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The goal was already true at entry: not a conversion; cleared once it stops being true,
    # so only a later change that makes it true again counts.
    goal_met_at_entry: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A holdout step put this enrollment in the control group: it got nothing more.
    held_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class WorkflowEnrollmentCount(db.Model):
    """How many enrollments each workflow has per status, as deltas: a workflow's count for a
    status is the sum of its rows. The workflows list, a workflow's page and the API read it
    instead of counting a history that grows with every purchase (362 ms for the list after
    31,000 purchases into fifty workflows).

    Kept by database triggers (migration 0035) on automation_enrollments, so no way of
    enrolling, moving or deleting an enrollment can forget it. Rows are only inserted
    (PostgreSQL) and folded into one per workflow and status by a periodic job
    (kept_counts.fold_kept_counts): concurrent purchases enrolling into the same workflows
    never wait for one another on a counter row. On SQLite each keeps one row.

    On PostgreSQL neither key is checked (migration 0036: a purchase into fifty workflows
    checked a hundred); the fold deletes the rows of deleted workflows."""

    __tablename__ = "workflow_enrollment_counts"
    __table_args__ = (Index("ix_workflow_enrollment_counts_workflow", "workflow_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("automation_workflows.id", ondelete="CASCADE"))
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    enrollments: Mapped[int] = mapped_column(BigInteger)


class AutomationStepExecution(db.Model):
    """One run of one step for one enrollment: the customer's trace."""

    __tablename__ = "automation_step_executions"
    __table_args__ = (
        Index("ix_automation_step_executions_enrollment", "enrollment_id", "id"),
        # A workflow's page counts the enrollments that passed each step from this index
        # alone (0038: the enrollment is in it).
        Index("ix_automation_step_executions_step", "step_id", "outcome", "enrollment_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # No foreign key on PostgreSQL (migration 0036): the enrollment's key deletes the row.
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("automation_enrollments.id", ondelete="CASCADE"))
    # Kept (as NULL) when the step is deleted later: the trace still says what ran.
    step_id: Mapped[int | None] = mapped_column(ForeignKey("automation_steps.id", ondelete="SET NULL"))
    step_type: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # done | waiting | skipped | exited | jumped | failed | retry | held | cancelled
    outcome: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
