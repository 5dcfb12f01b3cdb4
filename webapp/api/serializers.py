"""Model rows to API dictionaries (the *Out schemas)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from webapp.models import (
    CustomerActivity,
    CustomerImport,
    CustomerSegment,
    EmailCampaign,
    SendingDomain,
)
from webapp.services.customers import customer_dict  # noqa: F401 (the API's customer; webhooks send it too)
from webapp.services.sending_domains import record_name, record_value
from webapp.services.workflows.reading import step_figures
from webapp.services.workflows.steps import describe_step


def activity_dict(activity: CustomerActivity) -> dict:
    return {
        "id": activity.id,
        "customer_id": activity.customer_id,
        "type": activity.type,
        "properties": activity.properties or {},
        "occurred_at": _iso(activity.occurred_at),
        "created_at": _iso(activity.created_at),
        "idempotency_key": activity.idempotency_key,
    }


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def segment_dict(segment: CustomerSegment) -> dict:
    return {
        "id": segment.id,
        "name": segment.name,
        "description": segment.description,
        "conditions": segment.conditions,
        "match": segment.match,
        "member_count": segment.member_count,
        "time_relative": segment.time_relative,
        "calculated_at": _iso(segment.calculated_at),
        "created_at": _iso(segment.created_at),
        "updated_at": _iso(segment.updated_at),
    }


def campaign_dict(campaign: EmailCampaign) -> dict:
    return {
        "id": campaign.id,
        "name": campaign.name,
        "subject": campaign.subject,
        "content": campaign.html_content,
        "text_content": campaign.text_content,
        "preheader": campaign.preheader,
        "segment_id": campaign.segment_id,
        "from_name": campaign.from_name,
        "from_email": campaign.from_email,
        "reply_to": campaign.reply_to,
        "status": campaign.status,
        "scheduled_at": _iso(campaign.scheduled_at),
        "started_at": _iso(campaign.started_at),
        "finished_at": _iso(campaign.finished_at),
        "recipients": campaign.recipients_count or 0,
        "sent": campaign.sent_count or 0,
        "failed": campaign.failed_count or 0,
        "skipped": campaign.skipped_count or 0,
        "last_error": campaign.last_error,
        "utm_source": campaign.utm_source,
        "utm_medium": campaign.utm_medium,
        "utm_campaign": campaign.utm_campaign,
        "created_at": _iso(campaign.created_at),
        "updated_at": _iso(campaign.updated_at),
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
        "created_at": _iso(customer_import.created_at),
        "started_at": _iso(customer_import.started_at),
        "finished_at": _iso(customer_import.finished_at),
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
def step_dict(step, counts: dict, figures: dict | None = None) -> dict:
    mine = counts.get(step.id, {})
    return {"id": step.id, "type": step.type, "position": step.position, "config": step.config or {},
            "summary": describe_step(step.type, step.config or {}), "on_step_now": mine.get("now", 0),
            "passed": mine.get("passed", 0), "email": (figures or {}).get(step.campaign_id)}


def workflow_dict(workflow, counts: dict, *, steps=None, step_counts=None) -> dict:
    out = {"id": workflow.id, "name": workflow.name, "trigger_type": workflow.trigger_type,
           "trigger_config": workflow.trigger_config or {}, "active": workflow.active, "reentry": workflow.reentry,
           "counts": counts, "created_at": _iso(workflow.created_at), "updated_at": _iso(workflow.updated_at)}
    if steps is not None:
        figures = step_figures([s.campaign_id for s in steps if s.campaign_id])
        out["steps"] = [step_dict(s, step_counts or {}, figures) for s in steps]
    return out


def enrollment_dict(enrollment, trace=None) -> dict:
    out = {"id": enrollment.id, "workflow_id": enrollment.workflow_id, "customer_id": enrollment.customer_id,
           "status": enrollment.status, "current_step_id": enrollment.current_step_id,
           "next_run_at": _iso(enrollment.next_run_at), "trigger_type": enrollment.trigger_type,
           "trigger_payload": enrollment.trigger_payload or {}, "attempts": enrollment.attempts or 0,
           "last_error": enrollment.last_error, "exit_reason": enrollment.exit_reason,
           "enrolled_at": _iso(enrollment.enrolled_at), "finished_at": _iso(enrollment.finished_at)}
    if trace is not None:
        out["trace"] = [{"step_id": x.step_id, "step_type": x.step_type, "started_at": _iso(x.started_at),
                         "finished_at": _iso(x.finished_at), "outcome": x.outcome, "detail": x.detail}
                        for x in trace]
    return out


def sending_domain_dict(row: SendingDomain) -> dict:
    return {
        "id": row.id,
        "domain": row.domain,
        "status": row.status,
        "verified_at": _iso(row.verified_at),
        "txt_record": {"type": "TXT", "name": record_name(row.domain), "value": record_value(row)},
        "last_checked_at": _iso(row.last_checked_at),
        "last_check_error": row.last_check_error,
        "created_at": _iso(row.created_at),
    }
