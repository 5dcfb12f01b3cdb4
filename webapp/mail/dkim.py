"""DKIM signing (dkimpy) for mail sent over plain SMTP from a domain with a key of its own.

The key is RSA-2048, made by services/deliverability/dkim_keys.py; its private half is
stored sealed (webapp/infra/sealed.py) and read here only to sign. A relay such as SES or
SendGrid signs with its own keys; this is for tenants whose mail leaves through a plain
SMTP server that signs nothing.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.sealed import SealBroken, unseal
from webapp.models import SendingDomain

SEAL_PURPOSE = "dkim-private-key"
KEY_BITS = 2048
# Signed when present; a header listed but missing is signed as empty (so it cannot be
# added later), which is what we want for these.
SIGNED_HEADERS = (b"from", b"to", b"subject", b"date", b"message-id", b"reply-to", b"mime-version",
                  b"content-type", b"list-id", b"list-unsubscribe", b"list-unsubscribe-post", b"feedback-id")


def new_key() -> tuple[bytes, str]:
    """(private key as PEM, public key as the base64 DER a DKIM record's p= holds)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, base64.b64encode(public).decode("ascii")


def record_value(public_key: str) -> str:
    return f"v=DKIM1; k=rsa; p={public_key}"


def sign(message: bytes, *, domain: str, selector: str, private_key: bytes) -> bytes:
    """The message with a DKIM-Signature header in front (relaxed/relaxed, rsa-sha256)."""
    signature = dkim.sign(message, selector.encode("ascii"), domain.encode("ascii"), private_key,
                          canonicalize=(b"relaxed", b"relaxed"), include_headers=list(SIGNED_HEADERS))
    return signature + message


class DkimSigner:
    """Signs messages whose envelope sender is on one of the given domains."""

    def __init__(self, keys: dict[str, tuple[str, bytes]]):
        self.keys = keys  # domain (ASCII, lower-case) -> (selector, private key PEM)

    def __call__(self, sender: str, message: bytes) -> bytes:
        domain = sender.rpartition("@")[2].lower()
        found = self.keys.get(domain)
        if found is None:
            return message
        return sign(message, domain=domain, selector=found[0], private_key=found[1])


def tenant_signer(tenant_id: int | None) -> DkimSigner | None:
    """The signer for the tenant's domains that have a DKIM key, or None when none has."""
    if tenant_id is None:
        return None
    rows: Iterable = db.session.execute(select(SendingDomain.domain, SendingDomain.dkim_selector,
                                               SendingDomain.dkim_private_key).where(
        SendingDomain.tenant_id == tenant_id, SendingDomain.dkim_private_key.isnot(None))).all()
    keys = {}
    for domain, selector, sealed in rows:
        try:
            keys[domain.encode("idna").decode("ascii")] = (selector, unseal(sealed, SEAL_PURPOSE).encode("ascii"))
        except (SealBroken, UnicodeError):
            continue  # sealed under another SECRET_KEY: sent unsigned until a new key is made
    return DkimSigner(keys) if keys else None
