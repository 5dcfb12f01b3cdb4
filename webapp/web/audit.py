"""The audit log from the web side: `note` records what the signed-in person just did (the
pages call it after their service call succeeded), `audits_tenant_change` records what a
settings form changed, and /settings/audit shows the log to the tenant's owners."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Blueprint, abort, make_response, render_template, request
from flask_login import current_user, login_required

from webapp.infra.errors import ValidationFailed
from webapp.services import audit, team
from webapp.services.audit import Actor, Target

bp = Blueprint("audit", __name__, url_prefix="/settings/audit")
PAGE_SIZE = 50


def actor() -> Actor:
    return Actor.of_user(current_user._get_current_object(), request.remote_addr)


def note(action: str, target: Target | None = None, changes: dict | None = None) -> None:
    """Record `action` by the signed-in person, from this request's address."""
    audit.record(current_user.tenant_id, actor(), action, target=target, changes=changes)


def audits_tenant_change(action: str, *, only: frozenset[str] | None = None,
                         exclude: frozenset[str] = frozenset()) -> Callable:
    """Around a view that changes the tenant row: when it succeeds (a redirect), record the
    fields that changed as {field: [old, new]}. The view stays as it is, and so does the
    service it calls."""
    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            before = audit.tenant_snapshot(current_user.tenant_id, only=only, exclude=exclude)
            response = make_response(view(*args, **kwargs))
            if 300 <= response.status_code < 400:
                changes = audit.diff(before, audit.tenant_snapshot(current_user.tenant_id, only=only,
                                                                   exclude=exclude))
                if changes:
                    note(action, changes=changes)
            return response
        return wrapper
    return decorator


# --- the page ----------------------------------------------------------------------------------

def owner_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_owner:
            abort(403, "Only the team's owners can read the audit log.")
        return view(*args, **kwargs)
    return wrapper


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else None


@bp.get("/")
@login_required
@owner_required
def index():
    action = request.args.get("action") or ""
    action = action if action in audit.ACTIONS else ""
    members = [user for user, _ in team.list_members(current_user.tenant_id)]
    person = _int_or_none(request.args.get("person"))
    person = person if any(user.id == person for user in members) else None
    cursor = request.args.get("cursor") or None
    try:
        page = audit.audit_page(current_user.tenant_id, action=action or None, user_id=person, limit=PAGE_SIZE,
                                cursor=cursor)
    except ValidationFailed:  # a tampered cursor: the first page
        page = audit.audit_page(current_user.tenant_id, action=action or None, user_id=person, limit=PAGE_SIZE)
    return render_template("audit/index.html", page=page, actions=audit.ACTIONS, action=action, members=members,
                           person=person, describe=audit.change_sentences, cursor=cursor)
