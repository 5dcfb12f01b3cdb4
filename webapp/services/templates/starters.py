"""The starter templates shipped for ticketing: block designs stored as JSON files beside
this module, read once per process, listed before the tenant's own templates with string
ids ("starter:on-sale") so they can never collide with a row's integer id."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

from flask import current_app

from webapp.mail.design import validate_design

FOLDER = Path(__file__).with_name("starters")
PREFIX = "starter:"
# The gallery's order: the campaign a ticketing business sends first comes first.
ORDER = ("on-sale", "vip-presale", "event-reminder", "thank-you", "whats-on")


@functools.cache
def _files() -> dict[str, dict[str, Any]]:
    return {key: json.loads((FOLDER / f"{key}.json").read_text(encoding="utf-8")) for key in ORDER}


def _absolute_images(blocks: list[dict[str, Any]], base_url: str) -> None:
    """Starter images ship under /static; an email needs them at this site's public address."""
    for block in blocks:
        if block.get("type") == "image" and str(block.get("src", "")).startswith("/"):
            block["src"] = base_url + block["src"]
        for column in block.get("columns") or ():
            _absolute_images(column, base_url)


def starter_keys() -> tuple[str, ...]:
    return ORDER


def starter(key: str) -> dict[str, Any]:
    """One starter: {key, name, description, subject, preheader, design} with its images at
    this site's address and the design validated (a broken file fails loudly in tests)."""
    raw = copy.deepcopy(_files()[key])
    _absolute_images(raw["design"]["blocks"], current_app.config["BASE_URL"])
    raw["design"] = validate_design(raw["design"])
    return {"key": key, **raw}


def is_starter_id(template_id: Any) -> bool:
    return isinstance(template_id, str) and template_id.startswith(PREFIX)


def starter_key(template_id: str) -> str | None:
    """The file key of a starter id, or None when no starter has that id."""
    key = template_id[len(PREFIX):] if is_starter_id(template_id) else ""
    return key if key in ORDER else None
