"""holdout: a random share of the enrollments reaching the step (the control group) gets
nothing more; the rest go on. The workflow's report compares the two groups' conversion.

The draw is seeded by the enrollment and the step (and HOLDOUT_SEED, else SECRET_KEY), so a
step that runs again after a crash puts the customer in the same group.
"""

from __future__ import annotations

import random
from typing import Annotated, Any

from flask import current_app
from pydantic import Field

from webapp.infra.errors import ValidationFailed
from webapp.models import AutomationEnrollment, AutomationStep
from webapp.services.enrollment.waits import Outcome
from webapp.services.workflows.steps.base import FormField, FormValues, RunContext, StepType, Strict


class HoldoutStep(Strict):
    percent: Annotated[int, Field(ge=1, le=90)]


def held_out(seed: str, enrollment_id: int, step_id: int, percent: int) -> bool:
    """Whether this enrollment falls in the step's control group: `percent` in 100 do."""
    return random.Random(f"{seed}:{enrollment_id}:{step_id}").random() * 100 < percent


def describe(config: dict[str, Any]) -> str:
    return f"Hold out {config.get('percent')}% as a control group (they get nothing more)"


def from_form(form: FormValues) -> dict[str, Any]:
    try:
        return {"percent": int(form.get("percent", ""))}
    except ValueError:
        raise ValidationFailed("config.percent", "must be a whole number from 1 to 90") from None


def handle(runner: RunContext, enrollment: AutomationEnrollment, step: AutomationStep, config: dict) -> Outcome:
    percent = config["percent"]
    seed = str(current_app.config.get("HOLDOUT_SEED") or current_app.config.get("SECRET_KEY") or "")
    if held_out(seed, enrollment.id, step.id, percent):
        # The runner's check before the next step completes it (services/enrollment/goals.py).
        enrollment.held_out = True
        return Outcome("done", f"held out: control group ({percent}%)")
    return Outcome("done", f"treated: continues ({100 - percent}% of customers do)")


STEP = StepType(
    name="holdout", label="Holdout", model=HoldoutStep, describe=describe, default_config={"percent": 10},
    form=(FormField("percent", "Percent held out (1 to 90)", lambda cfg: cfg.get("percent"), input_type="number"),),
    from_form=from_form, handle=handle)
