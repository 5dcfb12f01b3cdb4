"""CRMService: the facade for integrators' Python code (the specification's usage example).

It mirrors the specification's usage (create_segment, create_campaign, send_campaign,
process_trigger, ...). Each method delegates to the module that owns the rule. Nothing
inside the app imports it (the architecture contract in pyproject.toml says so): views,
the API and jobs call those modules themselves.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from webapp.infra.pagination import Page
from webapp.models import Customer, CustomerActivity, CustomerSegment, EmailCampaign
from webapp.services import activities, campaigns, customers, segments, timeline, workflows


class CRMService:
    # --- customers ---------------------------------------------------------------------
    def upsert_customer(self, tenant_id: int, data: dict[str, Any]) -> tuple[Customer, bool]:
        return customers.upsert_customer(tenant_id, data)

    def get_customer(self, tenant_id: int, customer_id: int) -> Customer:
        return customers.get_customer(tenant_id, customer_id)

    def update_customer(self, tenant_id: int, customer_id: int, changes: dict[str, Any]) -> Customer:
        return customers.update_customer(tenant_id, customer_id, changes)

    def delete_customer(self, tenant_id: int, customer_id: int) -> None:
        customers.delete_customer(tenant_id, customer_id)

    def list_customers(self, tenant_id: int, **filters: Any) -> Page:
        return customers.list_customers(tenant_id, **filters)

    def add_tag(self, tenant_id: int, customer_id: int, tag: str) -> Customer:
        return customers.add_tag(tenant_id, customer_id, tag)

    def remove_tag(self, tenant_id: int, customer_id: int, tag: str) -> Customer:
        return customers.remove_tag(tenant_id, customer_id, tag)

    # --- activities --------------------------------------------------------------------
    def log_activity(self, tenant_id: int, activity_type: str, *, customer_id: int | None = None,
                     customer: dict[str, Any] | None = None, properties: dict[str, Any] | None = None,
                     occurred_at: datetime | None = None,
                     idempotency_key: str | None = None) -> tuple[CustomerActivity, bool]:
        return activities.record_activity(tenant_id, activity_type, customer_id=customer_id,
                                          customer=customer, properties=properties,
                                          occurred_at=occurred_at, idempotency_key=idempotency_key)

    def add_note(self, tenant_id: int, customer_id: int, text: str, author: str | None = None) -> CustomerActivity:
        return activities.add_note(tenant_id, customer_id, text, author=author)

    def timeline(self, tenant_id: int, customer_id: int, **filters: Any) -> Page:
        return timeline.timeline(tenant_id, customer_id, **filters)

    # --- segments ----------------------------------------------------------------------
    def create_segment(self, data: dict[str, Any] | None = None, /, **fields: Any) -> CustomerSegment:
        """As in the specification: create_segment({"tenant_id", "name", "conditions", "match"?})
        or the same as keyword arguments."""
        fields = {**(data or {}), **fields}
        return segments.create_segment(fields["tenant_id"], fields["name"], fields["conditions"],
                                       fields.get("match", "all"), fields.get("description"))

    def calculate_segment(self, tenant_id: int, segment_id: int) -> segments.CalculationResult:
        return segments.calculate_segment(tenant_id, segment_id)

    def preview_segment(self, tenant_id: int, conditions: list, match: str = "all") -> dict[str, Any]:
        return segments.preview(tenant_id, conditions, match)

    # --- campaigns ---------------------------------------------------------------------
    def create_campaign(self, data: dict[str, Any] | None = None, /, **fields: Any) -> EmailCampaign:
        """As in the specification: create_campaign({"tenant_id", "segment_id", "name", "subject",
        "content", ...}) or the same as keyword arguments; a draft."""
        fields = {**(data or {}), **fields}
        tenant_id = fields.pop("tenant_id")
        if "content" in fields:
            fields["html_content"] = fields.pop("content")
        return campaigns.create_campaign(tenant_id, fields)

    def send_campaign(self, campaign: EmailCampaign) -> EmailCampaign:
        """Start sending now (asynchronously, through the workers)."""
        return campaigns.send_campaign(campaign.tenant_id, campaign.id)

    def schedule_campaign(self, campaign: EmailCampaign, send_at: datetime) -> EmailCampaign:
        return campaigns.schedule_campaign(campaign.tenant_id, campaign.id, send_at)

    # --- workflows ---------------------------------------------------------------------
    def process_trigger(self, tenant_id: int, type: str, customer: Customer | int,  # noqa: A002 (the spec's name)
                        payload: dict[str, Any] | None = None, *, now: datetime | None = None) -> list[int]:
        """The one entry point of triggers: enroll the customer in every matching active
        workflow, in the caller's transaction (callers inside a unit of work commit it;
        others commit after). Returns the new enrollments' ids."""
        return workflows.process_trigger(tenant_id, type, customer, payload, now=now)

    def create_workflow(self, tenant_id: int, data: dict[str, Any]):
        return workflows.create_workflow(tenant_id, data)

    def add_workflow_step(self, tenant_id: int, workflow_id: int, step_type: str, config: dict[str, Any], *,
                          parent_step_id: int | None = None, branch: int | None = None):
        """A step on the main path, or on path `branch` of the split or wait_for `parent_step_id`."""
        return workflows.add_step(tenant_id, workflow_id, step_type, config, parent_step_id=parent_step_id,
                                  branch=branch)

    def toggle_workflow(self, tenant_id: int, workflow_id: int, active: bool | None = None):
        return workflows.set_active(tenant_id, workflow_id, active)
