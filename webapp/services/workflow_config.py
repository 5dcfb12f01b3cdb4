"""What a workflow's trigger and steps may say: one pydantic model per type, validated on
every save and again on activation, so a broken config never reaches the engine."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from webapp.infra.errors import ValidationFailed
from webapp.infra.outbound import plain_http_allowed
from webapp.infra.validation import Moment, check_storable, validate
from webapp.mail.templating import TemplateRejected, check_template
from webapp.services.enrollment.waits import describe_wait

Days = Annotated[int, Field(ge=1, le=3650)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# --- triggers -------------------------------------------------------------------------------

class PurchaseTrigger(_Strict):
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


class NoTriggerConfig(_Strict):
    pass


class SegmentTrigger(_Strict):
    segment_id: Annotated[int, Field(ge=1, le=2**31 - 1)]


class EventDayTrigger(_Strict):
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


# --- steps ----------------------------------------------------------------------------------

class SendEmailStep(_Strict):
    subject: Annotated[str, Field(min_length=1, max_length=300)]
    content: Annotated[str, Field(min_length=1, max_length=500_000)]


class WaitStep(_Strict):
    minutes: Annotated[int, Field(ge=1, le=525_600)] | None = None
    hours: Annotated[int, Field(ge=1, le=87_600)] | None = None
    days: Days | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> WaitStep:
        if sum(v is not None for v in (self.minutes, self.hours, self.days)) != 1:
            raise ValueError("give exactly one of minutes, hours or days")
        return self


class WaitUntilStep(_Strict):
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


class ConditionStep(_Strict):
    conditions: list[Any]
    match: Literal["all", "any"] = "all"
    else_step: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None


class TagStep(_Strict):
    tag: Annotated[str, Field(min_length=1, max_length=100)]


class UpdateAttributeStep(_Strict):
    key: Annotated[str, Field(min_length=1, max_length=100)]
    value: str | int | float | bool | None = None

    model_config = ConfigDict(extra="forbid", strict=True)


class WebhookStep(_Strict):
    url: Annotated[str, Field(min_length=1, max_length=2000)]


STEP_MODELS: dict[str, type[BaseModel]] = {
    "send_email": SendEmailStep,
    "wait": WaitStep,
    "wait_until": WaitUntilStep,
    "condition": ConditionStep,
    "add_tag": TagStep,
    "remove_tag": TagStep,
    "update_attribute": UpdateAttributeStep,
    "webhook": WebhookStep,
}


def validate_step(step_type: str, config: Any, *, allowlist: str | None = None,
                  step_ids: set[int] | None = None) -> dict[str, Any]:
    """The normalised config, or ValidationFailed naming the field (config.<name>)."""
    model = STEP_MODELS.get(step_type)
    if model is None:
        raise ValidationFailed("type", f"must be one of {', '.join(STEP_MODELS)}")
    if not isinstance(config, dict):
        raise ValidationFailed("config", "must be an object")
    check_storable(config, "config")
    parsed = validate(model, config, "config")
    out = parsed.model_dump(exclude_none=True, mode="json")
    if step_type == "send_email":
        for field, html in (("subject", False), ("content", True)):
            try:
                check_template(out[field], html=html)
            except TemplateRejected as exc:
                raise ValidationFailed(f"config.{field}", str(exc)) from None
        if "\r" in out["subject"] or "\n" in out["subject"]:
            raise ValidationFailed("config.subject", "must not contain line breaks")
    elif step_type == "condition":
        from webapp.segments.definition import parse_definition

        try:
            parse_definition(out["conditions"], out["match"])
        except ValidationFailed as exc:
            raise ValidationFailed(f"config.{exc.field}", exc.reason) from None
        if "else_step" in out and step_ids is not None and out["else_step"] not in step_ids:
            raise ValidationFailed("config.else_step", "is not a step of this workflow")
    elif step_type in ("add_tag", "remove_tag"):
        from webapp.services.customers import normalise_tag

        out["tag"] = normalise_tag(out["tag"], "config.tag")
    elif step_type == "webhook":
        check_webhook_url(out["url"], allowlist)
    return out


def check_webhook_url(url: str, allowlist: str | None) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValidationFailed("config.url", "must be an https:// URL")
    if parts.username or parts.password:
        raise ValidationFailed("config.url", "must not contain a user name or password")
    if parts.scheme == "http" and not plain_http_allowed(parts.hostname, allowlist):
        raise ValidationFailed("config.url", "must be https (plain http only for hosts in the webhook "
                                             "allowlist in Settings)")


def describe_step(step_type: str, config: dict[str, Any]) -> str:
    """One line for the builder and the trace."""
    if step_type == "send_email":
        return f"Send “{config.get('subject', '')}”"
    if step_type == "wait" and any(unit in config for unit in ("minutes", "hours", "days")):
        return describe_wait(config)
    if step_type == "wait_until":
        if "at" in config:
            return f"Wait until {config['at']}"
        return f"Wait until {config.get('before_event_hours')} hours before the event"
    if step_type == "condition":
        target = f", else go to step #{config['else_step']}" if config.get("else_step") else ", else exit"
        return f"Continue if {config.get('match', 'all')} of {len(config.get('conditions') or [])} conditions " \
               f"match{target}"
    if step_type == "add_tag":
        return f"Add tag {config.get('tag')}"
    if step_type == "remove_tag":
        return f"Remove tag {config.get('tag')}"
    if step_type == "update_attribute":
        return f"Set attribute {config.get('key')} = {config.get('value')!r}"
    if step_type == "webhook":
        return f"POST to {config.get('url')}"
    return step_type


# What "Add step" puts in place before the marketer edits it: valid, so a half-built
# workflow never holds an invalid step.
DEFAULT_STEP_CONFIG: dict[str, dict[str, Any]] = {
    "send_email": {"subject": "Hello {{ customer.first_name | default('there') }}",
                   "content": "<p>Hello {{ customer.first_name | default('there') }},</p>"},
    "wait": {"days": 1},
    "wait_until": {"before_event_hours": 24},
    "condition": {"conditions": [{"type": "tag", "operator": "has", "value": "vip"}], "match": "all"},
    "add_tag": {"tag": "workflow"},
    "remove_tag": {"tag": "workflow"},
    "update_attribute": {"key": "workflow_note", "value": "yes"},
    "webhook": {"url": "https://example.com/hooks/crm"},
}
