"""The names activities refer to by id (campaigns, segments, workflows, enrollments, the
platform's events as the tenant's purchases name them), read
for a whole page at once: one query per kind, and only the tenant's own rows, so an id
that belongs to another tenant is simply not found (no link, no name)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import (
    AutomationEnrollment,
    AutomationStep,
    AutomationWorkflow,
    CustomerActivity,
    CustomerSegment,
    EmailCampaign,
    Event,
)

_MAX_ID = 2**63 - 1


def an_id(value: Any) -> int | None:
    """An id as stored by the product: a positive int (not a bool, not text)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= _MAX_ID:
        return value
    return None


def ids_in(properties: Any, one: str, many: str | None = None) -> set[int]:
    if not isinstance(properties, dict):
        return set()
    found = {an_id(properties.get(one))}
    if many and isinstance(properties.get(many), list):
        found |= {an_id(v) for v in properties[many]}
    return {i for i in found if i is not None}


@dataclass(frozen=True)
class CampaignName:
    name: str
    # A workflow step's hidden campaign (no report of its own), and the workflow whose
    # send_email step owns it while the step exists.
    of_workflow: bool = False
    workflow_id: int | None = None


@dataclass
class Names:
    campaigns: dict[int, CampaignName] = field(default_factory=dict)
    segments: dict[int, str] = field(default_factory=dict)
    workflows: dict[int, str] = field(default_factory=dict)
    # enrollment id -> its workflow id
    enrollments: dict[int, int] = field(default_factory=dict)
    # the platform's event id -> the event's name, as the tenant's purchases carry it
    events: dict[str, str] = field(default_factory=dict)


def event_ids_in(properties: Any) -> set[str]:
    """The platform's event ids a page view or a scan names (event_id, event.id or event.external_id)."""
    if not isinstance(properties, dict):
        return set()
    event = properties.get("event")
    found = {properties.get("event_id"), event.get("id") if isinstance(event, dict) else None,
             event.get("external_id") if isinstance(event, dict) else None}
    return {str(v) for v in found if isinstance(v, str | int) and not isinstance(v, bool) and 0 < len(str(v)) <= 200}


def lookup_names(tenant_id: int, properties: Iterable[Any]) -> Names:
    """The tenant's names for every id the given properties mention."""
    rows = list(properties)
    names = Names()
    campaign_ids = set().union(*(ids_in(p, "campaign_id") for p in rows))
    segment_ids = set().union(*(ids_in(p, "segment_id") for p in rows))
    workflow_ids = set().union(*(ids_in(p, "workflow_id", "workflow_ids") for p in rows))
    enrollment_ids = set().union(*(ids_in(p, "enrollment_id", "enrollment_ids") for p in rows))
    if campaign_ids:
        for cid, name, kind, workflow_id in db.session.execute(
                select(EmailCampaign.id, EmailCampaign.name, EmailCampaign.kind, AutomationStep.workflow_id)
                .outerjoin(AutomationStep, AutomationStep.campaign_id == EmailCampaign.id)
                .where(EmailCampaign.tenant_id == tenant_id, EmailCampaign.id.in_(campaign_ids))):
            names.campaigns[cid] = CampaignName(name, kind == "workflow", workflow_id if kind == "workflow" else None)
            if kind == "workflow" and workflow_id is not None:
                workflow_ids.add(workflow_id)
    if segment_ids:
        names.segments = dict(db.session.execute(select(CustomerSegment.id, CustomerSegment.name).where(
            CustomerSegment.tenant_id == tenant_id, CustomerSegment.id.in_(segment_ids))).all())
    if enrollment_ids:
        names.enrollments = dict(db.session.execute(
            select(AutomationEnrollment.id, AutomationEnrollment.workflow_id).where(
                AutomationEnrollment.tenant_id == tenant_id, AutomationEnrollment.id.in_(enrollment_ids))).all())
        workflow_ids |= set(names.enrollments.values())
    if event_ids := set().union(*(event_ids_in(p) for p in rows)):
        names.events = event_names(tenant_id, event_ids)
    if workflow_ids:
        names.workflows = dict(db.session.execute(select(AutomationWorkflow.id, AutomationWorkflow.name).where(
            AutomationWorkflow.tenant_id == tenant_id, AutomationWorkflow.id.in_(workflow_ids))).all())
    return names


def event_names(tenant_id: int, event_ids: set[str]) -> dict[str, str]:
    """{platform event id: name}: from the events table (every purchase that names an event
    makes its row), else, for an id only a page view or a scan named, the name one activity
    carries: one row read per such id, never every purchase of the event (a million at a
    busy show)."""
    found = dict(db.session.execute(select(Event.external_id, Event.name).where(
        Event.tenant_id == tenant_id, Event.external_id.in_(event_ids))).all())
    for event_id in sorted(event_ids - set(found)):
        name = db.session.scalar(select(CustomerActivity.event_name).where(
            CustomerActivity.tenant_id == tenant_id, CustomerActivity.event_id == event_id,
            CustomerActivity.event_name.isnot(None)).limit(1))
        if name is not None:
            found[event_id] = name
    return found
