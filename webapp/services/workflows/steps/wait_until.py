"""wait_until: a moment (`at`) or some hours before the trigger's event. The rule is
services/enrollment/waits.py."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field, model_validator

from webapp.infra.errors import ValidationFailed
from webapp.infra.validation import Moment
from webapp.models import AutomationEnrollment, AutomationStep
from webapp.services.enrollment.waits import Outcome, wait_outcome
from webapp.services.events.changes import with_current_start
from webapp.services.workflows.steps.base import FormField, FormValues, RunContext, StepType, Strict


class WaitUntilStep(Strict):
    before_event_hours: Annotated[int, Field(ge=0, le=8760)] | None = None
    at: Moment | None = None

    model_config = ConfigDict(extra="forbid", strict=False)

    @model_validator(mode="after")
    def _exactly_one(self) -> WaitUntilStep:
        if (self.before_event_hours is None) == (self.at is None):
            raise ValueError("give exactly one of before_event_hours or at")
        if self.at is not None and self.at.tzinfo is None:
            raise ValueError("at must include a timezone offset, e.g. 2026-12-01T09:00:00+01:00")
        return self


def describe(config: dict[str, Any]) -> str:
    if "at" in config:
        return f"Wait until {config['at']}"
    return f"Wait until {config.get('before_event_hours')} hours before the event"


def from_form(form: FormValues) -> dict[str, Any]:
    if (form.get("at") or "").strip():
        return {"at": form.get("at").strip()}
    try:
        return {"before_event_hours": int(form.get("before_event_hours", ""))}
    except ValueError:
        raise ValidationFailed("config.before_event_hours", "must be a whole number of hours") from None


def handle(runner: RunContext, enrollment: AutomationEnrollment, step: AutomationStep, config: dict) -> Outcome:
    # "Hours before the event" counts from the event's start as it is now: a reschedule after
    # the customer entered moves the wait with it.
    payload = with_current_start(enrollment.tenant_id, enrollment.trigger_payload) \
        if "before_event_hours" in config else enrollment.trigger_payload
    return wait_outcome("wait_until", config, entered_at=enrollment.step_entered_at or runner.now,
                        payload=payload, now=runner.now)


STEP = StepType(
    name="wait_until", label="Wait until", model=WaitUntilStep, describe=describe,
    default_config={"before_event_hours": 24},
    form=(FormField("before_event_hours", "Hours before the event", lambda cfg: cfg.get("before_event_hours"),
                    input_type="number"),
          FormField("at", "Or at a time (ISO 8601 with offset)", lambda cfg: cfg.get("at"))),
    from_form=from_form, handle=handle, opens_wait=True)
