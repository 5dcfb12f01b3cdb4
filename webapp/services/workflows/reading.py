"""Reading workflows: pages, steps, enrollments and their traces, the figures the list,
the builder and the API show (counts per status and per step, the steps' email figures)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.infra.errors import NotFound
from webapp.infra.pagination import Page, keyset_by_id
from webapp.models import (
    AutomationEnrollment,
    AutomationStep,
    AutomationStepExecution,
    AutomationWorkflow,
    CampaignAttribution,
    CampaignEngagementHour,
    Customer,
    EmailCampaign,
    WorkflowEnrollmentCount,
)
from webapp.models.workflow import OPEN_STATUSES
from webapp.services.customers import get_customer
from webapp.services.workflows.paths import ordered_tree


def get_workflow(tenant_id: int, workflow_id: int) -> AutomationWorkflow:
    workflow = db.session.scalar(select(AutomationWorkflow).where(
        AutomationWorkflow.id == workflow_id, AutomationWorkflow.tenant_id == tenant_id))
    if workflow is None:
        raise NotFound("workflow not found")
    return workflow


def steps_of(workflow_id: int) -> list[AutomationStep]:
    """A workflow's steps as they read top to bottom: each split or wait_for step followed
    by its paths' steps, path by path (services/workflows/paths.py)."""
    return ordered_tree(list(db.session.scalars(select(AutomationStep).where(AutomationStep.workflow_id == workflow_id)
                                                .order_by(AutomationStep.position, AutomationStep.id))))


def get_step(tenant_id: int, workflow_id: int, step_id: int) -> AutomationStep:
    workflow = get_workflow(tenant_id, workflow_id)
    step = db.session.scalar(select(AutomationStep).where(AutomationStep.id == step_id,
                                                          AutomationStep.workflow_id == workflow.id))
    if step is None:
        raise NotFound("step not found")
    return step


# Enrollments not over yet (active, waiting or held): "in it now" on the list.
IN_PROGRESS = "in_progress"


def workflows_page(tenant_id: int, *, limit: int = 50, cursor: str | None = None) -> Page:
    stmt = select(AutomationWorkflow).where(AutomationWorkflow.tenant_id == tenant_id)
    return keyset_by_id(stmt, AutomationWorkflow.id, limit=limit, cursor=cursor)


def enrollment_counts(workflow_ids: list[int]) -> dict[int, dict[str, int]]:
    """{workflow_id: {enrolled, active, completed, converted, exited, failed}} (active: the
    open ones; converted: ended by meeting the goal; completed ones that converted later stay
    completed), from the kept counts (WorkflowEnrollmentCount): a sum of a few rows per
    workflow and status, not a count of the workflow's enrollments."""
    counts = {wid: {"enrolled": 0, "active": 0, "completed": 0, "exited": 0, "failed": 0, "converted": 0}
              for wid in workflow_ids}
    if not workflow_ids:
        return counts
    kept = WorkflowEnrollmentCount
    rows = db.session.execute(select(kept.workflow_id, kept.status, func.sum(kept.enrollments))
                              .where(kept.workflow_id.in_(workflow_ids))
                              .group_by(kept.workflow_id, kept.status))
    for wid, status, n in rows:
        bucket = counts[wid]
        bucket["enrolled"] += int(n)
        bucket["active" if status in OPEN_STATUSES else status] += int(n)
    return counts


def step_counts(workflow_id: int) -> dict[int, dict[str, int]]:
    """Per step: customers on it now, and how many passed it (executions that finished)."""
    out: dict[int, dict[str, int]] = {}
    for step_id, n in db.session.execute(
            select(AutomationEnrollment.current_step_id, func.count())
            .where(AutomationEnrollment.workflow_id == workflow_id, AutomationEnrollment.status.in_(OPEN_STATUSES))
            .group_by(AutomationEnrollment.current_step_id)):
        out.setdefault(step_id, {"now": 0, "passed": 0})["now"] = n
    step_ids = select(AutomationStep.id).where(AutomationStep.workflow_id == workflow_id)
    for step_id, n in db.session.execute(
            select(AutomationStepExecution.step_id, func.count(func.distinct(AutomationStepExecution.enrollment_id)))
            .where(AutomationStepExecution.step_id.in_(step_ids),
                   AutomationStepExecution.outcome.in_(("done", "skipped", "jumped")))
            .group_by(AutomationStepExecution.step_id)):
        out.setdefault(step_id, {"now": 0, "passed": 0})["passed"] = n
    return out


def enrollments_page(tenant_id: int, workflow_id: int, *, status: str | None = None, limit: int = 50,
                     cursor: str | None = None) -> Page:
    """A workflow's enrollments, newest first; items are (enrollment, customer) pairs."""
    workflow = get_workflow(tenant_id, workflow_id)
    stmt = select(AutomationEnrollment).where(AutomationEnrollment.workflow_id == workflow.id)
    if status == IN_PROGRESS:
        stmt = stmt.where(AutomationEnrollment.status.in_(OPEN_STATUSES))
    elif status:
        stmt = stmt.where(AutomationEnrollment.status == status)
    page = keyset_by_id(stmt, AutomationEnrollment.id, limit=limit, cursor=cursor)
    ids = {e.customer_id for e in page.items}
    by_id = {c.id: c for c in db.session.scalars(select(Customer).where(Customer.id.in_(ids)))} if ids else {}
    return Page([(e, by_id[e.customer_id]) for e in page.items], page.next_cursor)


