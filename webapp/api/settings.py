"""The organisation's settings over JSON: every token reads them, admin tokens change them."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from webapp.api.audit_trail import note
from webapp.api.auth import current_tenant
from webapp.api.blueprint import bp
from webapp.api.registry import api_route
from webapp.api.schemas.settings import SettingsOut, SettingsPatch
from webapp.models import Tenant
from webapp.services import audit, tenant_settings


def settings_dict(tenant: Tenant) -> dict[str, Any]:
    out = tenant_settings.settings_of(tenant)
    out["webhook_allowlist"] = (out["webhook_allowlist"] or "").splitlines()
    return out


@api_route(bp, "/settings", "GET", summary="The organisation's settings", tag="settings", response=SettingsOut)
def get_settings():
    return jsonify(settings_dict(current_tenant()))


@api_route(bp, "/settings", "PATCH", summary="Change the organisation's settings", tag="settings",
           body=SettingsPatch, response=SettingsOut, errors=(422,), admin=True,
           description="Only the fields sent change. Every field is checked before any is saved: a 422 names "
                       "the first refused one and changes nothing. Needs an admin token (403 otherwise).")
def patch_settings(body: SettingsPatch):
    changes = body.model_dump(exclude_unset=True)
    if "webhook_allowlist" in changes:
        changes["webhook_allowlist"] = "\n".join(changes["webhook_allowlist"] or [])
    tenant = current_tenant()
    before = audit.tenant_snapshot(tenant.id, exclude=BRAND_COLUMN)
    tenant = tenant_settings.update_settings(tenant, changes)
    changed = audit.diff(before, audit.tenant_snapshot(tenant.id, exclude=BRAND_COLUMN))
    if changed:
        note("settings.changed", changes=changed)
    return jsonify(settings_dict(tenant))


BRAND_COLUMN = frozenset({"brand"})
