"""CSV exports, streamed: customers (all or a segment's members), a campaign's recipients,
one customer's own data; and the same customer's data as a dictionary for the JSON API.

Large exports are read in keyset batches (id > last id, LIMIT n) and written a batch at
a time, so neither the rows nor the file are ever all in memory. Every cell goes through
`csv_cell`, which neutralises spreadsheet formulas.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import (
    CampaignRecipient,
    Customer,
    CustomerActivity,
    CustomerSegment,
    CustomerSegmentMember,
    CustomerTag,
    CustomerTopic,
    EmailCampaign,
)
from webapp.services.campaigns import get_campaign
from webapp.services.consent import consent_history, tenant_topics, topic_ids_by_customer
from webapp.services.customers import get_customer
from webapp.services.segments import get_segment

BATCH = 1000
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """One cell as text, with a leading quote if a spreadsheet would read it as a formula."""
    if value is None:
        text = ""
    elif isinstance(value, datetime):
        text = value.isoformat()
    elif isinstance(value, Decimal):
        text = f"{value:.2f}"
    elif isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_stream(header: list[str], rows: Iterable[list[Any]], *, batch: int = 500) -> Iterator[str]:
    """CSV text in pieces of `batch` rows; every CSV we produce goes through here."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_cell(h) for h in header])
    pending = 1
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
        pending += 1
        if pending >= batch:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending or buffer.tell():
        yield buffer.getvalue()


# --- customers ---------------------------------------------------------------------------

CUSTOMER_COLUMNS = ("id", "email", "first_name", "last_name", "external_id", "timezone", "email_status",
                    "total_spent", "orders_count", "last_order_at", "created_at", "updated_at")
# topics: the names of the topics each customer gets, separated by "; " (an import reads them back).
CUSTOMER_HEADER = [*CUSTOMER_COLUMNS, "tags", "attributes", "topics"]


def _tags_by_customer(ids: list[int]) -> dict[int, list[str]]:
    tags: dict[int, list[str]] = {}
    for customer_id, tag in db.session.execute(
            select(CustomerTag.customer_id, CustomerTag.tag).where(CustomerTag.customer_id.in_(ids))
            .order_by(CustomerTag.customer_id, CustomerTag.tag)):
        tags.setdefault(customer_id, []).append(tag)
    return tags


def _customer_rows(tenant_id: int, segment_id: int | None) -> Iterator[list[Any]]:
    table = Customer.__table__
    columns = [table.c[name] for name in CUSTOMER_COLUMNS] + [table.c.attributes]
    after = 0
    names = {topic.id: topic.name for topic in tenant_topics(tenant_id)}
    while True:
        stmt = select(*columns).where(table.c.tenant_id == tenant_id, table.c.id > after)
        if segment_id is not None:
            stmt = stmt.where(table.c.id.in_(select(CustomerSegmentMember.customer_id)
                                             .where(CustomerSegmentMember.segment_id == segment_id)))
        batch = db.session.execute(stmt.order_by(table.c.id).limit(BATCH)).all()
        if not batch:
            return
        tags = _tags_by_customer([row.id for row in batch])
        topics = topic_ids_by_customer(tenant_id, [row.id for row in batch])
        for row in batch:
            values = list(row)
            attributes = values.pop()
            yield [*values, ", ".join(tags.get(row.id, [])), attributes or {},
                   "; ".join(names[topic_id] for topic_id in topics[row.id])]
        after = batch[-1].id
        db.session.commit()  # end the batch's read transaction: a long download holds no snapshot


def export_customers(tenant_id: int, segment_id: int | None = None) -> tuple[str, Iterator[str]]:
    """(filename, CSV pieces) of the tenant's customers, or of one segment's members."""
    name = "customers"
    if segment_id is not None:
        segment = get_segment(tenant_id, segment_id)
        name = f"segment-{segment.id}-members"
    return f"{name}.csv", csv_stream(CUSTOMER_HEADER, _customer_rows(tenant_id, segment_id))


# --- a campaign's recipients ------------------------------------------------------------------

# (header, column) of the recipient export: one list, so engagement columns (opened_at,
# clicked_at, ...) join the export by being added here.
RECIPIENT_COLUMNS: list[tuple[str, Any]] = [
    ("customer_id", CampaignRecipient.customer_id),
    ("email", CampaignRecipient.email),
    ("status", CampaignRecipient.status),
    ("sent_at", CampaignRecipient.sent_at),
    ("attempts", CampaignRecipient.attempts),
    ("error", CampaignRecipient.error),
]


def _recipient_rows(campaign_id: int) -> Iterator[list[Any]]:
    after = 0
    columns = [column for _, column in RECIPIENT_COLUMNS]
    while True:
        batch = db.session.execute(
            select(CampaignRecipient.id, *columns)
            .where(CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.id > after)
            .order_by(CampaignRecipient.id).limit(BATCH)).all()
        if not batch:
            return
        for row in batch:
            yield list(row)[1:]
        after = batch[-1][0]
        db.session.commit()


def export_recipients(tenant_id: int, campaign_id: int) -> tuple[str, Iterator[str]]:
    campaign = get_campaign(tenant_id, campaign_id)
    header = [name for name, _ in RECIPIENT_COLUMNS]
    return f"campaign-{campaign.id}-recipients.csv", csv_stream(header, _recipient_rows(campaign.id))


