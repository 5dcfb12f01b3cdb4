"""wait_for: wait until an activity of a type happens (optionally matching properties,
e.g. the trigger's event) or a timeout, then continue on the "happened" path (branch 0)
or the "timed out" path (branch 1).

Event-driven: recording the activity wakes the enrollment (services/enrollment/awaiting.py,
which also holds the match rule); the timeout is next_run_at, like a wait's."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import Field, StringConstraints, model_validator

from webapp.infra.errors import ValidationFailed
from webapp.models import SYSTEM_ACTIVITY_TYPES, AutomationEnrollment, AutomationStep
from webapp.services.enrollment.awaiting import TRIGGER_REF
from webapp.services.enrollment.waits import Outcome
from webapp.services.workflows.steps.base import FormField, FormValues, RunContext, StepType, Strict

ActivityType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
MatchKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,64}(\.[A-Za-z0-9_]{1,64}){0,4}$")]
MatchValue = Annotated[str, StringConstraints(max_length=200)] | int | float | bool
MAX_MATCH = 10
THIS_EVENT = "{{ trigger.event }}"


class Timeout(Strict):
    hours: Annotated[int, Field(ge=1, le=8760)] | None = None
    days: Annotated[int, Field(ge=1, le=365)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Timeout:
        if (self.hours is None) == (self.days is None):
            raise ValueError("give exactly one of hours or days")
        return self


class WaitForStep(Strict):
    activity_type: ActivityType
    match: Annotated[dict[MatchKey, MatchValue], Field(max_length=MAX_MATCH)] | None = None
    timeout: Timeout


def check(out: dict[str, Any], *, allowlist: str | None, step_ids: set[int] | None) -> dict[str, Any]:
    if out["activity_type"] in SYSTEM_ACTIVITY_TYPES:
        raise ValidationFailed("config.activity_type", "is recorded by the CRM itself: wait for an activity "
                                                       "your platform sends (e.g. ticket_scanned, purchase)")
    for key, value in (out.get("match") or {}).items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationFailed(f"config.match.{key}", "must be a finite number")
        if isinstance(value, str) and value.strip().startswith("{{") and not TRIGGER_REF.match(value):
            raise ValidationFailed(f"config.match.{key}", "write {{ trigger.<field> }}, e.g. {{ trigger.event }}")
    if not out.get("match"):
        out.pop("match", None)
    return out


def timeout_of(config: dict[str, Any]) -> timedelta:
    timeout = config.get("timeout") or {}
    return timedelta(hours=timeout.get("hours", 0), days=timeout.get("days", 0))


def say_duration(span: timedelta) -> str:
    """"3 days", "2 h 10 min", "5 min", "less than a minute": how long a wait took, for the trace."""
    minutes = max(int(span.total_seconds() // 60), 0)
    if not minutes:
        return "less than a minute"
    days, rest = divmod(minutes, 24 * 60)
    if days and not rest:
        return f"{days} day{'s' if days != 1 else ''}"
    hours, mins = divmod(minutes, 60)
    if hours and mins:
        return f"{hours} h {mins} min"
    return f"{hours} h" if hours else f"{mins} min"


def _words(activity_type: str) -> str:
    return activity_type.replace("_", " ")


def describe(config: dict[str, Any]) -> str:
    said = _words(str(config.get("activity_type", "an activity")))
    match = config.get("match") or {}
    parts = ["for the trigger's event" if v == THIS_EVENT and k == "event" else f"with {k} = {v}"
             for k, v in match.items()]
    timeout = config.get("timeout") or {}
    unit = "days" if "days" in timeout else "hours"
    limit = f"{timeout.get(unit)} {unit if timeout.get(unit) != 1 else unit[:-1]}"
    return f"Wait for {said}{' ' + ', '.join(parts) if parts else ''}, at most {limit}"


def from_form(form: FormValues) -> dict[str, Any]:
    config: dict[str, Any] = {"activity_type": (form.get("activity_type") or "").strip()}
    unit = form.get("timeout_unit") if form.get("timeout_unit") in ("hours", "days") else "days"
    try:
        config["timeout"] = {unit: int(form.get("timeout_amount", ""))}
    except ValueError:
        raise ValidationFailed("config.timeout_amount", "must be a whole number") from None
    match: dict[str, Any] = {}
    if form.get("this_event") in ("1", "on", "y", "true"):
        match["event"] = THIS_EVENT
    pair = (form.get("match_property") or "").strip()
    if pair:
        key, _, value = pair.partition("=")
        if not re.fullmatch(r"[A-Za-z0-9_.]+", key.strip()) or not value.strip():
            raise ValidationFailed("config.match_property", "write property = value, e.g. gate = north")
        match[key.strip()] = value.strip()
    if match:
        config["match"] = match
    return config


def handle(runner: RunContext, enrollment: AutomationEnrollment, step: AutomationStep, config: dict) -> Outcome:
    entered = enrollment.step_entered_at or runner.now
    said = _words(config["activity_type"])
    if enrollment.awaited_at is not None:
        took = say_duration(enrollment.awaited_at - entered)
        return Outcome("done", f"{said} happened at {enrollment.awaited_at.isoformat()}, after {took}: "
                               "on the happened path", branch=0, path_label="happened")
    due = entered + timeout_of(config)
    if runner.now >= due:
        return Outcome("done", f"timed out after {say_duration(due - entered)} without {said}: on the timed out path",
                       branch=1, path_label="timed out")
    return Outcome("waiting", f"waiting for {said} until {due.isoformat()}", until=due,
                   waiting_for=config["activity_type"])


def _unit(cfg: dict[str, Any]) -> str:
    return "hours" if "hours" in (cfg.get("timeout") or {}) else "days"


STEP = StepType(
    name="wait_for", label="Wait for an activity", model=WaitForStep, check=check, describe=describe,
    default_config={"activity_type": "ticket_scanned", "match": {"event": THIS_EVENT}, "timeout": {"days": 3}},
    form=(FormField("activity_type", "Activity type", lambda cfg: cfg.get("activity_type")),
          FormField("this_event", "Only for the trigger's event",
                    lambda cfg: "1" if (cfg.get("match") or {}).get("event") == THIS_EVENT else "",
                    kind="select", options=(("1", "yes: only the trigger's event"), ("", "no: any"))),
          FormField("match_property", "And a property (optional, property = value)",
                    lambda cfg: next((f"{k} = {v}" for k, v in (cfg.get("match") or {}).items()
                                      if not (k == "event" and v == THIS_EVENT)), "")),
          FormField("timeout_amount", "Give up after", lambda cfg: (cfg.get("timeout") or {}).get(_unit(cfg)),
                    input_type="number"),
          FormField("timeout_unit", "Unit", _unit, kind="select", options=(("hours", "hours"), ("days", "days")))),
    from_form=from_form, handle=handle, opens_wait=True)