def get_enrollment(tenant_id: int, workflow_id: int, enrollment_id: int) -> AutomationEnrollment:
    workflow = get_workflow(tenant_id, workflow_id)
    enrollment = db.session.scalar(select(AutomationEnrollment).where(
        AutomationEnrollment.id == enrollment_id, AutomationEnrollment.workflow_id == workflow.id))
    if enrollment is None:
        raise NotFound("enrollment not found")
    return enrollment


def executions_of(enrollment_ids: list[int]) -> dict[int, list[AutomationStepExecution]]:
    out: dict[int, list[AutomationStepExecution]] = {i: [] for i in enrollment_ids}
    if enrollment_ids:
        for row in db.session.scalars(select(AutomationStepExecution)
                                      .where(AutomationStepExecution.enrollment_id.in_(enrollment_ids))
                                      .order_by(AutomationStepExecution.id)):
            out[row.enrollment_id].append(row)
    return out


def customer_enrollments(tenant_id: int, customer_id: int, *, limit: int = 100) -> list[AutomationEnrollment]:
    """A customer's enrollments, newest first (the customer page and the trace API)."""
    customer = get_customer(tenant_id, customer_id)
    return list(db.session.scalars(select(AutomationEnrollment).where(AutomationEnrollment.customer_id == customer.id)
                                   .order_by(AutomationEnrollment.id.desc()).limit(limit)))


def workflow_names(tenant_id: int, workflow_ids: set[int]) -> dict[int, str]:
    if not workflow_ids:
        return {}
    return dict(db.session.execute(select(AutomationWorkflow.id, AutomationWorkflow.name).where(
        AutomationWorkflow.tenant_id == tenant_id, AutomationWorkflow.id.in_(workflow_ids))).all())



def step_figures(campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """sent/skipped/failed and people's unique opens and clicks of the steps' hidden
    campaigns: counters and hourly rollups, as the campaign report reads them."""
    if not campaign_ids:
        return {}
    hours = CampaignEngagementHour
    engaged = {row[0]: (int(row[1]), int(row[2])) for row in db.session.execute(
        select(hours.campaign_id, func.coalesce(func.sum(hours.human_unique_opens), 0),
               func.coalesce(func.sum(hours.human_unique_clicks), 0))
        .where(hours.campaign_id.in_(campaign_ids)).group_by(hours.campaign_id))}
    out = {}
    for campaign in db.session.scalars(select(EmailCampaign).where(EmailCampaign.id.in_(campaign_ids))):
        opened, clicked = engaged.get(campaign.id, (0, 0))
        out[campaign.id] = {"sent": campaign.sent_count or 0, "skipped": campaign.skipped_count or 0,
                            "failed": campaign.failed_count or 0, "opened": opened, "clicked": clicked}
    return out


def email_figures(tenant_id: int, workflow_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per workflow, over its send_email steps' emails: sent, people's unique opens and clicks
    (each email's first human open or click, summed over its emails) and the revenue of the
    purchases attributed to them (stats.attribute_purchase credits a workflow email's hidden
    campaign like any campaign). One grouped query per figure for all the workflows."""
    out = {wid: {"sent": 0, "opened": 0, "clicked": 0, "revenue": Decimal(0), "orders": 0} for wid in workflow_ids}
    if not workflow_ids:
        return out
    steps = (select(AutomationStep.workflow_id, AutomationStep.campaign_id)
             .where(AutomationStep.tenant_id == tenant_id, AutomationStep.workflow_id.in_(workflow_ids),
                    AutomationStep.campaign_id.isnot(None)).subquery())
    hours = CampaignEngagementHour
    queries = {
        ("sent",): select(steps.c.workflow_id, func.coalesce(func.sum(EmailCampaign.sent_count), 0))
        .join(EmailCampaign, EmailCampaign.id == steps.c.campaign_id),
        ("opened", "clicked"): select(steps.c.workflow_id, func.coalesce(func.sum(hours.human_unique_opens), 0),
                                      func.coalesce(func.sum(hours.human_unique_clicks), 0))
        .join(hours, hours.campaign_id == steps.c.campaign_id),
        ("revenue", "orders"): select(steps.c.workflow_id, func.coalesce(func.sum(CampaignAttribution.amount), 0),
                                      func.count())
        .join(CampaignAttribution, CampaignAttribution.campaign_id == steps.c.campaign_id),
    }
    for names, stmt in queries.items():
        for wid, *values in db.session.execute(stmt.group_by(steps.c.workflow_id)):
            for name, value in zip(names, values, strict=True):
                out[wid][name] = Decimal(str(value)) if name == "revenue" else int(value)
    return out

