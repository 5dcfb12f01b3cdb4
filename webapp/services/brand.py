"""The tenant's brand kit: logo, colours, font stack, button style and default footer text.

New designs and starter templates take it: the compiler fills whatever a design's own
settings leave open from `brand_of(tenant.brand)`. Only what the marketer set is stored;
the defaults stay the compiler's (webapp/mail/design), so they can improve for everyone.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.errors import NotFound, ValidationFailed
from webapp.infra.validation import text_problem
from webapp.mail.design import FONT_STACKS, brand_of
from webapp.models import EmailAsset, Tenant
from webapp.services.assets import asset_urls

# The font stacks (FONT_STACKS) are the compiler's: email-safe ones every client has.
COLOUR_FIELDS = ("primary_color", "button_text_color", "link_color", "text_color", "background_color",
                 "content_background")
MAX_FOOTER_TEXT = 500
MAX_RADIUS = 40
BRAND_FIELDS = ("logo_asset_id", *COLOUR_FIELDS, "font_family", "button_radius", "footer_text")
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


def _tenant(tenant_id: int) -> Tenant:
    tenant = db.session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    return tenant


def get_brand(tenant_id: int) -> dict[str, Any]:
    """The brand kit with every default filled in (what designs are compiled with)."""
    return brand_of(_tenant(tenant_id).brand)


def _colour(field: str, value: Any) -> str:
    if not isinstance(value, str) or not _COLOUR.fullmatch(value):
        raise ValidationFailed(field, "must be a colour written #rrggbb, e.g. #3355ff")
    return value.lower()


def _radius(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RADIUS:
        raise ValidationFailed("button_radius", f"must be a whole number of pixels from 0 to {MAX_RADIUS}")
    return value


def _footer_text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationFailed("footer_text", "must be text")
    if len(value) > MAX_FOOTER_TEXT:
        raise ValidationFailed("footer_text", f"must be at most {MAX_FOOTER_TEXT} characters")
    if reason := text_problem(value):
        raise ValidationFailed("footer_text", reason)
    return value.strip()


def _font(value: Any) -> str:
    if value not in {stack for stack, _ in FONT_STACKS}:
        raise ValidationFailed("font_family", "must be one of the email-safe font stacks offered")
    return value


def _logo(tenant_id: int, value: Any) -> tuple[int | None, str | None]:
    """The logo's asset id and its public address; another tenant's image is no image."""
    if value is None:
        return None, None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed("logo_asset_id", "must be the id of one of your images, or null")
    found = asset_urls(tenant_id, [value]) if 0 < value < 2**31 else {}
    if value not in found:
        raise ValidationFailed("logo_asset_id", "no such image in your library")
    return value, found[value]["url"]


def validate_brand(tenant_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """The changes, checked and normalised; raises ValidationFailed naming the field."""
    if not isinstance(changes, dict):
        raise ValidationFailed("brand", "must be an object")
    out: dict[str, Any] = {}
    for field, value in changes.items():
        if field not in BRAND_FIELDS:
            raise ValidationFailed(str(field)[:100], "is not a brand kit setting")
        if field in COLOUR_FIELDS:
            out[field] = _colour(field, value)
        elif field == "font_family":
            out[field] = _font(value)
        elif field == "button_radius":
            out[field] = _radius(value)
        elif field == "footer_text":
            out[field] = _footer_text(value)
        else:
            out["logo_asset_id"], out["logo_url"] = _logo(tenant_id, value)
    return out


def update_brand(tenant_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Apply `changes` (any of BRAND_FIELDS) to the tenant's brand kit; returns the full kit."""
    tenant = _tenant(tenant_id)
    values = validate_brand(tenant_id, changes)
    before = brand_of(tenant.brand)
    # Links keep following the primary colour until someone gives them a colour of their own.
    if "primary_color" in values and "link_color" not in values and before["link_color"] == before["primary_color"]:
        values["link_color"] = values["primary_color"]
    # A new dict, so the JSON column sees the change.
    tenant.brand = {**(tenant.brand or {}), **values}
    db.session.commit()
    return brand_of(tenant.brand)


def logo_choices(tenant_id: int) -> list[tuple[int, str]]:
    """The tenant's images a logo can be, newest first: (id, filename)."""
    rows = db.session.execute(select(EmailAsset.id, EmailAsset.filename)
                              .where(EmailAsset.tenant_id == tenant_id)
                              .order_by(EmailAsset.id.desc()).limit(500))
    return [(row.id, row.filename) for row in rows]
