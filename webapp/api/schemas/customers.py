"""Customers: the upsert, the patch, one customer and the list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from webapp.api.schemas.common import Count, EmailStatus, Id, Money, PageQuery, ShortText, StrictModel, Tag


class CustomerIn(StrictModel):
    """Upsert: found by external_id, else by email; created when neither matches."""

    email: str | None = Field(default=None, max_length=320)
    external_id: ShortText | None = None
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = None
    tags: Annotated[list[Tag], Field(max_length=100)] | None = Field(
        default=None, description="Added to the customer's tags.")
    attributes: dict[str, Any] | None = Field(default=None, description="Merged into the attributes.")
    email_status: EmailStatus | None = None
    total_spent: Money | None = None
    orders_count: Count | None = None
    topics: Annotated[list[Id], Field(max_length=50)] | None = Field(default=None, description=(
        "Topic ids: the customer gets exactly these (each of your topics becomes their explicit choice, "
        "recorded as consent from the API). Omit to leave their topics as they are."))
    signup: bool = Field(default=False, description="Record a signup activity when created.")


class CustomerPatch(StrictModel):
    email: str | None = Field(default=None, max_length=320)
    external_id: ShortText | None = None
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = None
    tags: Annotated[list[Tag], Field(max_length=100)] | None = Field(
        default=None, description="Replaces the customer's tags.")
    attributes: dict[str, Any] | None = Field(
        default=None, description="Merged into the attributes; a null value removes the key.")
    email_status: EmailStatus | None = None
    topics: Annotated[list[Id], Field(max_length=50)] | None = Field(default=None, description=(
        "Topic ids: the customer gets exactly these ([] for none); recorded as consent from the API."))


class CustomerOut(BaseModel):
    id: int
    email: str
    first_name: str | None
    last_name: str | None
    external_id: str | None
    timezone: str | None
    tags: list[str]
    attributes: dict[str, Any]
    email_status: str
    total_spent: float
    orders_count: int
    last_order_at: datetime | None
    created_at: datetime
    updated_at: datetime
    topics: list[int] = Field(description="Ids of the topics they get: their own choice, else the topic's default.")


class CustomerPage(BaseModel):
    data: list[CustomerOut]
    next_cursor: str | None


class CustomerListQuery(PageQuery):
    q: Annotated[str, Field(max_length=200)] | None = Field(default=None, description="Search email and name.")
    tag: Annotated[str, Field(max_length=100)] | None = None