# --- one customer's own data (data-access requests) -------------------------------------------

def _activities(customer_id: int) -> Iterator[CustomerActivity]:
    after = 0
    while True:
        batch = list(db.session.scalars(
            select(CustomerActivity).where(CustomerActivity.customer_id == customer_id,
                                           CustomerActivity.id > after)
            .order_by(CustomerActivity.id).limit(BATCH)))
        if not batch:
            return
        yield from batch
        after = batch[-1].id


def _profile(customer: Customer) -> dict[str, Any]:
    profile = {name: getattr(customer, name) for name in CUSTOMER_COLUMNS}
    profile["tags"] = customer.tags
    profile["attributes"] = customer.attributes or {}
    return profile


def _emails(customer: Customer) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(EmailCampaign.id, EmailCampaign.name, EmailCampaign.subject, CampaignRecipient.email,
               CampaignRecipient.status, CampaignRecipient.sent_at)
        .join(EmailCampaign, EmailCampaign.id == CampaignRecipient.campaign_id)
        .where(CampaignRecipient.customer_id == customer.id).order_by(CampaignRecipient.id))
    return [{"campaign_id": cid, "campaign": name, "subject": subject, "email": email, "status": status,
             "sent_at": sent_at} for cid, name, subject, email, status, sent_at in rows]


def _segments(customer: Customer) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(CustomerSegment.id, CustomerSegment.name, CustomerSegmentMember.added_at)
        .join(CustomerSegmentMember, CustomerSegmentMember.segment_id == CustomerSegment.id)
        .where(CustomerSegmentMember.customer_id == customer.id).order_by(CustomerSegment.name))
    return [{"segment_id": sid, "segment": name, "since": since} for sid, name, since in rows]


def _activity_dict(activity: CustomerActivity) -> dict[str, Any]:
    return {"id": activity.id, "type": activity.type, "occurred_at": activity.occurred_at,
            "created_at": activity.created_at, "properties": activity.properties or {},
            "idempotency_key": activity.idempotency_key}


def _topics(customer: Customer) -> list[dict[str, Any]]:
    """Each of the tenant's topics: whether they get it, and whether by their own choice."""
    chosen = dict(db.session.execute(select(CustomerTopic.topic_id, CustomerTopic.subscribed).where(
        CustomerTopic.customer_id == customer.id)).all())
    return [{"topic_id": topic.id, "topic": topic.name, "subscribed": chosen.get(topic.id, topic.default_subscribed),
             "their_choice": topic.id in chosen} for topic in tenant_topics(customer.tenant_id)]


def _consent(customer: Customer) -> list[dict[str, Any]]:
    return [{"id": r.id, "what": r.topic_name or "all marketing", "topic_id": r.topic_id, "granted": r.granted,
             "source": r.source, "occurred_at": r.occurred_at, "ip_address": r.ip_address,
             "user_agent": r.user_agent, "wording": r.wording, "context": r.context}
            for r in reversed(consent_history(customer.tenant_id, customer.id, limit=10_000))]


def customer_data(tenant_id: int, customer_id: int) -> dict[str, Any]:
    """Everything stored about one customer: profile, activities, segments, emails, topic
    choices and consent records."""
    customer = get_customer(tenant_id, customer_id)
    return {"customer": _profile(customer),
            "activities": [_activity_dict(a) for a in _activities(customer.id)],
            "segments": _segments(customer), "emails": _emails(customer),
            "topics": _topics(customer), "consent": _consent(customer)}


CUSTOMER_DATA_HEADER = ["record", "id", "type", "at", "field", "value"]


def export_customer_data(tenant_id: int, customer_id: int) -> tuple[str, Iterator[str]]:
    """One customer's data as one CSV table: a `customer` row per field, then one row per
    segment, email and activity (properties as JSON)."""
    customer_id = get_customer(tenant_id, customer_id).id  # NotFound before the download starts

    def rows() -> Iterator[list[Any]]:
        # Loaded again here: the generator runs after the view returned, in a new session.
        customer = get_customer(tenant_id, customer_id)
        for name, value in _profile(customer).items():
            if name == "tags":
                value = ", ".join(value)
            yield ["customer", customer.id, None, None, name, value]
        for seg in _segments(customer):
            yield ["segment", seg["segment_id"], None, seg["since"], "name", seg["segment"]]
        for topic in _topics(customer):
            yield ["topic", topic["topic_id"], "their choice" if topic["their_choice"] else "default", None,
                   topic["topic"], "subscribed" if topic["subscribed"] else "not subscribed"]
        for record in _consent(customer):
            yield ["consent", record["id"], "granted" if record["granted"] else "withdrawn", record["occurred_at"],
                   record["what"], {key: record[key] for key in ("source", "ip_address", "user_agent", "wording",
                                                                  "context")}]
        for mail in _emails(customer):
            yield ["email", mail["campaign_id"], mail["status"], mail["sent_at"], "subject", mail["subject"]]
        for activity in _activities(customer.id):
            yield ["activity", activity.id, activity.type, activity.occurred_at, "properties",
                   activity.properties or {}]

    return f"customer-{customer_id}-data.csv", csv_stream(CUSTOMER_DATA_HEADER, rows())
