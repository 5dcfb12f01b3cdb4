"""A worker killed with kill -9 in the middle of a workflow's send_email step: the step is
run again by another worker once the claim's lease runs out, and the email, already
committed as sent before its final ".", is not sent a second time."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import AutomationEnrollment, AutomationStepExecution, CampaignRecipient, Tenant
from webapp.services import workflows
from webapp.services.customers import upsert_customer
from webapp.services.workflows.engine import run_due
from webapp.testing import free_port


class SlowToConfirmSink:
    """Keeps every message, and answers the end of its data only after `delay` seconds."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.delay = 60.0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook)
        self.received.append(envelope.original_content or envelope.content)
        await asyncio.sleep(self.delay)
        return "250 2.0.0 Ok: queued"


@pytest.fixture
def slow_sink(app_config):
    sink = SlowToConfirmSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    app_config(MAIL_URL=f"smtp://127.0.0.1:{port}", WORKFLOW_LEASE_SECONDS=1)
    yield sink
    sink.delay = 0
    controller.stop()


def test_a_worker_killed_mid_send_email_step_is_retried_without_a_second_email(tenant_a, slow_sink,
                                                                                worker_processes):
    tenant = db.session.get(Tenant, tenant_a.id)
    tenant.postal_address, tenant.sender_email = "1 Stage Door, Leeds", "hello@alpha.example.com"
    db.session.commit()
    ada, _ = upsert_customer(tenant_a.id, {"email": "ada@example.com", "first_name": "Ada"})
    flow = workflows.create_workflow(tenant_a.id, {"name": "Thanks", "trigger_type": "purchase", "steps": [
        {"type": "send_email", "config": {"subject": "Thanks {{ customer.first_name }}", "content": "<p>Hi</p>"}},
        {"type": "add_tag", "config": {"tag": "thanked"}}]})
    workflows.set_active(tenant_a.id, flow.id, True)
    email_step = workflows.steps_of(flow.id)[0]
    workflows.process_trigger(tenant_a.id, "purchase", ada, {"order_total": 10})
    db.session.commit()  # the enrollment's job goes to Redis after this commit

    worker = worker_processes(WORKFLOW_LEASE_SECONDS=1)
    deadline = time.monotonic() + 30
    while not slow_sink.received:
        assert time.monotonic() < deadline, f"the worker sent nothing:\n{worker.output()}"
        time.sleep(0.05)
    worker.kill()  # the message is in, its "." answered by nobody yet: mid-step

    db.session.expire_all()
    enrollment = db.session.scalars(select(AutomationEnrollment)).one()
    recipient = db.session.scalars(select(CampaignRecipient)).one()
    assert (enrollment.current_step_id, enrollment.claim_token is not None) == (email_step.id, True)
    assert recipient.status == "sent"  # committed before the final "."

    slow_sink.delay = 0
    run_due(now=utcnow() + timedelta(seconds=2))  # the killed worker's lease has run out

    db.session.expire_all()
    enrollment = db.session.get(AutomationEnrollment, enrollment.id)
    assert enrollment.status == "completed"
    assert len(slow_sink.received) == 1
    executions = db.session.scalars(select(AutomationStepExecution).order_by(AutomationStepExecution.id)).all()
    assert [(x.step_type, x.outcome) for x in executions] == [("send_email", "done"), ("add_tag", "done")]
    assert "not sent again" in executions[0].detail
