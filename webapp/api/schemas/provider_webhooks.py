"""Bounce and complaint webhooks of the mail relays (/webhooks/{provider}/{key} and their
credentials under /settings/provider-webhooks)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from webapp.api.schemas.common import StrictModel

TopicArn = Annotated[str, Field(min_length=1, max_length=300)]


class ProviderWebhooksPatch(StrictModel):
    ses_topic_arns: Annotated[list[TopicArn], Field(max_length=20)] | None = Field(
        default=None, description="SNS topics whose notifications are accepted; [] or null: any topic (the SNS "
                                  "signature is always checked). Replaces the list.")
    sendgrid_public_key: Annotated[str, Field(max_length=1000)] | None = Field(
        default=None, description="SendGrid's Event Webhook verification key, as its console shows it. Write-only; "
                                  "null clears it.")
    postmark_username: Annotated[str, Field(max_length=200)] | None = Field(
        default=None, description="The basic-auth username Postmark's webhook URL carries; null clears Postmark.")
    postmark_password: Annotated[str, Field(max_length=200)] | None = Field(
        default=None, description="At least 16 characters; stored hashed, never shown again.")
    mailgun_signing_key: Annotated[str, Field(max_length=200)] | None = Field(
        default=None, description="Mailgun's HTTP webhook signing key. Write-only (stored encrypted); null clears it.")


class ProviderEndpoints(BaseModel):
    ses: str
    sendgrid: str
    postmark: str
    mailgun: str


class SesCredentials(BaseModel):
    topic_arns: list[str]


class SendgridCredentials(BaseModel):
    verification_key_set: bool


class PostmarkCredentials(BaseModel):
    username: str | None
    password_set: bool


class MailgunCredentials(BaseModel):
    signing_key_set: bool


class ProviderWebhooksOut(BaseModel):
    endpoints: ProviderEndpoints
    ses: SesCredentials
    sendgrid: SendgridCredentials
    postmark: PostmarkCredentials
    mailgun: MailgunCredentials


class WebhookReceipt(BaseModel):
    status: str = Field(description="applied, subscribed (an SNS subscription confirmed) or ignored")
    received: int | None = None
    applied: int | None = None
    duplicates: int | None = None
    unmatched: int | None = None
    customers_changed: int | None = None
