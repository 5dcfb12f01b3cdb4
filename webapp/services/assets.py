"""Uploaded images: where the builder's image blocks point."""

from __future__ import annotations

from collections.abc import Iterable

from flask import current_app
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import EmailAsset


def asset_url(asset: EmailAsset, base_url: str | None = None) -> str:
    """The public address of an asset: its random token, nothing of the tenant."""
    return f"{base_url or current_app.config['BASE_URL']}/a/{asset.token}/{asset.filename}"


def asset_urls(tenant_id: int, ids: Iterable[int]) -> dict[int, dict]:
    """The tenant's assets among `ids`: {id: {"url", "width", "height"}}; others' ids are absent."""
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return {}
    rows = db.session.scalars(select(EmailAsset).where(EmailAsset.tenant_id == tenant_id,
                                                       EmailAsset.id.in_(wanted)))
    return {a.id: {"url": asset_url(a), "width": a.width, "height": a.height} for a in rows}
