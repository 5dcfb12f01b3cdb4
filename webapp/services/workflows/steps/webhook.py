"""webhook: POST the customer and the trigger to a URL (https, or http for allowlisted hosts)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.infra.outbound import WebhookFailed, WebhookRefused, post_json, url_problem
from webapp.models import AutomationEnrollment, AutomationStep, Customer
from webapp.services.customers import customer_dict
from webapp.services.enrollment.waits import Outcome
from webapp.services.workflows.steps.base import FormField, FormValues, RunContext, StepFailed, StepType, Strict


class WebhookStep(Strict):
    url: Annotated[str, Field(min_length=1, max_length=2000)]


def check(out: dict[str, Any], *, allowlist: str | None, step_ids: set[int] | None) -> dict[str, Any]:
    check_webhook_url(out["url"], allowlist)
    return out


def check_webhook_url(url: str, allowlist: str | None) -> None:
    problem = url_problem(url, allowlist)
    if problem:
        raise ValidationFailed("config.url", problem)


def from_form(form: FormValues) -> dict[str, Any]:
    return {"url": (form.get("url") or "").strip()}


def handle(runner: RunContext, enrollment: AutomationEnrollment, step: AutomationStep, config: dict) -> Outcome:
    customer = db.session.get(Customer, enrollment.customer_id)
    workflow, _ = runner.workflow_steps(enrollment.workflow_id)
    body = {"event": "workflow.step", "workflow": {"id": workflow.id, "name": workflow.name},
            "step_id": step.id, "enrollment_id": enrollment.id, "customer": customer_dict(customer),
            "trigger": {"type": enrollment.trigger_type, "payload": enrollment.trigger_payload or {}},
            "sent_at": runner.now.isoformat()}
    # End the read transaction first: nothing stays locked while the remote server thinks.
    db.session.commit()
    try:
        answer = post_json(config["url"], body, allowlist=runner.tenant(enrollment.tenant_id).webhook_allowlist)
    except WebhookRefused as exc:
        raise StepFailed(f"webhook refused: {exc}", retry=False) from None
    except WebhookFailed as exc:
        raise StepFailed(f"webhook failed: {exc}") from None
    return Outcome("done", f"POST {config['url']}: {answer}")


STEP = StepType(
    name="webhook", label="Webhook", model=WebhookStep, check=check, describe=lambda cfg: f"POST to {cfg.get('url')}",
    default_config={"url": "https://example.com/hooks/crm"},
    form=(FormField("url", "URL (https)", lambda cfg: cfg.get("url"), input_type="url"),),
    from_form=from_form, handle=handle)
