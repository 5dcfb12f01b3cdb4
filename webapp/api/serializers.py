"""Model rows to API dictionaries (the *Out schemas)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from webapp.infra.pagination import Page
from webapp.infra.types import iso_or_none
from webapp.models import (
    CustomerImport,
    CustomerSegment,
    EmailCampaign,
    SendingDomain,
)
from webapp.services.campaigns.variants import letter, testing, variants_of
from webapp.services.consent import topic_ids_by_customer
from webapp.services.customers import customer_dict  # the API's customer; webhooks send it too
from webapp.services.sending_domains import record_name, record_value


def segment_dict(segment: CustomerSegment) -> dict:
    return {
        "id": segment.id,
        "name": segment.name,
        "description": segment.description,
        "conditions": segment.conditions,
        "match": segment.match,
        "member_count": segment.member_count,
        "time_relative": segment.time_relative,
        "calculated_at": iso_or_none(segment.calculated_at),
        "created_at": iso_or_none(segment.created_at),
        "updated_at": iso_or_none(segment.updated_at),
    }


def campaign_dict(campaign: EmailCampaign) -> dict:
    return {
        "id": campaign.id,
        "name": campaign.name,
        "subject": campaign.subject,
        "content": campaign.html_content,
        "design": campaign.design,
        "text_content": campaign.text_content,
        "preheader": campaign.preheader,
        "segment_id": campaign.segment_id,
        "topic_id": campaign.topic_id,
        "from_name": campaign.from_name,
        "from_email": campaign.from_email,
        "reply_to": campaign.reply_to,
        # "testing": an A/B test's sample is out and its winner not chosen (stored as sending).
        "status": "testing" if testing(campaign) else campaign.status,
        "scheduled_at": iso_or_none(campaign.scheduled_at),
        "local_time": campaign.local_send_time,
        "started_at": iso_or_none(campaign.started_at),
        "finished_at": iso_or_none(campaign.finished_at),
        "recipients": campaign.recipients_count or 0,
        "sent": campaign.sent_count or 0,
        "failed": campaign.failed_count or 0,
        "skipped": campaign.skipped_count or 0,
        "last_error": campaign.last_error,
        "utm_source": campaign.utm_source,
        "utm_medium": campaign.utm_medium,
        "utm_campaign": campaign.utm_campaign,
        "created_at": iso_or_none(campaign.created_at),
        "updated_at": iso_or_none(campaign.updated_at),
        **ab_test_dict(campaign),
    }


def ab_test_dict(campaign: EmailCampaign) -> dict:
    """A campaign's A/B test: its variants and settings ([] and None without one)."""
    if campaign.ab_share_percent is None:
        return {"variants": [], "ab_test": None}
    return {
        "variants": [{"variant": letter(v.position), "subject": v.subject, "preheader": v.preheader,
                      "from_name": v.from_name, "content": v.html_content, "design": v.design}
                     for v in variants_of(campaign.id)],
        "ab_test": {"share_percent": campaign.ab_share_percent, "duration_minutes": campaign.ab_duration_minutes,
                    "metric": campaign.ab_metric, "test_ends_at": iso_or_none(campaign.ab_test_ends_at),
                    "winner": letter(campaign.ab_winner) if campaign.ab_winner is not None else None,
                    "winner_chosen_at": iso_or_none(campaign.ab_winner_chosen_at),
                    "winner_chosen_by": campaign.ab_winner_chosen_by, "verdict": campaign.ab_verdict},
    }


def import_dict(customer_import: CustomerImport, rejected_url: str) -> dict:
    return {
        "id": customer_import.id,
        "status": customer_import.status,
        "filename": customer_import.filename,
        "columns": customer_import.columns,
        "mapping": dict(zip(customer_import.columns, customer_import.mapping, strict=False)),
        "total_rows": customer_import.total_rows,
        "processed_rows": customer_import.processed_rows,
        "created": customer_import.created_count,
        "updated": customer_import.updated_count,
        "rejected": customer_import.rejected_count,
        "error": customer_import.error,
        "rejected_csv": rejected_url,
        "created_at": iso_or_none(customer_import.created_at),
        "started_at": iso_or_none(customer_import.started_at),
        "finished_at": iso_or_none(customer_import.finished_at),
    }


def plain(value: Any) -> Any:
    """Datetimes to ISO 8601 and Decimals to numbers, through dicts and lists."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value
def sending_domain_dict(row: SendingDomain) -> dict:
    return {
        "id": row.id,
        "domain": row.domain,
        "status": row.status,
        "verified_at": iso_or_none(row.verified_at),
        "txt_record": {"type": "TXT", "name": record_name(row.domain), "value": record_value(row)},
        "last_checked_at": iso_or_none(row.last_checked_at),
        "last_check_error": row.last_check_error,
        "created_at": iso_or_none(row.created_at),
    }


def customer_dicts(tenant_id: int, customers: list) -> list[dict[str, Any]]:
    """customer_dict of several customers, their topics read for all of them at once."""
    topics = topic_ids_by_customer(tenant_id, [c.id for c in customers])
    return [customer_dict(c, topics[c.id]) for c in customers]


def customer_page(tenant_id: int, page: Page) -> dict[str, Any]:
    """A page of customers as the API lists them."""
    return {"data": customer_dicts(tenant_id, page.items), "next_cursor": page.next_cursor}
