"""The deliverability page's forms: one provider's webhook credentials, a DKIM key."""

from __future__ import annotations

from wtforms import BooleanField, HiddenField, PasswordField, StringField, TextAreaField
from wtforms.validators import AnyOf, Length, Optional

from webapp.models import PROVIDERS
from webapp.web.forms import Form


class ProviderCredentialsForm(Form):
    """Every provider's fields; each provider's card shows (and posts) its own. Secret fields
    left empty keep what is stored (they are never shown again)."""

    provider = HiddenField(validators=[AnyOf(PROVIDERS, message="Choose a provider.")])
    ses_topic_arns = TextAreaField(
        "Accepted SNS topics (optional)", validators=[Optional(), Length(max=6000)],
        description="One topic ARN per line, e.g. arn:aws:sns:eu-west-1:123456789012:ses-bounces. Empty: any topic "
                    "whose messages Amazon signed.")
    sendgrid_public_key = TextAreaField(
        "Verification key", validators=[Optional(), Length(max=1000)],
        description="Mail Settings › Event Webhook › Signature Verification: the key SendGrid shows.")
    postmark_username = StringField("Webhook username", validators=[Optional(), Length(max=200)])
    postmark_password = PasswordField(
        "Webhook password", validators=[Optional(), Length(max=200)],
        description="At least 16 characters; stored hashed. Leave empty to keep the current one.")
    mailgun_signing_key = PasswordField(
        "HTTP webhook signing key", validators=[Optional(), Length(max=200)],
        description="Sending › Webhooks › HTTP webhook signing key. Stored encrypted; leave empty to keep it.")
    turn_off = BooleanField("Stop accepting calls from this provider")


PROVIDER_FIELDS = {"ses": ("ses_topic_arns",), "sendgrid": ("sendgrid_public_key",),
                   "postmark": ("postmark_username", "postmark_password"), "mailgun": ("mailgun_signing_key",)}
SECRET_FIELDS = frozenset({"sendgrid_public_key", "postmark_password", "mailgun_signing_key"})


class DkimKeyForm(Form):
    selector = StringField("Selector", validators=[Optional(), Length(max=63)],
                           description="The name the key is published under; change it when you replace a key.")
