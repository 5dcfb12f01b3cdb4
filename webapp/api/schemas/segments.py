"""Segments: conditions, calculation and preview."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from webapp.api.schemas.common import StrictModel
from webapp.api.schemas.customers import CustomerOut

Match = Literal["all", "any"]
ConditionList = Annotated[list[dict[str, Any]], Field(
    min_length=1, max_length=100,
    description='Items {"type", "operator", "value"} or groups {"match", "conditions"}; '
                'e.g. [{"type": "total_spent", "operator": ">=", "value": 100}, {"type": "tag", "value": "vip"}]')]


class SegmentIn(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    conditions: ConditionList
    match: Match = "all"
    description: Annotated[str, Field(max_length=2000)] | None = None


class SegmentPatch(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    conditions: ConditionList | None = None
    match: Match | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None


class SegmentOut(BaseModel):
    id: int
    name: str
    description: str | None
    conditions: list[dict[str, Any]]
    match: str
    member_count: int
    time_relative: bool
    calculated_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SegmentPage(BaseModel):
    data: list[SegmentOut]
    next_cursor: str | None


class CalculationOut(BaseModel):
    id: int
    member_count: int
    added: int
    removed: int
    calculated_at: datetime


class PreviewIn(StrictModel):
    conditions: ConditionList
    match: Match = "all"


class PreviewOut(BaseModel):
    count: int
    sample: list[CustomerOut]
