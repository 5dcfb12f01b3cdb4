"""What a workflow's trigger may say: one pydantic model per type, validated on every save
and again on activation."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, model_validator

from webapp.infra.errors import NotFound, ValidationFailed
from webapp.infra.validation import check_storable, validate
from webapp.services.segments import get_segment
from webapp.services.workflows.steps.base import Strict


class PurchaseTrigger(Strict):
    min_order_total: Annotated[float, Field(ge=0, lt=1e12)] | None = None
    event_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    event_name: Annotated[str, Field(min_length=1, max_length=300)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _ints_are_numbers(cls, data: Any) -> Any:
        # Strict mode refuses 100 for a float; a whole number is a fine minimum.
        if isinstance(data, dict) and isinstance(data.get("min_order_total"), int) \
                and not isinstance(data.get("min_order_total"), bool):
            data = {**data, "min_order_total": float(data["min_order_total"])}
        return data


class NoTriggerConfig(Strict):
    pass


class SegmentTrigger(Strict):
    segment_id: Annotated[int, Field(ge=1, le=2**31 - 1)]


class EventDayTrigger(Strict):
    offset_days: Annotated[int, Field(ge=-30, le=30)] = 0
    hour: Annotated[int, Field(ge=0, le=23)] = 9


TRIGGER_MODELS: dict[str, type[BaseModel]] = {
    "purchase": PurchaseTrigger,
    "signup": NoTriggerConfig,
    "custom": NoTriggerConfig,
    "segment_entered": SegmentTrigger,
    "event_day": EventDayTrigger,
}


def validate_trigger(trigger_type: str, config: Any) -> dict[str, Any]:
    model = TRIGGER_MODELS.get(trigger_type)
    if model is None:
        raise ValidationFailed("trigger_type", f"must be one of {', '.join(TRIGGER_MODELS)}")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ValidationFailed("trigger_config", "must be an object")
    check_storable(config, "trigger_config")
    return validate(model, config, "trigger_config").model_dump(exclude_none=True)


def check_trigger(tenant_id: int, trigger_type: str, config: Any) -> dict[str, Any]:
    """validate_trigger, and the tenant's data the trigger points at exists."""
    out = validate_trigger(trigger_type, config)
    if trigger_type == "segment_entered":
        try:
            get_segment(tenant_id, out["segment_id"])
        except NotFound:
            raise ValidationFailed("trigger_config.segment_id", "no such segment") from None
    return out
