"""The organisation's settings (GET/PATCH /settings)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from webapp.api.schemas.common import StrictModel

Hostname = Annotated[str, Field(min_length=1, max_length=253)]


class SettingsPatch(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    timezone: Annotated[str, Field(max_length=64, description="An IANA timezone, e.g. Europe/London.")] | None = None
    currency: Annotated[str, Field(max_length=100, description="A current ISO 4217 code, e.g. GBP or EUR; money "
                                                               "on the marketers' pages is shown in it.")] | None = None
    locale: Annotated[str, Field(max_length=100, description="How amounts are written: language_TERRITORY, e.g. "
                                                             "en_GB (£1,234.50) or de_DE (1.234,50 €).")] | None = None
    sender_name: Annotated[str, Field(max_length=200)] | None = Field(default=None, description="null clears it.")
    sender_email: Annotated[str, Field(max_length=320)] | None = Field(
        default=None, description="On one of your sending domains; null clears it.")
    postal_address: Annotated[str, Field(max_length=1000)] | None = Field(
        default=None, description="Shown in every email footer; required to send. null clears it.")
    send_rate_per_second: Annotated[int, Field(ge=1, le=100_000)] | None = None
    attribution_days: Annotated[int, Field(ge=0, le=90, description="0 turns attribution off.")] | None = None
    webhook_allowlist: Annotated[list[Hostname], Field(max_length=100)] | None = Field(
        default=None, description="Public hosts workflow webhooks may call over plain http; replaces the list.")
    frequency_cap: FrequencyCap | None = Field(default=None, description=(
        "At most max_emails marketing emails per person in days days; a capped campaign recipient is skipped "
        "with the reason. Workflow emails marked transactional neither count nor are capped. null: no cap."))
    quiet_hours: QuietHours | None = Field(default=None, description=(
        "Workflow emails coming due between start and end in the customer's local time (their timezone, else "
        "the organisation's) wait until end; the window may cross midnight, start != end. Transactional emails "
        "are exempt. null: none."))


class FrequencyCap(StrictModel):
    max_emails: Annotated[int, Field(ge=1, le=100, description="At most this many marketing emails per person…")]
    days: Annotated[int, Field(ge=1, le=90, description="…in this many days.")]


Clock = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", max_length=5,
                             description="A time of day, HH:MM (24-hour).")]


class QuietHours(StrictModel):
    start: Clock
    end: Clock


class FrequencyCapOut(BaseModel):
    max_emails: int
    days: int


class QuietHoursOut(BaseModel):
    start: str
    end: str


class SettingsOut(BaseModel):
    name: str
    timezone: str
    currency: str
    locale: str
    sender_name: str | None
    sender_email: str | None
    postal_address: str | None
    send_rate_per_second: int
    attribution_days: int
    webhook_allowlist: list[str]
    frequency_cap: FrequencyCapOut | None
    quiet_hours: QuietHoursOut | None
