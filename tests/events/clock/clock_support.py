"""What the performance-clock tests share: events, purchases, workflows switched on,
reading enrollments back, and an SMTP inbox."""

from __future__ import annotations

import email
from datetime import datetime
from email.message import EmailMessage
from email.policy import default as default_policy

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import AutomationEnrollment, AutomationStepExecution, Event
from webapp.services import workflows
from webapp.services.activities import record_activity
from webapp.services.customers import upsert_customer
from webapp.services.events.catalogue import upsert_event


def customer(tenant_id: int, email: str) -> int:
    return upsert_customer(tenant_id, {"email": email, "first_name": email.split("@")[0].title()})[0].id


def event(tenant_id: int, external_id: str, starts_at: str, **fields) -> Event:
    return upsert_event(tenant_id, {"external_id": external_id, "name": fields.pop("name", f"Show {external_id}"),
                                    "starts_at": starts_at, **fields}).event


def buy(tenant_id: int, customer_id: int, external_id: str, order_id: str, occurred_at: datetime | None = None,
        **properties) -> None:
    record_activity(tenant_id, "purchase", customer_id=customer_id, occurred_at=occurred_at, properties={
        "order_total": 40, "order_id": order_id, "event": {"id": external_id}, **properties})


def workflow(tenant_id: int, trigger: str, config: dict, steps: list[tuple[str, dict]], *,
             reentry: str = "one_at_a_time") -> int:
    created = workflows.create_workflow(tenant_id, {
        "name": f"{trigger} flow", "trigger_type": trigger, "trigger_config": config, "reentry": reentry,
        "steps": [{"type": t, "config": c} for t, c in steps]})
    workflows.set_active(tenant_id, created.id, True)
    return created.id


def enrollments(workflow_id: int) -> list[AutomationEnrollment]:
    db.session.expire_all()
    return list(db.session.scalars(select(AutomationEnrollment).where(AutomationEnrollment.workflow_id == workflow_id)
                                   .order_by(AutomationEnrollment.id)))


def trace(enrollment_id: int) -> list[tuple[str, str, str | None]]:
    return [(x.step_type, x.outcome, x.detail) for x in db.session.scalars(
        select(AutomationStepExecution).where(AutomationStepExecution.enrollment_id == enrollment_id)
        .order_by(AutomationStepExecution.id))]


class Inbox:
    """An aiosmtpd handler keeping every message that arrives."""

    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook)
        self.received.append(envelope.original_content or envelope.content)
        return "250 2.0.0 Ok: queued"

    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(raw, policy=default_policy) for raw in self.received]
