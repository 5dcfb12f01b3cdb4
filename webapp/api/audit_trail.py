"""The audit log from the API: `note` records what the request's token just did, from the
request's address, through the same service function as the web pages."""

from __future__ import annotations

from flask import request

from webapp.api.auth import current_grant
from webapp.services import audit
from webapp.services.audit import Actor, Target


def note(action: str, target: Target | None = None, changes: dict | None = None) -> None:
    grant = current_grant()
    audit.record(grant.tenant_id, Actor.of_token(grant, request.remote_addr), action, target=target,
                 changes=changes)


__all__ = ["Target", "note"]
