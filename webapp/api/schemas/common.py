"""What every resource's shapes share: bounded scalar types, the strict body model, the
error body and the page query."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from webapp.infra.types import MAX_ID
from webapp.infra.validation import number_only
from webapp.models import EMAIL_STATUSES

# Bounds are those of the columns (Numeric(14, 2), integer), so out-of-range input is a
# 422 naming the field rather than a database error.
Money = Annotated[float, Field(ge=0, lt=1e12), BeforeValidator(number_only)]
Count = Annotated[int, Field(ge=0, le=2**31 - 1)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
EmailStatus = Literal[tuple(EMAIL_STATUSES)]  # type: ignore[valid-type]
ShortText = Annotated[str, Field(max_length=200)]
Tag = Annotated[str, Field(min_length=1, max_length=100)]


class StrictModel(BaseModel):
    # Strict: "100" is not a number and 1 is not a string; unknown keys are refused so
    # typos surface instead of being silently ignored.
    model_config = ConfigDict(strict=True, extra="forbid")


# --- errors and pages -------------------------------------------------------------------

class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = []


class ErrorResponse(BaseModel):
    error: ErrorBody


class QueryModel(BaseModel):
    # Query strings are text, so numbers and dates are parsed from it (lax mode).
    model_config = ConfigDict(extra="forbid")


class PageQuery(QueryModel):
    limit: int = Field(default=50, ge=1, le=200, description="Page size, at most 200.")
    cursor: str | None = Field(default=None, description="next_cursor from the previous page.")
