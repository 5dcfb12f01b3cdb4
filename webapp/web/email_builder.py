"""What the email builder (static/js/email-builder.js, templates/_email_builder.html) is
mounted with, and a design's errors in a marketer's words. Shared by every page that edits
a design: campaigns now, workflow email steps next."""

from __future__ import annotations

import re
from typing import Any

from flask import current_app, url_for
from flask_login import current_user

from webapp.infra.errors import ValidationFailed
from webapp.mail.design import BLOCK_TYPES, asset_ids, builder_schema, validate_design
from webapp.services import merge_tags, templates
from webapp.services.assets import asset_urls
from webapp.web.forms import decode_json_field

# A design error's path: design.blocks[3].url, design.blocks[1].columns[0][2].text
DESIGN_PATH = re.compile(r"^design\.blocks\[(?P<block>\d+)\](?:\.columns\[(?P<column>\d+)\]\[(?P<inner>\d+)\])?"
                         r"(?:\.(?P<field>[a-z_]+))?")


def builder_config(design_json: str | None, errors: dict[str, str] | None = None,
                   tags: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The block types, the design's uploaded images, the merge tags (`tags`, e.g. a
    workflow's with its trigger's; a campaign's by default), the tenant's saved blocks, the
    routes the builder calls (those this server has), and the errors of the last save by path."""
    tenant_id = current_user.tenant_id
    try:
        images = asset_ids(validate_design(decode_json_field(design_json, "design", default="null")))
    except ValidationFailed:
        images = set()  # a design with errors shows its images again once it is fixed
    return {
        "schema": builder_schema(),
        "mergeTags": merge_tags.available(tenant_id) if tags is None else tags,
        "savedBlocks": templates.saved_blocks(tenant_id),
        "assets": {str(k): v for k, v in asset_urls(tenant_id, images).items()},
        "assetsUrl": _url_if("assets.picker"),
        "uploadUrl": _url_if("assets.upload"),
        "saveBlockUrl": _url_if("email_templates.save_block"),
        "errors": errors or {},
    }


def _url_if(endpoint: str) -> str | None:
    """The URL of a route another part of the app may not have yet."""
    return url_for(endpoint) if endpoint in current_app.view_functions else None


def design_problems(design_json: str | None, errors: dict[str, str] | None) -> list[str]:
    """The design's errors in words, for the page without JavaScript (the builder marks its
    blocks and fields itself)."""
    if not errors:
        return []
    try:
        design = decode_json_field(design_json, "design", default="null")
    except ValidationFailed:
        design = None
    return [f"{describe_design_path(design, path)}: {message}" for path, message in errors.items()]


def describe_design_path(design: Any, path: str) -> str:
    """`design.blocks[3].url` in a marketer's words: "Block 4 (Button), Link"."""
    match = DESIGN_PATH.match(path)
    if not match:
        return "The email's design"
    where = f"Block {int(match['block']) + 1}"
    try:
        block = design["blocks"][int(match["block"])]
        if match["column"] is not None:
            block = block["columns"][int(match["column"])][int(match["inner"])]
            where += f", column {int(match['column']) + 1}, block {int(match['inner']) + 1}"
        kind = BLOCK_TYPES[block["type"]]
    except (KeyError, IndexError, TypeError):
        return where
    label = next((f.label for f in kind.fields if f.name == match["field"]), None)
    return f"{where} ({kind.label})" + (f", {label}" if label else "")
