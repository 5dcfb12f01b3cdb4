"""Each tenant's bounce and complaint webhooks: the random key in the endpoint URLs and the
credentials each provider proves itself with. Secrets are write-only: the password is
hashed, the Mailgun key sealed, and neither is ever shown again."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any

from flask import current_app
from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.infra.sealed import SealBroken, seal, unseal
from webapp.models import PROVIDERS, ProviderWebhookSettings
from webapp.services.deliverability import sendgrid
from webapp.services.tenants import hash_password

PROVIDER_NAMES = {"ses": "Amazon SES (via SNS)", "sendgrid": "SendGrid", "postmark": "Postmark", "mailgun": "Mailgun"}
# Who reported a bounce or complaint, as the timeline and consent records say it.
REPORTED_BY = {"ses": "Amazon SES", "sendgrid": "SendGrid", "postmark": "Postmark", "mailgun": "Mailgun"}
SEAL_PURPOSE = "mailgun-signing-key"
MAX_TOPICS = 20
TOPIC_ARN = re.compile(r"arn:aws(?:-cn|-us-gov)?:sns:[a-z0-9-]{1,30}:\d{12}:[A-Za-z0-9_-]{1,256}(?:\.fifo)?")
CREDENTIAL_FIELDS = ("ses_topic_arns", "sendgrid_public_key", "postmark_username", "postmark_password",
                     "mailgun_signing_key")


def _new_key() -> str:
    return secrets.token_hex(20)  # 160 bits; hex reads (and pastes) cleanly in a URL


def settings_of(tenant_id: int) -> ProviderWebhookSettings:
    """The tenant's row, made (with a fresh key, no credentials) the first time it is asked for."""
    row = db.session.scalar(select(ProviderWebhookSettings).where(ProviderWebhookSettings.tenant_id == tenant_id))
    if row is None:
        row = ProviderWebhookSettings(tenant_id=tenant_id, key=_new_key())
        db.session.add(row)
        db.session.commit()
    return row


def find_by_key(key: str) -> ProviderWebhookSettings | None:
    if not key or len(key) > 64:
        return None
    return db.session.scalar(select(ProviderWebhookSettings).where(ProviderWebhookSettings.key == key))


def new_key(tenant_id: int) -> ProviderWebhookSettings:
    """Replace the key in every endpoint URL: calls to the old URLs get 404 from now on."""
    row = settings_of(tenant_id)
    row.key = _new_key()
    db.session.commit()
    return row


def endpoint_url(row: ProviderWebhookSettings, provider: str) -> str:
    return f"{current_app.config['BASE_URL']}/api/crm/webhooks/{provider}/{row.key}"


def mailgun_key(row: ProviderWebhookSettings) -> str | None:
    """The signing key, opened; None when unset or sealed under another SECRET_KEY (then every
    call is refused until the key is entered again)."""
    if not row.mailgun_signing_key:
        return None
    try:
        return unseal(row.mailgun_signing_key, SEAL_PURPOSE)
    except SealBroken:
        return None


def topic_arns(row: ProviderWebhookSettings) -> list[str]:
    return [line for line in (row.ses_topic_arns or "").splitlines() if line.strip()]


def describe(row: ProviderWebhookSettings) -> dict[str, Any]:
    """What Settings and the API show: URLs, and whether each secret is set (never the secret)."""
    return {
        "endpoints": {provider: endpoint_url(row, provider) for provider in PROVIDERS},
        "ses": {"topic_arns": topic_arns(row)},
        "sendgrid": {"verification_key_set": bool(row.sendgrid_public_key)},
        "postmark": {"username": row.postmark_username, "password_set": bool(row.postmark_password_hash)},
        "mailgun": {"signing_key_set": bool(row.mailgun_signing_key)},
    }


def update_credentials(tenant_id: int, changes: Mapping[str, Any]) -> ProviderWebhookSettings:
    """Set or clear (None or "") the credentials named in `changes`; every one is checked
    before any is saved. A Postmark username and password go together."""
    unknown = sorted(set(changes) - set(CREDENTIAL_FIELDS))
    if unknown:
        raise ValidationFailed(unknown[0], "is not a webhook credential")
    row = settings_of(tenant_id)
    clean: dict[str, Any] = {}
    if "ses_topic_arns" in changes:
        clean["ses_topic_arns"] = _topics(changes["ses_topic_arns"])
    if "sendgrid_public_key" in changes:
        clean["sendgrid_public_key"] = _sendgrid_key(changes["sendgrid_public_key"])
    if "postmark_username" in changes or "postmark_password" in changes:
        clean.update(_postmark(row, changes))
    if "mailgun_signing_key" in changes:
        clean["mailgun_signing_key"] = _mailgun_key(changes["mailgun_signing_key"])
    for name, value in clean.items():
        setattr(row, name, value)
    db.session.commit()
    return row


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _topics(value: Any) -> str | None:
    lines = value.splitlines() if isinstance(value, str) else list(value or [])
    topics = list(dict.fromkeys(t.strip() for t in lines if isinstance(t, str) and t.strip()))
    if len(topics) > MAX_TOPICS:
        raise ValidationFailed("ses_topic_arns", f"at most {MAX_TOPICS} topics")
    for topic in topics:
        if not TOPIC_ARN.fullmatch(topic):
            raise ValidationFailed("ses_topic_arns", f"“{topic[:80]}” is not an SNS topic ARN "
                                                     "(arn:aws:sns:eu-west-1:123456789012:ses-bounces)")
    return "\n".join(topics) or None


def _sendgrid_key(value: Any) -> str | None:
    if _blank(value):
        return None
    if len(value) > 1000:
        raise ValidationFailed("sendgrid_public_key", "is too long for a verification key")
    try:
        sendgrid.public_key(value)
    except ValueError as exc:
        raise ValidationFailed("sendgrid_public_key", str(exc)) from None
    return "".join(value.split())


def _postmark(row: ProviderWebhookSettings, changes: Mapping[str, Any]) -> dict[str, Any]:
    username = changes.get("postmark_username", row.postmark_username)
    password = changes.get("postmark_password")
    if _blank(username):
        if not _blank(password):
            raise ValidationFailed("postmark_username", "enter the username that goes with the password")
        return {"postmark_username": None, "postmark_password_hash": None}
    username = username.strip()
    if len(username) > 200 or ":" in username or not username.isprintable():
        raise ValidationFailed("postmark_username", "must be up to 200 characters, without a colon")
    if _blank(password):
        if row.postmark_password_hash is None:
            raise ValidationFailed("postmark_password", "choose a password for the webhook (at least 16 characters)")
        return {"postmark_username": username}
    if not 16 <= len(password) <= 200 or not password.isprintable():
        raise ValidationFailed("postmark_password", "must be 16 to 200 characters (a long random one is best)")
    return {"postmark_username": username, "postmark_password_hash": hash_password(password)}


def _mailgun_key(value: Any) -> str | None:
    if _blank(value):
        return None
    key = value.strip()
    if not 16 <= len(key) <= 200 or not key.isascii() or not key.isprintable():
        raise ValidationFailed("mailgun_signing_key", "is not a Mailgun webhook signing key (Sending › Webhooks › "
                                                      "HTTP webhook signing key)")
    return seal(key, SEAL_PURPOSE)
