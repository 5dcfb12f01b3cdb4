"""wait: a fixed time (minutes, hours or days). The rule is services/enrollment/waits.py,
which enrollment also uses for a workflow that opens with a wait."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator

from webapp.infra.errors import ValidationFailed
from webapp.models import AutomationEnrollment, AutomationStep
from webapp.services.enrollment.waits import Outcome, describe_wait, wait_outcome
from webapp.services.workflows.steps.base import Days, FormField, FormValues, RunContext, StepType, Strict

UNITS = ("minutes", "hours", "days")


class WaitStep(Strict):
    minutes: Annotated[int, Field(ge=1, le=525_600)] | None = None
    hours: Annotated[int, Field(ge=1, le=87_600)] | None = None
    days: Days | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> WaitStep:
        if sum(v is not None for v in (self.minutes, self.hours, self.days)) != 1:
            raise ValueError("give exactly one of minutes, hours or days")
        return self


def describe(config: dict[str, Any]) -> str:
    if any(unit in config for unit in UNITS):
        return describe_wait(config)
    return "wait"


def _unit(config: dict[str, Any]) -> str:
    return "minutes" if "minutes" in config else ("hours" if "hours" in config else "days")


def from_form(form: FormValues) -> dict[str, Any]:
    unit = form.get("unit") if form.get("unit") in UNITS else "days"
    try:
        return {unit: int(form.get("amount", ""))}
    except ValueError:
        raise ValidationFailed("config.amount", "must be a whole number") from None


def handle(runner: RunContext, enrollment: AutomationEnrollment, step: AutomationStep, config: dict) -> Outcome:
    return wait_outcome("wait", config, entered_at=enrollment.step_entered_at or runner.now, payload=None,
                        now=runner.now)


STEP = StepType(
    name="wait", label="Wait", model=WaitStep, describe=describe, default_config={"days": 1},
    form=(FormField("amount", "Wait for", lambda cfg: cfg.get(_unit(cfg)), input_type="number"),
          FormField("unit", "Unit", _unit, kind="select", options=tuple((u, u) for u in UNITS))),
    from_form=from_form, handle=handle, opens_wait=True)
