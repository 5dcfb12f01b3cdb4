"""The step types, one module each: adding a type is a module with its `StepType` entry
and a line in STEP_TYPES. What a step may say is validated on every save and again on
activation, so a broken config never reaches the engine."""

from __future__ import annotations

from typing import Any

from webapp.infra.errors import ValidationFailed
from webapp.infra.validation import check_storable, validate
from webapp.services.workflows.steps import (
    condition,
    holdout,
    send_email,
    split,
    tags,
    update_attribute,
    wait,
    wait_for,
    wait_until,
    webhook,
)
from webapp.services.workflows.steps.base import FormField, FormValues, RunContext, StepFailed, StepType
from webapp.services.workflows.steps.webhook import check_webhook_url

# In the builder's order ("Add a step" lists them so).
STEP_TYPES: dict[str, StepType] = {entry.name: entry for entry in (
    send_email.STEP, wait.STEP, wait_until.STEP, condition.STEP, tags.ADD_TAG, tags.REMOVE_TAG,
    update_attribute.STEP, webhook.STEP, split.STEP, wait_for.STEP, holdout.STEP)}

# What "Add step" puts in place before the marketer edits it: valid, so a half-built
# workflow never holds an invalid step.
DEFAULT_STEP_CONFIG: dict[str, dict[str, Any]] = {name: entry.default_config for name, entry in STEP_TYPES.items()}

__all__ = ["DEFAULT_STEP_CONFIG", "STEP_TYPES", "FormField", "FormValues", "RunContext", "StepFailed", "StepType",
           "check_webhook_url", "describe_step", "validate_step"]


def validate_step(step_type: str, config: Any, *, allowlist: str | None = None,
                  step_ids: set[int] | None = None) -> dict[str, Any]:
    """The normalised config, or ValidationFailed naming the field (config.<name>)."""
    entry = STEP_TYPES.get(step_type)
    if entry is None:
        raise ValidationFailed("type", f"must be one of {', '.join(STEP_TYPES)}")
    if not isinstance(config, dict):
        raise ValidationFailed("config", "must be an object")
    check_storable(config, "config")
    parsed = validate(entry.model, config, "config")
    out = parsed.model_dump(exclude_none=True, mode="json")
    return entry.check(out, allowlist=allowlist, step_ids=step_ids)


def describe_step(step_type: str, config: dict[str, Any]) -> str:
    """One line for the builder and the trace."""
    entry = STEP_TYPES.get(step_type)
    return entry.describe(config) if entry is not None else step_type
