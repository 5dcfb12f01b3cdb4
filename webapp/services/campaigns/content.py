"""Campaign content checks shared by the campaign, its A/B variants and workflow emails: a
design checked and compiled with the tenant's brand kit and images, header lines."""

from __future__ import annotations

from typing import Any

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.mail.design import CompileFailed, asset_ids, brand_of, compile_design, validate_design
from webapp.mail.templating import check_template_field
from webapp.models import Tenant
from webapp.services.assets import asset_urls


def no_line_breaks(field: str, value: str | None) -> None:
    if value and ("\r" in value or "\n" in value):
        raise ValidationFailed(field, "must not contain line breaks")


def compiled_design(tenant_id: int, raw: Any, field: str = "design") -> tuple[dict[str, Any], str]:
    """The design checked and compiled with the tenant's brand kit and images: (design, HTML).
    An image id that is not the tenant's is refused, naming its block."""
    design = validate_design(raw, field)
    assets = asset_urls(tenant_id, asset_ids(design))
    for path, block in _image_blocks(design, field):
        if block.get("asset_id") and block["asset_id"] not in assets:
            raise ValidationFailed(f"{path}.asset_id", "no such image: upload it first")
    tenant = db.session.get(Tenant, tenant_id)
    try:
        html = compile_design(design, brand_of(tenant.brand if tenant else None), assets)
    except CompileFailed as exc:
        raise ValidationFailed(field, str(exc)) from None
    check_template_field(field, html, html=True)
    return design, html


def _image_blocks(design: dict[str, Any], field: str):
    for i, block in enumerate(design["blocks"]):
        if block["type"] == "image":
            yield f"{field}.blocks[{i}]", block
        for c, column in enumerate(block.get("columns", ()) if block["type"] == "columns" else ()):
            for j, inner in enumerate(column):
                if inner["type"] == "image":
                    yield f"{field}.blocks[{i}].columns[{c}][{j}]", inner
