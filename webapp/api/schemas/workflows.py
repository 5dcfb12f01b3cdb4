"""Workflows, their steps, enrollments and triggers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from webapp.api.schemas.common import Id, PageQuery, QueryModel, StrictModel
from webapp.infra.types import MAX_ID
from webapp.services.triggers import TRIGGER_TYPES

TriggerType = Literal[tuple(TRIGGER_TYPES)]  # type: ignore[valid-type]
StepType = Literal["send_email", "wait", "wait_until", "condition", "add_tag", "remove_tag", "update_attribute",
                   "webhook", "split", "wait_for", "holdout"]
Reentry = Literal["once", "one_at_a_time", "always"]


class StepIn(StrictModel):
    type: StepType
    config: dict[str, Any] = Field(default_factory=dict, description="Per type; see the workflow documentation.")
    position: Annotated[int, Field(ge=0, le=1000)] | None = Field(default=None, description="0 = first; default last.")
    parent_step_id: Id | None = Field(default=None, description="The split or wait_for step whose path the step "
                                                                 "goes on; none: the main path.")
    branch: Annotated[int, Field(ge=0, le=3)] | None = Field(
        default=None, description="Which path of the parent: a split's 0..3 (A..D); a wait_for's 0 happened, "
                                  "1 timed out.")


class StepPatch(StrictModel):
    config: dict[str, Any]


class StepOut(BaseModel):
    id: int
    type: str
    parent_step_id: int | None = Field(description="The split or wait_for step whose path this is; null: main path.")
    branch: int | None
    path: str | None = Field(description='The path in words: "B", "happened"; null on the main path.')
    position: int = Field(description="Within its path.")
    config: dict[str, Any]
    summary: str
    on_step_now: int
    passed: int
    email: dict[str, Any] | None = None


GOAL_HELP = ("{conditions, match?: all|any, within_days?: 1..365 (default 30)}: segment conditions, plus "
             '{"type": "purchased_since_entry"}; met within the window after enrollment = converted. null removes it.')
EXIT_HELP = "{conditions, match?: all|any}: segment conditions; met before any step = the customer exits. null removes."


class WorkflowIn(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    trigger_type: TriggerType
    trigger_config: dict[str, Any] | None = None
    reentry: Reentry = "one_at_a_time"
    goal: dict[str, Any] | None = Field(default=None, description=GOAL_HELP)
    exit_conditions: dict[str, Any] | None = Field(default=None, description=EXIT_HELP)
    steps: Annotated[list[StepIn], Field(max_length=50)] | None = None


class WorkflowPatch(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    trigger_type: TriggerType | None = None
    trigger_config: dict[str, Any] | None = None
    reentry: Reentry | None = None
    goal: dict[str, Any] | None = Field(default=None, description=GOAL_HELP)
    exit_conditions: dict[str, Any] | None = Field(default=None, description=EXIT_HELP)


class WorkflowCounts(BaseModel):
    enrolled: int
    active: int
    completed: int
    exited: int
    failed: int
    converted: int


class WorkflowOut(BaseModel):
    id: int
    name: str
    trigger_type: str
    trigger_config: dict[str, Any]
    active: bool
    reentry: str
    goal: dict[str, Any] | None
    exit_conditions: dict[str, Any] | None
    counts: WorkflowCounts
    steps: list[StepOut] | None = None
    created_at: datetime
    updated_at: datetime


class WorkflowPage(BaseModel):
    data: list[WorkflowOut]
    next_cursor: str | None


class DeleteWorkflowQuery(QueryModel):
    force: bool = False


class ToggleIn(StrictModel):
    active: bool


class StepOrderIn(StrictModel):
    step_ids: Annotated[list[Annotated[int, Field(ge=1, le=MAX_ID)]], Field(min_length=1, max_length=50)]
    parent_step_id: Id | None = Field(default=None, description="The path to reorder: a split's or wait_for's "
                                                                 "(with branch); none: the main path.")
    branch: Annotated[int, Field(ge=0, le=3)] | None = None


class EnrollIn(StrictModel):
    customer_ids: Annotated[list[Annotated[int, Field(ge=1, le=MAX_ID)]], Field(min_length=1, max_length=1000)]
    payload: dict[str, Any] | None = None


class EnrollOut(BaseModel):
    enrolled: list[int]
    skipped: list[int]


class ExecutionOut(BaseModel):
    step_id: int | None
    step_type: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    detail: str | None


class EnrollmentOut(BaseModel):
    id: int
    workflow_id: int
    customer_id: int
    status: str
    current_step_id: int | None
    next_run_at: datetime | None
    trigger_type: str
    trigger_payload: dict[str, Any]
    attempts: int
    last_error: str | None
    exit_reason: str | None
    path: str | None = Field(description='The paths taken at splits and wait_for steps: "B", "B / happened".')
    enrolled_at: datetime
    finished_at: datetime | None
    converted_at: datetime | None = Field(description="When the customer met the workflow's goal within its window.")
    goal_met_at_entry: bool = Field(description="The goal was already true at entry (not a conversion).")
    held_out: bool = Field(description="A holdout step put the customer in the control group.")
    trace: list[ExecutionOut] | None = None


class EnrollmentPage(BaseModel):
    data: list[EnrollmentOut]
    next_cursor: str | None


class EnrollmentListQuery(PageQuery):
    status: Literal["active", "waiting", "held", "completed", "exited", "failed", "converted"] | None = None


class EnrollmentList(BaseModel):
    data: list[EnrollmentOut]


class TriggerIn(StrictModel):
    type: Literal["purchase", "signup", "custom", "segment_entered"]
    customer_id: Id
    payload: dict[str, Any] | None = None


class TriggerOut(BaseModel):
    enrollment_ids: list[int]
