"""CSV imports of customers, and the exports the API offers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from webapp.api.schemas.common import Id, QueryModel
from webapp.api.schemas.customers import CustomerOut


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
    status: Literal["uploaded", "queued", "running", "done", "failed"] = Field(
        description="queued again after running (processed_rows above 0): other writes to the same customers "
                    "kept the database busy; it carries on by itself from where it stopped.")
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


class ExportTopic(BaseModel):
    topic_id: int
    topic: str
    subscribed: bool
    their_choice: bool = Field(description="false: the topic's default applies, they never chose.")


class ExportConsent(BaseModel):
    id: int
    what: str = Field(description="A topic's name, or \"all marketing\".")
    topic_id: int | None
    granted: bool
    source: str
    occurred_at: datetime
    ip_address: str | None
    user_agent: str | None
    wording: str | None
    context: str | None


class CustomerExportOut(BaseModel):
    """Everything stored about one customer (data-access requests)."""

    customer: CustomerOut
    activities: list[ExportActivity]
    segments: list[ExportSegment]
    emails: list[ExportEmail]
    topics: list[ExportTopic]
    consent: list[ExportConsent] = Field(description="Every change of consent, oldest first.")
