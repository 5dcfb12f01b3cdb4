"""Batch ingest: many activities or customers in one request, one result per item."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from webapp.api.schemas.activities import ActivityIn
from webapp.api.schemas.common import StrictModel
from webapp.api.schemas.customers import CustomerIn

MAX_BATCH_ITEMS = 1000


class ActivityBatchIn(StrictModel):
    activities: Annotated[list[ActivityIn], Field(max_length=MAX_BATCH_ITEMS)] = Field(
        description="Up to 1,000 activities, each as POST /activities takes one.")


class CustomerBatchIn(StrictModel):
    customers: Annotated[list[CustomerIn], Field(max_length=MAX_BATCH_ITEMS)] = Field(
        description="Up to 1,000 customers, each as POST /customers takes one.")


class ItemError(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]]


class BatchItemResult(BaseModel):
    index: int = Field(description="The item's position in the request.")
    status: int = Field(description="201 created, 200 already recorded (activities) or updated (customers), "
                                    "the 4xx the item would have had alone, or 503 busy: an activity after a "
                                    "ticket scan the database refused for contention three times, not saved "
                                    "(send it again).")
    id: int | None = None
    error: ItemError | None = None


class BatchOut(BaseModel):
    results: list[BatchItemResult]
