"""condition: go on when the customer matches conditions in the segment language; else
jump to another step of the workflow (else_step) or exit."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field
from sqlalchemy import exists, select

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.models import AutomationEnrollment, AutomationStep, Customer
from webapp.segments.compiler import Compiler
from webapp.segments.definition import parse_definition
from webapp.segments.describe import describe_condition
from webapp.services.enrollment.waits import Outcome
from webapp.services.workflows.steps.base import FormField, FormValues, RunContext, StepType, Strict

# A step's summary says up to this many conditions in words; more are counted.
MAX_SAID = 3


class ConditionStep(Strict):
    conditions: list[Any]
    match: Literal["all", "any"] = "all"
    else_step: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None


def check(out: dict[str, Any], *, allowlist: str | None, step_ids: set[int] | None) -> dict[str, Any]:
    try:
        parse_definition(out["conditions"], out["match"])
    except ValidationFailed as exc:
        raise ValidationFailed(f"config.{exc.field}", exc.reason) from None
    if "else_step" in out and step_ids is not None and out["else_step"] not in step_ids:
        raise ValidationFailed("config.else_step", "is not a step of this workflow")
    return out


def describe(config: dict[str, Any]) -> str:
    """In words when short ("Continue if has tag “vip” or total spent at least 100"), else a count."""
    target = f", else go to step #{config['else_step']}" if config.get("else_step") else ", else exit"
    conditions = config.get("conditions") or []
    match = config.get("match", "all")
    plain = isinstance(conditions, list) and all(isinstance(c, dict) and "conditions" not in c for c in conditions)
    if plain and 0 < len(conditions) <= MAX_SAID:
        said = (" and " if match == "all" else " or ").join(_lower_first(describe_condition(c)) for c in conditions)
        return f"Continue if {said}{target}"
    return f"Continue if {match} of {len(conditions)} conditions match{target}"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def from_form(form: FormValues) -> dict[str, Any]:
    conditions = form.json("conditions", "config.conditions")
    config: dict[str, Any] = {"conditions": conditions, "match": form.get("match") or "all"}
    if (form.get("else_step") or "").strip():
        try:
            config["else_step"] = int(form.get("else_step"))
        except ValueError:
            raise ValidationFailed("config.else_step", "choose a step") from None
    return config


def handle(runner: RunContext, enrollment: AutomationEnrollment, step: AutomationStep, config: dict) -> Outcome:
    group = parse_definition(config.get("conditions") or [], config.get("match", "all"))
    compiler = Compiler(enrollment.tenant_id, db.session.get_bind().dialect.name, runner.now)
    met = db.session.scalar(select(exists().where(Customer.id == enrollment.customer_id,
                                                  Customer.tenant_id == enrollment.tenant_id, compiler.group(group))))
    if met:
        return Outcome("done", "conditions met")
    else_step = config.get("else_step")
    if else_step:
        _, steps = runner.workflow_steps(enrollment.workflow_id)
        if any(s.id == else_step for s in steps):
            return Outcome("jumped", f"conditions not met: jumped to step #{else_step}", target=else_step)
    return Outcome("exited", "conditions not met")


STEP = StepType(
    name="condition", label="Condition", model=ConditionStep, check=check, describe=describe,
    default_config={"conditions": [{"type": "tag", "operator": "has", "value": "vip"}], "match": "all"},
    # The match comes first: the condition rows read it for their "and" / "or".
    form=(FormField("match", "Customers who match", lambda cfg: cfg.get("match", "all"), kind="select",
                    options=(("all", "all of these conditions"), ("any", "any of these conditions"))),
          FormField("conditions", "Conditions", lambda cfg: cfg.get("conditions", []), kind="conditions"),
          FormField("else_step", "When not met", lambda cfg: cfg.get("else_step"), kind="step", element_id="else",
                    empty_label="exit the workflow")),
    from_form=from_form, handle=handle)
