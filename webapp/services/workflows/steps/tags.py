"""add_tag and remove_tag: one tag, through the one customer-changed path (change_tag)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from webapp.models import AutomationEnrollment, AutomationStep
from webapp.services.customers import change_tag, normalise_tag
from webapp.services.enrollment.waits import Outcome
from webapp.services.workflows.steps.base import FormField, FormValues, RunContext, StepType, Strict


class TagStep(Strict):
    tag: Annotated[str, Field(min_length=1, max_length=100)]


def check(out: dict[str, Any], *, allowlist: str | None, step_ids: set[int] | None) -> dict[str, Any]:
    out["tag"] = normalise_tag(out["tag"], "config.tag")
    return out


def from_form(form: FormValues) -> dict[str, Any]:
    return {"tag": form.get("tag", "")}


def add_tag(runner: RunContext, enrollment: AutomationEnrollment, step: AutomationStep, config: dict) -> Outcome:
    tag = config["tag"]
    if not change_tag(enrollment.tenant_id, enrollment.customer_id, tag, add=True,
                      properties={"workflow_id": enrollment.workflow_id}, now=runner.now):
        return Outcome("done", f"already tagged {tag}")
    return Outcome("done", f"tag {tag} added")


def remove_tag(runner: RunContext, enrollment: AutomationEnrollment, step: AutomationStep, config: dict) -> Outcome:
    tag = config["tag"]
    if not change_tag(enrollment.tenant_id, enrollment.customer_id, tag, add=False,
                      properties={"workflow_id": enrollment.workflow_id}, now=runner.now):
        return Outcome("done", f"did not have tag {tag}")
    return Outcome("done", f"tag {tag} removed")


FORM = (FormField("tag", "Tag", lambda cfg: cfg.get("tag")),)

ADD_TAG = StepType(
    name="add_tag", label="Add tag", model=TagStep, check=check, describe=lambda cfg: f"Add tag {cfg.get('tag')}",
    default_config={"tag": "workflow"}, form=FORM, from_form=from_form, handle=add_tag)

REMOVE_TAG = StepType(
    name="remove_tag", label="Remove tag", model=TagStep, check=check,
    describe=lambda cfg: f"Remove tag {cfg.get('tag')}", default_config={"tag": "workflow"}, form=FORM,
    from_form=from_form, handle=remove_tag)
