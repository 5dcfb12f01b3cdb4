"""The audit log: one function records what happened, from the web pages and the API alike.

Each entry point builds an `Actor` (the signed-in person or the API token, and the request's
address) and calls `record` after the change it reports was committed. Every action is
declared once in ACTIONS, which gives its sentence and its name in the log's filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.pagination import Page, keyset_by_id
from webapp.models import ApiToken, AuditEvent, Tenant, User
from webapp.services.tenants import TokenGrant


@dataclass(frozen=True)
class Action:
    verb: str        # "cancelled campaign": the actor's name goes before, the target after
    label: str       # the filter's name for it


ACTIONS: dict[str, Action] = {
    "signed_in": Action("signed in", "Signed in"),
    "signed_out": Action("signed out", "Signed out"),
    "password.changed": Action("changed their password", "Password changed"),
    "password.reset": Action("reset their password with an emailed link", "Password reset"),
    "settings.changed": Action("changed the organisation settings", "Settings changed"),
    "brand.changed": Action("changed the brand kit", "Brand kit changed"),
    "token.created": Action("created API token", "API token created"),
    "token.revoked": Action("revoked API token", "API token revoked"),
    "member.invited": Action("invited", "Member invited"),
    "invite.revoked": Action("revoked the invitation of", "Invitation revoked"),
    "member.joined": Action("joined the team", "Member joined"),
    "member.role_changed": Action("changed the role of", "Role changed"),
    "member.removed": Action("removed", "Member removed"),
    "campaign.sent": Action("sent campaign", "Campaign sent"),
    "campaign.scheduled": Action("scheduled campaign", "Campaign scheduled"),
    "campaign.cancelled": Action("cancelled campaign", "Campaign cancelled"),
    "campaign.winner_chosen": Action("chose the A/B test winner of campaign", "A/B test winner chosen"),
    "workflow.switched_on": Action("switched on workflow", "Workflow switched on"),
    "workflow.switched_off": Action("switched off workflow", "Workflow switched off"),
    "import.started": Action("started importing customers from", "Import started"),
    "customers.exported": Action("exported", "Customers exported"),
    "customer.erased": Action("erased customer", "Customer erased"),
    "provider_webhooks.changed": Action("changed the bounce and complaint webhook credentials",
                                        "Bounce webhooks changed"),
    "provider_webhooks.new_key": Action("replaced the bounce and complaint webhook URLs",
                                        "Bounce webhook URLs replaced"),
    "dkim.key_created": Action("created a DKIM key for", "DKIM key created"),
    "webhook_endpoint.created": Action("added webhook endpoint", "Webhook endpoint added"),
    "webhook_endpoint.changed": Action("changed webhook endpoint", "Webhook endpoint changed"),
    "webhook_endpoint.deleted": Action("deleted webhook endpoint", "Webhook endpoint deleted"),
    "webhook_endpoint.secret_revealed": Action("revealed the signing secret of webhook endpoint",
                                               "Webhook secret revealed"),
}

# A field whose name holds one of these is recorded as changed, never with its values.
SECRET_WORDS = ("password", "secret", "token", "api_key", "private")
MAX_VALUE = 200  # characters of a changed value kept in the log


@dataclass(frozen=True)
class Actor:
    """Who acted, as the entry point saw them. The label is kept on the event, so it still
    says who it was after the person or token is deleted."""

    kind: str  # user | token | system
    label: str
    user_id: int | None = None
    token_id: int | None = None
    address: str | None = None

    @classmethod
    def of_user(cls, user: User, address: str | None) -> Actor:
        return cls("user", user.display_name, user_id=user.id, address=address)

    @classmethod
    def of_token(cls, token: ApiToken | TokenGrant, address: str | None) -> Actor:
        return cls("token", f"API token “{token.name}”", token_id=token.id, address=address)


@dataclass(frozen=True)
class Target:
    type: str
    id: int | None
    label: str | None


def record(tenant_id: int, actor: Actor, action: str, *, target: Target | None = None,
           changes: dict[str, list[Any] | None] | None = None) -> AuditEvent:
    """Append one event to the tenant's log and commit it. Call it after the change it
    reports was committed, so a refused change leaves no event."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    event = AuditEvent(tenant_id=tenant_id, actor_kind=actor.kind, actor_user_id=actor.user_id,
                       actor_token_id=actor.token_id, actor_label=actor.label[:320],
                       address=(actor.address or None) and actor.address[:64], action=action,
                       target_type=target.type if target else None, target_id=target.id if target else None,
                       target_label=((target.label or "")[:320] or None) if target else None,
                       changes=changes or None)
    db.session.add(event)
    db.session.commit()
    return event


def _is_secret(field: str) -> bool:
    return any(word in field.lower() for word in SECRET_WORDS)


def _loggable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 1] + "…"


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any] | None]:
    """{field: [old, new]} for every field whose value changed; a secret field maps to None
    (changed, values not kept). Nested dicts (the brand kit) are compared key by key as
    "field.key"."""
    changes: dict[str, list[Any] | None] = {}
    for field in sorted(set(before) | set(after)):
        old, new = before.get(field), after.get(field)
        if isinstance(old, dict) or isinstance(new, dict):
            nested = diff(old if isinstance(old, dict) else {}, new if isinstance(new, dict) else {})
            for key, change in nested.items():
                changes[f"{field}.{key}"] = change
        elif old != new:
            changes[field] = None if _is_secret(field) else [_loggable(old), _loggable(new)]
    return changes


# Tenant columns no settings form changes (or that the log would only repeat).
_NOT_SETTINGS = frozenset({"id", "slug", "created_at"})


def tenant_snapshot(tenant_id: int, *, only: frozenset[str] | None = None,
                    exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The tenant's settings as stored now (read afresh), to diff before and after a change."""
    tenant = db.session.get(Tenant, tenant_id)
    db.session.refresh(tenant)
    return {c.name: getattr(tenant, c.name) for c in Tenant.__table__.columns
            if c.name not in _NOT_SETTINGS | exclude and (only is None or c.name in only)}


# --- reading the log ---------------------------------------------------------------------

def audit_page(tenant_id: int, *, action: str | None = None, user_id: int | None = None, limit: int = 50,
               cursor: str | None = None) -> Page:
    """The tenant's events, newest first, keyset-paginated; optionally one action's, or one
    person's (a member of this tenant)."""
    stmt = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if user_id is not None:
        stmt = stmt.where(AuditEvent.actor_user_id == user_id)
    return keyset_by_id(stmt, AuditEvent.id, limit=limit, cursor=cursor)


def field_label(field: str) -> str:
    """"brand.primary_color" -> "brand primary color"."""
    return field.replace(".", " ").replace("_", " ")


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def change_sentences(changes: dict[str, list[Any] | None] | None) -> list[str]:
    """"Changed timezone from UTC to Europe/London", one per changed field."""
    sentences = []
    for field, values in (changes or {}).items():
        label = field_label(field)
        if values is None:
            sentences.append(f"Changed {label}")
        elif values[0] is None:
            sentences.append(f"Set {label} to {_shown(values[1])}")
        else:
            sentences.append(f"Changed {label} from {_shown(values[0])} to {_shown(values[1])}")
    return sentences
