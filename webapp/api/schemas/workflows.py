"""Workflows, their steps, enrollments and triggers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from webapp.api.schemas.common import Id, PageQuery, QueryModel, StrictModel
from webapp.infra.types import MAX_ID

TriggerType = Literal["purchase", "signup", "event_day", "custom", "segment_entered"]
StepType = Literal["send_email", "wait", "wait_until", "condition", "add_tag", "remove_tag", "update_attribute",
                   "webhook"]
Reentry = Literal["once", "one_at_a_time", "always"]


class StepIn(StrictModel):
    type: StepType
    config: dict[str, Any] = Field(default_factory=dict, description="Per type; see the workflow documentation.")
    position: Annotated[int, Field(ge=0, le=1000)] | None = Field(default=None, description="0 = first; default last.")


class StepPatch(StrictModel):
    config: dict[str, Any]


class StepOut(BaseModel):
    id: int
    type: str
    position: int
    config: dict[str, Any]
    summary: str
    on_step_now: int
    passed: int
    email: dict[str, Any] | None = None


class WorkflowIn(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    trigger_type: TriggerType
    trigger_config: dict[str, Any] | None = None
    reentry: Reentry = "one_at_a_time"
    steps: Annotated[list[StepIn], Field(max_length=50)] | None = None


class WorkflowPatch(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    trigger_type: TriggerType | None = None
    trigger_config: dict[str, Any] | None = None
    reentry: Reentry | None = None


class WorkflowCounts(BaseModel):
    enrolled: int
    active: int
    completed: int
    exited: int
    failed: int


class WorkflowOut(BaseModel):
    id: int
    name: str
    trigger_type: str
    trigger_config: dict[str, Any]
    active: bool
    reentry: str
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
    enrolled_at: datetime
    finished_at: datetime | None
    trace: list[ExecutionOut] | None = None


class EnrollmentPage(BaseModel):
    data: list[EnrollmentOut]
    next_cursor: str | None


class EnrollmentListQuery(PageQuery):
    status: Literal["active", "waiting", "held", "completed", "exited", "failed"] | None = None


class EnrollmentList(BaseModel):
    data: list[EnrollmentOut]


class TriggerIn(StrictModel):
    type: Literal["purchase", "signup", "custom", "segment_entered"]
    customer_id: Id
    payload: dict[str, Any] | None = None


class TriggerOut(BaseModel):
    enrollment_ids: list[int]
