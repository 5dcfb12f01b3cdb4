"""Inventory and waitlists (POST /events/{id}/inventory, /events/{id}/waitlist ...)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from webapp.api.schemas.activities import CustomerRef
from webapp.api.schemas.common import Id, PageQuery, StrictModel
from webapp.models import WAITLIST_STATUSES
from webapp.services.events.inventory import InventoryIn
from webapp.services.events.waitlist import MAX_QUANTITY, WaitlistSettings

__all__ = ["InventoryIn", "WaitlistEntryOut", "WaitlistJoinIn", "WaitlistPage", "WaitlistQuery", "WaitlistSettings",
           "WaitlistSettingsOut"]


class WaitlistJoinIn(StrictModel):
    customer_id: Id | None = None
    customer: CustomerRef | None = Field(default=None, description=(
        "Found by external_id, else by email; created from the email when unknown (as activities do)."))
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)] = 1


class WaitlistEntryOut(BaseModel):
    id: int
    event_id: int
    customer_id: int
    email: str
    status: Literal[WAITLIST_STATUSES]  # type: ignore[valid-type]
    position: int | None = Field(description="Place in the queue while waiting (1 = next); null otherwise.")
    quantity: int = Field(description="Tickets wanted.")
    source: Literal["api", "page"]
    joined_at: datetime
    offered_quantity: int | None = Field(description="Tickets held by the offer.")
    offered_at: datetime | None
    expires_at: datetime | None = Field(description="When the offer stops holding its tickets.")
    claimed_at: datetime | None
    ended_at: datetime | None = Field(description="When the offer expired or the customer left.")
    offer_token_sha256: str | None = Field(description=(
        "SHA-256 (hex) of the offer link's token. A claimed offer sends the customer to the event's url with "
        "?waitlist_offer=<token>: hash it and find the entry to honour the offer."))


class WaitlistSettingsOut(BaseModel):
    event_id: int
    join_url: str = Field(description="The hosted page where fans join by email.")
    offer_minutes: int
    counts: dict[str, int] = Field(description="Entries by status, and offer_workflows: active workflows that "
                                                "email an offer (0: offers are made but nobody is told).")


class WaitlistPage(WaitlistSettingsOut):
    data: list[WaitlistEntryOut]
    next_cursor: str | None


class WaitlistQuery(PageQuery):
    status: Literal[WAITLIST_STATUSES] | None = None  # type: ignore[valid-type]
