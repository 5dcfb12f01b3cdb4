"""Campaigns: content, scheduling, preview, test sends and statistics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from webapp.api.schemas.common import Id, PageQuery, QueryModel, StrictModel
from webapp.infra.validation import Moment

CampaignStatus = Literal["draft", "scheduled", "sending", "sent", "cancelled"]
# "testing": sending, with an A/B test's sample out and its winner not chosen yet.
LineText = Annotated[str, Field(max_length=300)]
Design = Annotated[dict[str, Any], Field(description=(
    'The email builder\'s block tree, {"version": 1, "blocks": [...]}, instead of content: compiled to '
    "responsive HTML (MJML) when saved. Errors name the path, e.g. design.blocks[3].url."))]


class VariantIn(StrictModel):
    subject: Annotated[str, Field(min_length=1, max_length=300)] | None = Field(
        default=None, description="Left out: the campaign's subject.")
    preheader: LineText | None = None
    from_name: Annotated[str, Field(max_length=200)] | None = None
    content: Annotated[str, Field(min_length=1, max_length=500_000)] | None = Field(
        default=None, description="HTML. Left out (with design): the campaign's content.")
    design: Design | None = None


class AbTestIn(StrictModel):
    share_percent: Annotated[int, Field(ge=1, le=100, description=(
        "The share of recipients in the test, split evenly among the variants; the rest get the winner. "
        "100: no remainder, the test is the send."))] = 20
    duration_minutes: Annotated[int, Field(ge=30, le=10080, description=(
        "How long the test runs once its sample is sent (30 minutes to a week)."))] = 240
    metric: Literal["opens", "clicks", "revenue"] = Field(default="opens", description=(
        "What decides the winner: human unique opens, human unique clicks (machine hits never count), "
        "or attributed revenue per recipient. No clear winner: variant A, the control."))


VariantsField = Annotated[list[VariantIn], Field(min_length=2, max_length=4, description=(
    "2 to 4 variants of an A/B test; variant A is the first. A field left out is the campaign's own. "
    "Without ab_test the test takes 20% of recipients, runs 4 hours and goes by human unique opens. "
    "null (on PATCH) removes the test."))]


class CampaignIn(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    subject: Annotated[str, Field(min_length=1, max_length=300)]
    content: Annotated[str, Field(min_length=1, max_length=500_000, description=(
        "HTML; Jinja personalisation. Required unless design is given."))] | None = None
    design: Design | None = None
    template_id: int | Annotated[str, Field(max_length=100)] | None = Field(default=None, description='A template\'s id (or "starter:on-sale"): its design or content, subject and preheader are used where the body gives none.')  # noqa: E501
    segment_id: Id | None = None
    topic_id: Id | None = Field(default=None, description=(
        "Send under this topic: only customers subscribed to it get the campaign. null: all marketing."))
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
    variants: VariantsField | None = None
    ab_test: AbTestIn | None = None


class CampaignPatch(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    subject: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    content: Annotated[str, Field(min_length=1, max_length=500_000)] | None = None
    design: Design | None = Field(default=None, description=(
        "A new design; null (with or without content) turns a design campaign into HTML for good."))
    segment_id: Id | None = None
    topic_id: Id | None = Field(default=None, description=(
        "Send under this topic: only customers subscribed to it get the campaign. null: all marketing."))
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
    variants: VariantsField | None = None
    ab_test: AbTestIn | None = Field(default=None, description=(
        "Alone: change the test's settings (the campaign has variants). null: no test."))


class VariantOut(BaseModel):
    variant: str = Field(description="A, B, C or D.")
    subject: str | None = Field(description="null: the campaign's.")
    preheader: str | None
    from_name: str | None
    content: str | None
    design: dict[str, Any] | None


class AbTestOut(BaseModel):
    share_percent: int
    duration_minutes: int
    metric: str
    test_ends_at: datetime | None = Field(description="Set when the send starts.")
    winner: str | None = Field(description="The winning variant's letter, once chosen.")
    winner_chosen_at: datetime | None
    winner_chosen_by: Literal["auto", "manual"] | None
    verdict: str | None = Field(description="How the winner was chosen, in words.")


class WinnerIn(StrictModel):
    variant: Annotated[str, Field(min_length=1, max_length=1, description="The letter, A to D.")]


class CampaignOut(BaseModel):
    id: int
    name: str
    subject: str
    content: str
    design: dict[str, Any] | None
    text_content: str | None
    preheader: str | None
    segment_id: int | None
    topic_id: int | None
    from_name: str | None
    from_email: str | None
    reply_to: str | None
    status: str
    scheduled_at: datetime | None
    local_time: str | None = Field(default=None, description=(
        "Set when scheduled per_customer_timezone: the wall-clock time each recipient gets it at "
        "(scheduled_at is then when the first wave can start)."))
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
    variants: list[VariantOut] = Field(default=[], description="An A/B test's variants; [] without a test.")
    ab_test: AbTestOut | None = None
    warnings: list[str] = Field(default=[], description=(
        "One campaign (get, create, update; not in lists): merge tags that are not fields we know, with the likely one "
        "(\"{{ customer.frist_name }} is not a field we know — did you mean customer.first_name?\")."))


class CampaignPage(BaseModel):
    data: list[CampaignOut]
    next_cursor: str | None


class CampaignListQuery(PageQuery):
    status: CampaignStatus | None = None


def _wall_clock(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        raise ValueError("is a wall-clock time without an offset, e.g. 2026-12-10T10:00")
    return moment


# A wall-clock time: ISO 8601 without an offset ("2026-12-10T10:00").
WallClock = Annotated[datetime, AfterValidator(_wall_clock)]


class ScheduleIn(StrictModel):
    send_at: Moment | None = Field(default=None, description=(
        "ISO 8601 with a timezone offset, in the future (before 3000). Give this or local_time."))
    local_time: WallClock | None = Field(default=None, description=(
        "A wall-clock time without an offset, e.g. 2026-12-10T10:00: in the organisation's timezone, or with "
        "per_customer_timezone in each recipient's (their timezone, else the organisation's). Give this or "
        "send_at."))
    per_customer_timezone: bool = Field(default=False, description=(
        "With local_time: each recipient gets it when local_time comes in their timezone, in waves. The "
        "campaign starts when that time first comes anywhere (UTC+14); if it has already passed somewhere "
        "then, those recipients get it at once."))


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


class VariantStats(BaseModel):
    variant: str
    sent: int
    unique_opens: int = Field(description="Human unique opens (machine opens never count).")
    unique_clicks: int = Field(description="Human unique clicks.")
    revenue: float = Field(description="Revenue attributed to the variant's recipients.")
    probability_best: float = Field(description="By the test's metric, 0..1.")


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
    complained: int
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
    variants: list[VariantStats] | None = Field(default=None, description="An A/B test's variants; null without one.")
    winner: str | None = Field(default=None, description="The winning variant's letter once chosen, else null.")


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
