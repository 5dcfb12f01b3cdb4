"""Sending domains and the TXT record that verifies one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from webapp.api.schemas.common import StrictModel


class SendingDomainIn(StrictModel):
    domain: Annotated[str, Field(min_length=1, max_length=253, description="e.g. mail.venue.com")]


class TxtRecord(BaseModel):
    type: Literal["TXT"] = "TXT"
    name: str = Field(description="Where to add it, e.g. _crm.mail.venue.com")
    value: str = Field(description="crm-verification=<token>")


class SendingDomainOut(BaseModel):
    id: int
    domain: str
    status: Literal["unverified", "verified"]
    verified_at: datetime | None
    txt_record: TxtRecord = Field(description="The DNS record that proves the domain is yours.")
    last_checked_at: datetime | None
    last_check_error: str | None = Field(
        description="Why the last check did not verify it: the record was not found, or DNS could not be reached.")
    created_at: datetime


class SendingDomainPage(BaseModel):
    data: list[SendingDomainOut]
    next_cursor: str | None
