"""Request and response shapes of the JSON API.

The same models validate requests and generate /api/crm/openapi.json, so the document
cannot drift from the code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from webapp.infra.types import MAX_ID
from webapp.infra.validation import Moment, number_only
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


# --- customers --------------------------------------------------------------------------

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


class CustomerPage(BaseModel):
    data: list[CustomerOut]
    next_cursor: str | None


class CustomerListQuery(PageQuery):
    q: Annotated[str, Field(max_length=200)] | None = Field(default=None, description="Search email and name.")
    tag: Annotated[str, Field(max_length=100)] | None = None


# --- activities -------------------------------------------------------------------------

class CustomerRef(StrictModel):
    email: str | None = Field(default=None, max_length=320)
    external_id: ShortText | None = None
    first_name: ShortText | None = None
    last_name: ShortText | None = None


class ActivityIn(StrictModel):
    customer_id: Id | None = None
    customer: CustomerRef | None = None
    type: Annotated[str, Field(min_length=1, max_length=64)]
    properties: dict[str, Any] = Field(
        default_factory=dict,
        description="For purchase: order_total (number >= 0, required), order_id, currency, "
                    "tickets, event {id, name, starts_at, venue}.")
    occurred_at: Moment | None = Field(default=None, description="ISO 8601 with offset, between 1900 and 2999; "
                                                                 "default now.")
    idempotency_key: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class ActivityOut(BaseModel):
    id: int
    customer_id: int
    type: str
    properties: dict[str, Any]
    occurred_at: datetime
    created_at: datetime
    idempotency_key: str | None


class ActivityPage(BaseModel):
    data: list[ActivityOut]
    next_cursor: str | None


class TimelineQuery(PageQuery):
    type: list[Annotated[str, Field(max_length=64)]] | None = Field(
        default=None, description="One or more types (repeat the parameter or separate with commas).")
    since: Moment | None = Field(default=None, description="ISO 8601 with offset, between 1900 and 2999.")
    until: Moment | None = Field(default=None, description="ISO 8601 with offset, between 1900 and 2999.")


# --- segments ---------------------------------------------------------------------------

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


# --- campaigns --------------------------------------------------------------------------

CampaignStatus = Literal["draft", "scheduled", "sending", "sent", "cancelled"]
LineText = Annotated[str, Field(max_length=300)]


class CampaignIn(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    subject: Annotated[str, Field(min_length=1, max_length=300)]
    content: Annotated[str, Field(min_length=1, max_length=500_000, description="HTML; Jinja personalisation")]
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


class CampaignPage(BaseModel):
    data: list[CampaignOut]
    next_cursor: str | None


class CampaignListQuery(PageQuery):
    status: CampaignStatus | None = None


# --- sending domains ----------------------------------------------------------------------

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


# --- imports and exports ----------------------------------------------------------------

class ImportUpload(BaseModel):
    """multipart/form-data fields of POST /customers/import."""

    file: bytes = Field(description="The CSV file (UTF-8 or Windows-1252; comma, semicolon or tab "
                                    "separated): a header row, then one customer per row.")
    mapping: str | None = Field(default=None, description=(
        'JSON object {"<column>": "<target>"}; targets: email, external_id, first_name, last_name, '
        'tags, total_spent, orders_count, timezone, email_status, attribute (named after the column), '
        'attribute:<name>, ignore. Columns left out are guessed from their header.'))


class CustomerExportQuery(QueryModel):
    segment_id: Id | None = Field(default=None, description="Only this segment's members.")


class ImportOut(BaseModel):
    id: int
    status: Literal["uploaded", "queued", "running", "done", "failed"]
    filename: str
    columns: list[str]
    mapping: dict[str, str] = Field(description="Target of each column.")
    total_rows: int
    processed_rows: int
    created: int
    updated: int
    rejected: int
    error: str | None
    rejected_csv: str = Field(description="URL of the rejected rows with their reasons (CSV).")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ExportActivity(BaseModel):
    id: int
    type: str
    occurred_at: datetime
    created_at: datetime
    properties: dict[str, Any]
    idempotency_key: str | None


class ExportSegment(BaseModel):
    segment_id: int
    segment: str
    since: datetime | None


class ExportEmail(BaseModel):
    campaign_id: int
    campaign: str
    subject: str
    email: str
    status: str
    sent_at: datetime | None


class CustomerExportOut(BaseModel):
    """Everything stored about one customer (data-access requests)."""

    customer: CustomerOut
    activities: list[ExportActivity]
    segments: list[ExportSegment]
    emails: list[ExportEmail]


# --- workflows --------------------------------------------------------------------------

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
