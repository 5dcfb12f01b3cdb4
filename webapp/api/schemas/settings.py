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
