"""The session cookie interface: no session under /api/, and the signing serializer made
once per secret key."""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class CachedSerializerSessionInterface(SecureCookieSessionInterface):
    """Flask builds the cookie's signing serializer on every request, twice (open and save),
    and itsdangerous serialises a probe value each time: about a third of the CPU of a
    small request such as the open pixel. The serializer depends only on the keys, so it is
    kept while they stay the same."""

    def __init__(self) -> None:
        self._cached: tuple[tuple, URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = self._cached
        if cached is None or cached[0] != keys:
            cached = self._cached = (keys, super().get_signing_serializer(app))
        return cached[1]

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        # The JSON API authenticates by bearer token and never reads or sets the cookie
        # (webapp/api/auth.py): a null session skips decoding it and saving it again, a
        # quarter of the CPU of the open pixel. Writing to it raises.
        if request.path.startswith("/api/"):
            return self.make_null_session(app)
        return super().open_session(app, request)
