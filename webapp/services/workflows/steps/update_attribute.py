"""update_attribute: set (or, with no value, remove) one free-form attribute."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field

from webapp.extensions import db
from webapp.models import AutomationEnrollment, AutomationStep, Customer
from webapp.services.changes import customer_changed
from webapp.services.enrollment.waits import Outcome
from webapp.services.workflows.steps.base import FormField, FormValues, RunContext, StepType, Strict


class UpdateAttributeStep(Strict):
    key: Annotated[str, Field(min_length=1, max_length=100)]
    value: str | int | float | bool | None = None

    model_config = ConfigDict(extra="forbid", strict=True)


def describe(config: dict[str, Any]) -> str:
    return f"Set attribute {config.get('key')} = {config.get('value')!r}"


def from_form(form: FormValues) -> dict[str, Any]:
    value = form.get("value")
    return {"key": form.get("key", ""), "value": value if value not in (None, "") else None}


def handle(runner: RunContext, enrollment: AutomationEnrollment, step: AutomationStep, config: dict) -> Outcome:
    customer = db.session.get(Customer, enrollment.customer_id)
    attributes = dict(customer.attributes or {})
    key, value = config["key"], config.get("value")
    if value is None:
        attributes.pop(key, None)
    else:
        attributes[key] = value
    customer.attributes = attributes
    customer.updated_at = runner.now
    db.session.flush()
    customer_changed(enrollment.tenant_id, customer.id)
    return Outcome("done", f"{key} set to {value!r}" if value is not None else f"{key} removed")


STEP = StepType(
    name="update_attribute", label="Set attribute", model=UpdateAttributeStep, describe=describe,
    default_config={"key": "workflow_note", "value": "yes"},
    form=(FormField("key", "Attribute", lambda cfg: cfg.get("key")),
          FormField("value", "Value (empty removes it)", lambda cfg: cfg.get("value"))),
    from_form=from_form, handle=handle)
