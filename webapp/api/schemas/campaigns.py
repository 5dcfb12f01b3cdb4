"""Campaigns: content, scheduling, preview, test sends and statistics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from webapp.api.schemas.common import Id, PageQuery, QueryModel, StrictModel
from webapp.infra.validation import Moment

CampaignStatus = Literal["draft", "scheduled", "sending", "sent", "cancelled"]
LineText = Annotated[str, Field(max_length=300)]
Design = Annotated[dict[str, Any], Field(description=(
    'The email builder\'s block tree, {"version": 1, "blocks": [...]}, instead of content: compiled to '
    "responsive HTML (MJML) when saved. Errors name the path, e.g. design.blocks[3].url."))]


class CampaignIn(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    subject: Annotated[str, Field(min_length=1, max_length=300)]
    content: Annotated[str, Field(min_length=1, max_length=500_000, description=(
        "HTML; Jinja personalisation. Required unless design is given."))] | None = None
    design: Design | None = None
    template_id: int | Annotated[str, Field(max_length=100)] | None = Field(default=None, description='A template\'s id (or "starter:on-sale"): its design or content, subject and preheader are used where the body gives none.')  # noqa: E501
    segment_id: Id | None = None
    from_name: Annotated[str, Field(max_length=200)] | None = None
    from_email: Annotated[str, Field(max_length=320)] | None = Field(
        default=None, description="On one of your sending domains (exactly: news@mail.venue.com needs "
                                  "mail.venue.com), else a 422 naming from_email.")
    reply_to: Annotated[str, Field(max_length=320)] | None = None
    preheader: LineText | None = None
    text_content: Annotated[str, Field(max_length=500_000)] | None = Field(
        default=None, description="Plain-text alternative; derived from the HTML when absent.")
    utm_source: Annotated[str, Field(max_length=100)] | None = Field(
        default=None, description="Appended as utm_source to every tracked link (if the link has none).")
    utm_medium: Annotated[str, Field(max_length=100)] | None = None
    utm_campaign: Annotated[str, Field(max_length=200)] | None = None


class CampaignPatch(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    subject: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    content: Annotated[str, Field(min_length=1, max_length=500_000)] | None = None
    design: Design | None = Field(default=None, description=(
        "A new design; null (with or without content) turns a design campaign into HTML for good."))
    segment_id: Id | None = None
    from_name: Annotated[str, Field(max_length=200)] | None = None
    from_email: Annotated[str, Field(max_length=320)] | None = Field(
        default=None, description="On one of your sending domains (exactly: news@mail.venue.com needs "
                                  "mail.venue.com), else a 422 naming from_email.")
    reply_to: Annotated[str, Field(max_length=320)] | None = None
    preheader: LineText | None = None
    text_content: Annotated[str, Field(max_length=500_000)] | None = None
    utm_source: Annotated[str, Field(max_length=100)] | None = Field(
        default=None, description="Appended as utm_source to every tracked link (if the link has none).")
    utm_medium: Annotated[str, Field(max_length=100)] | None = None
    utm_campaign: Annotated[str, Field(max_length=200)] | None = None


class CampaignOut(BaseModel):
    id: int
    name: str
    subject: str
    content: str
    design: dict[str, Any] | None
    text_content: str | None
    preheader: str | None
    segment_id: int | None
    from_name: str | None
    from_email: str | None
    reply_to: str | None
    status: str
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    recipients: int
    sent: int
    failed: int
    skipped: int
    last_error: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    created_at: datetime
    updated_at: datetime
    warnings: list[str] = Field(default=[], description=(
        "One campaign (get, create, update; not in lists): merge tags that are not fields we know, with the likely one "
        "(\"{{ customer.frist_name }} is not a field we know — did you mean customer.first_name?\")."))


class CampaignPage(BaseModel):
    data: list[CampaignOut]
    next_cursor: str | None


class CampaignListQuery(PageQuery):
    status: CampaignStatus | None = None


class ScheduleIn(StrictModel):
    send_at: Moment = Field(description="ISO 8601 with a timezone offset, in the future (before 3000).")


class CampaignPreviewIn(StrictModel):
    customer_id: Id | None = None


class CampaignPreviewOut(BaseModel):
    subject: str
    html: str
    text: str


class TestSendIn(StrictModel):
    emails: Annotated[list[Annotated[str, Field(max_length=320)]], Field(min_length=1, max_length=10)]
    customer_id: Id | None = None


class TestSendResult(BaseModel):
    email: str
    status: str
    detail: str


class TestSendOut(BaseModel):
    data: list[TestSendResult]


class AllAndHuman(BaseModel):
    all: int
    human: int = Field(description="Without machine hits (Apple MPP, image proxies, scanners, ...).")


class RateAllAndHuman(BaseModel):
    all: float
    human: float


class LinkStats(BaseModel):
    link_id: int
    url: str
    clicks: AllAndHuman
    unique_clicks: AllAndHuman


class HourStats(BaseModel):
    hour: datetime
    opens: AllAndHuman
    clicks: AllAndHuman


class CampaignStats(BaseModel):
    campaign_id: int
    name: str
    status: str
    started_at: datetime | None
    recipients: int
    sent: int
    failed: int
    skipped: int
    remaining: int
    bounced: int
    unsubscribed: int
    opens: AllAndHuman
    unique_opens: AllAndHuman
    clicks: AllAndHuman
    unique_clicks: AllAndHuman
    open_rate: RateAllAndHuman = Field(description="Unique opens / sent.")
    click_rate: RateAllAndHuman = Field(description="Unique clicks / sent.")
    click_to_open_rate: RateAllAndHuman = Field(description="Unique clicks / unique opens.")
    attributed_orders: int
    attributed_revenue: float
    links: list[LinkStats] | None = Field(description="Clicks per link (one campaign only; null in the full list).")
    hourly: list[HourStats] | None = Field(description="Opens and clicks per hour since sending (one campaign only).")


class CampaignStatsList(BaseModel):
    data: list[CampaignStats]


class CampaignStatsQuery(QueryModel):
    campaign_id: Id | None = None


class ChecklistItem(BaseModel):
    key: str = Field(description="audience, postal_address, sender, test_sent, subject, preheader, content, links, "
                                 "alt_text, unsubscribe, image_ratio, merge_tags")
    label: str
    level: Literal["ok", "warning", "blocker"] = Field(
        description="A blocker stops the send from the confirmation page; warnings never do.")
    detail: str


class Checklist(BaseModel):
    data: list[ChecklistItem] = Field(description="Blockers first, then warnings, then what passed.")
