"""Uploaded images for the email builder."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from webapp.api.schemas.common import PageQuery


class AssetUpload(BaseModel):
    """multipart/form-data fields of POST /assets."""

    file: bytes = Field(description="A PNG, JPEG, GIF or WebP image (the type is read from the bytes, not the "
                                    "name): at most 5 MB, 4000 pixels on a side and 20 megapixels by default. "
                                    "It is re-encoded: metadata such as EXIF and GPS is removed.")
    alt: str | None = Field(default=None, max_length=500,
                            description="Alternative text image blocks use when they give none.")


class AssetOut(BaseModel):
    id: int
    url: str = Field(description="Public address of the image, for emails: no sign-in, long cache lifetime.")
    width: int
    height: int
    filename: str = Field(description="The uploaded name made safe, with the extension of the real type.")
    content_type: Literal["image/png", "image/jpeg", "image/gif", "image/webp"]
    size_bytes: int = Field(description="Size of the stored (re-encoded) file.")
    alt: str | None
    created_at: datetime


class AssetPage(BaseModel):
    data: list[AssetOut]
    next_cursor: str | None


class AssetListQuery(PageQuery):
    pass
