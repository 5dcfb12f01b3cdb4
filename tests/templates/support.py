"""Helpers for the template tests: an uploaded image row without the upload path (the
assets part owns uploading; here only the tenant's ownership of an id matters)."""

from __future__ import annotations

import secrets

from webapp.extensions import db
from webapp.models import EmailAsset


def add_image(tenant_id: int, filename: str = "logo.png", width: int = 400, height: int = 120) -> int:
    asset = EmailAsset(tenant_id=tenant_id, token=secrets.token_urlsafe(16), filename=filename,
                       content_type="image/png", width=width, height=height, size_bytes=1234,
                       storage_key=f"test/{filename}")
    db.session.add(asset)
    db.session.commit()
    return asset.id
