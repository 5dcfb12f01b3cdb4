"""Secrets we must use again later (a provider's signing key, a DKIM private key), stored
sealed: AES-GCM under a key derived from SECRET_KEY, so a copy of the database alone does
not hand them out. Secrets we only compare (passwords, tokens) are hashed instead."""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

PREFIX = "v1:"


class SealBroken(Exception):
    """The sealed value cannot be opened (SECRET_KEY changed, or the value was altered)."""


def _key(purpose: str) -> bytes:
    secret = current_app.config.get("SECRET_KEY") or ""
    # One key per purpose: a value sealed for one use never opens as another.
    return hashlib.sha256(f"crm-sealed:{purpose}:{secret}".encode()).digest()


def seal(plain: str, purpose: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key(purpose)).encrypt(nonce, plain.encode("utf-8"), purpose.encode())
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(value: str, purpose: str) -> str:
    if not value.startswith(PREFIX):
        raise SealBroken("not a sealed value")
    try:
        raw = base64.urlsafe_b64decode(value[len(PREFIX):].encode("ascii"))
        return AESGCM(_key(purpose)).decrypt(raw[:12], raw[12:], purpose.encode()).decode("utf-8")
    except (ValueError, InvalidTag, UnicodeDecodeError):
        raise SealBroken("the sealed value does not open with this SECRET_KEY") from None
