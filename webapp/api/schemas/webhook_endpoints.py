"""Outbound webhook endpoints (/webhook-endpoints) and their deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from webapp.api.schemas.common import PageQuery, StrictModel

EventType = Literal["customer.created", "customer.unsubscribed", "customer.bounced", "customer.complained",
                    "email.sent", "email.opened", "email.clicked", "segment.entered", "segment.exited",
                    "workflow.converted", "purchase.attributed"]
EventTypes = Annotated[list[EventType], Field(min_length=1, max_length=50, description=(
    "The events sent to this URL (at least one)."))]
Url = Annotated[str, Field(min_length=1, max_length=2000, description=(
    "https:// (plain http only for hosts in the webhook allowlist in Settings); private addresses are refused "
    "when called unless the operator opened them."))]
Description = Annotated[str, Field(max_length=200)]


class WebhookEndpointIn(StrictModel):
    url: Url
    event_types: EventTypes
    description: Description = ""
    enabled: bool = True


class WebhookEndpointPatch(StrictModel):
    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = Field(default=None, description="true enables again (a fresh failure streak).")


class WebhookEndpointOut(BaseModel):
    id: int
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    consecutive_failures: int = Field(description="Failed attempts in a row (0 after any success).")
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookEndpointCreated(WebhookEndpointOut):
    secret: str = Field(description="The Standard Webhooks signing secret (whsec_...). Only in this response: "
                                    "keep it to verify the webhook-signature header.")


class WebhookEndpointList(BaseModel):
    data: list[WebhookEndpointOut]
    next_cursor: str | None = Field(description="Always null: at most 20 endpoints per organisation.")


class DeliveryQuery(PageQuery):
    status: Literal["pending", "succeeded", "failed"] | None = None


class WebhookDeliveryOut(BaseModel):
    id: int
    endpoint_id: int
    event_type: str
    msg_id: str = Field(description="The webhook-id header: the same on every attempt and resend.")
    payload: dict = Field(description="The body sent: {type, timestamp, data}.")
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_response_ms: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class WebhookDeliveryPage(BaseModel):
    data: list[WebhookDeliveryOut]
    next_cursor: str | None
