"""Uploaded images: where the builder's image blocks point.

An upload is trusted for nothing: its type is what Pillow finds in the bytes (never the name
or the client's Content-Type), its size and pixel count are bounded before any pixel is
decoded, and what is stored is Pillow's re-encoding, so metadata (EXIF, GPS, comments) and
anything smuggled beside the pixels (a script after the image data) are gone.
"""

from __future__ import annotations

import io
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO

from flask import current_app
from PIL import Image, ImageCms, ImageOps, ImageSequence, JpegImagePlugin
from sqlalchemy import select
from werkzeug.utils import secure_filename

from webapp.extensions import db
from webapp.infra.errors import NotFound, ValidationFailed
from webapp.infra.pagination import Page, keyset_by_id
from webapp.infra.storage import ObjectStore, store_from_config
from webapp.infra.validation import text_problem
from webapp.models import EmailAsset

# Pillow's format name -> (the content type we serve, the extension we store).
IMAGE_TYPES = {
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/webp", "webp"),
}
CONTENT_TYPES = frozenset(content_type for content_type, _ in IMAGE_TYPES.values())
# An animation is kept when it is this small, else its first frame is: a 5 MB GIF can hold
# thousands of frames, and each is decoded to re-encode it.
MAX_FRAMES = 150
MAX_ANIMATION_PIXELS = 60_000_000
MAX_ALT = 500
MAX_NAME = 80
# Metadata a re-encoded image keeps: what drawing it needs, nothing about who made it.
KEPT_INFO = ("transparency", "duration", "loop", "background")
NOT_AN_IMAGE = "is not a PNG, JPEG, GIF or WebP image"


@dataclass
class CheckedImage:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


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


# --- checking and re-encoding ----------------------------------------------------------------

def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.3g} MB"


def check_image(data: bytes, *, max_bytes: int, max_side: int, max_pixels: int) -> CheckedImage:
    """The upload re-encoded, or ValidationFailed naming `file` with what is wrong with it."""
    if not data:
        raise ValidationFailed("file", "is empty: choose an image file")
    if len(data) > max_bytes:
        raise ValidationFailed("file", f"is larger than {_megabytes(max_bytes)} "
                                       f"({_megabytes(len(data))}): make it smaller and try again")
    image = _open(data)
    width, height = image.size
    if width < 1 or height < 1:
        raise ValidationFailed("file", NOT_AN_IMAGE)
    if max(width, height) > max_side or width * height > max_pixels:
        raise ValidationFailed("file", f"is {width}x{height} pixels: images may be at most {max_side} pixels "
                                       f"on a side and {max_pixels / 1_000_000:g} megapixels in all")
    content_type, extension = IMAGE_TYPES[image.format]
    try:
        _open(data).verify()  # structure and checksums, before any pixel is decoded
        encoded, (width, height) = _reencode(image)
    except ValidationFailed:
        raise
    # Pillow's decoders answer hostile bytes with many kinds of error (OSError, SyntaxError,
    # ValueError, struct.error, EOFError...): each means this is no image we can use.
    except Exception:
        raise ValidationFailed("file", "is damaged or incomplete: it could not be read as an image") from None
    return CheckedImage(encoded, content_type, extension, width, height)


def _open(data: bytes) -> Image.Image:
    try:
        # Only the four plugins are tried: no other format (SVG, PSD, EPS...) gets a parser.
        image = Image.open(io.BytesIO(data), formats=list(IMAGE_TYPES))
    except Image.DecompressionBombError:
        raise ValidationFailed("file", "has far too many pixels to be an email image") from None
    except Exception:  # as in check_image: no decoder recognised the bytes
        raise ValidationFailed("file", NOT_AN_IMAGE) from None
    if image.format not in IMAGE_TYPES:
        raise ValidationFailed("file", NOT_AN_IMAGE)
    return image


def _kept_info(frame: Image.Image) -> Image.Image:
    frame.info = {k: v for k, v in frame.info.items() if k in KEPT_INFO}
    return frame


def _reencode(image: Image.Image) -> tuple[bytes, tuple[int, int]]:
    image_format = image.format
    out = io.BytesIO()
    frames = _animation(image)
    if frames:
        durations = [frame.info.get("duration", 100) for frame in frames]
        frames[0].save(out, format=image_format, save_all=True, append_images=frames[1:], duration=durations,
                       loop=image.info.get("loop", 0), **_options(image))
        return out.getvalue(), frames[0].size
    image.seek(0)
    image.load()
    options = _options(image)
    # Phones store the camera's orientation in EXIF, which goes: turn the pixels instead.
    image = ImageOps.exif_transpose(image)
    if image_format == "JPEG":
        image = _to_srgb(image)
    frame = _kept_info(image.copy())
    frame.save(out, format=image_format, **options)
    return out.getvalue(), frame.size


def _animation(image: Image.Image) -> list[Image.Image]:
    """The frames of a GIF or WebP animation small enough to keep, else [] (first frame only)."""
    count = getattr(image, "n_frames", 1)
    width, height = image.size
    if image.format not in ("GIF", "WEBP") or not 1 < count <= MAX_FRAMES or \
            count * width * height > MAX_ANIMATION_PIXELS:
        return []
    frames = []
    for frame in ImageSequence.Iterator(image):
        if frame.size != image.size:  # frames of changing sizes: not an animation we re-create faithfully
            return []
        frames.append(_kept_info(frame.copy()))
    return frames


def _to_srgb(image: Image.Image) -> Image.Image:
    """JPEGs in another colour space (a camera's Adobe RGB, a print CMYK) converted to sRGB,
    what email clients assume: the profile is metadata we drop, the colours it means stay."""
    profile = image.info.get("icc_profile")
    if profile:
        try:
            converted = ImageCms.profileToProfile(image, ImageCms.ImageCmsProfile(io.BytesIO(profile)),
                                                  ImageCms.createProfile("sRGB"), outputMode="RGB")
            if converted is not None:
                image = converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # an unreadable profile: the pixels as they are
    return image if image.mode in ("L", "RGB") else image.convert("RGB")


def _options(original: Image.Image) -> dict:
    """Encoder settings: a JPEG keeps its own quantization tables and chroma subsampling, so
    re-encoding neither bloats a compressed photo nor blurs a fine one."""
    if original.format == "JPEG":
        tables = getattr(original, "quantization", None)
        if not tables:
            return {"quality": 90, "optimize": True}
        sampling = JpegImagePlugin.get_sampling(original)
        return {"qtables": tables, "optimize": True, **({"subsampling": sampling} if sampling != -1 else {})}
    return {"WEBP": {"quality": 85, "method": 4}, "PNG": {}, "GIF": {}}[original.format]


def safe_filename(original: str | None, extension: str) -> str:
    """A name for the URL and the download: ASCII letters, digits, dots, dashes and
    underscores, ending with the extension of the image's real type."""
    original = re.split(r"[/\\]", original or "")[-1]  # a path's last part: the name
    stem = secure_filename(original.rsplit(".", 1)[0] if "." in original else original)
    stem = stem.strip("._-")[:MAX_NAME].rstrip("._-")
    return f"{stem or 'image'}.{extension}"


# --- the library -----------------------------------------------------------------------------

def _store() -> ObjectStore:
    """The configured store, built once per app and per setting (tests switch to S3)."""
    config = current_app.config
    key = ("asset_store", config["ASSET_STORAGE"], config["ASSET_DIR"], config.get("ASSET_S3_BUCKET"),
           config.get("ASSET_S3_ENDPOINT_URL"), config.get("ASSET_S3_REGION"))
    store = current_app.extensions.get(key)
    if store is None:
        store = current_app.extensions[key] = store_from_config(config)
    return store


def _checked_alt(alt: str | None) -> str | None:
    alt = (alt or "").strip()
    if not alt:
        return None
    if len(alt) > MAX_ALT:
        raise ValidationFailed("alt", f"must be at most {MAX_ALT} characters")
    if reason := text_problem(alt):
        raise ValidationFailed("alt", reason)
    return alt


def upload_asset(tenant_id: int, filename: str | None, data: bytes, *, alt: str | None = None) -> EmailAsset:
    """Check, re-encode and store an uploaded image; ValidationFailed naming `file` (or `alt`)."""
    alt = _checked_alt(alt)
    config = current_app.config
    image = check_image(data, max_bytes=config["ASSET_MAX_BYTES"], max_side=config["ASSET_MAX_SIDE"],
                        max_pixels=config["ASSET_MAX_PIXELS"])
    token = secrets.token_urlsafe(18)
    asset = EmailAsset(tenant_id=tenant_id, token=token, filename=safe_filename(filename, image.extension),
                       content_type=image.content_type, width=image.width, height=image.height,
                       size_bytes=len(image.data), storage_key=f"{token}.{image.extension}", alt=alt)
    store = _store()
    store.put(asset.storage_key, image.data, image.content_type)
    db.session.add(asset)
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        store.delete(asset.storage_key)  # no row points at it: do not keep the bytes
        raise
    return asset


def get_asset(tenant_id: int, asset_id: int) -> EmailAsset:
    """One of the tenant's assets; NotFound for another tenant's id like a missing one."""
    asset = db.session.scalar(select(EmailAsset).where(EmailAsset.tenant_id == tenant_id, EmailAsset.id == asset_id))
    if asset is None:
        raise NotFound("image not found")
    return asset


def assets_page(tenant_id: int, *, limit: int = 50, cursor: str | None = None) -> Page:
    """The tenant's images, newest first, a keyset page at a time."""
    return keyset_by_id(select(EmailAsset).where(EmailAsset.tenant_id == tenant_id), EmailAsset.id,
                        limit=limit, cursor=cursor)


def delete_asset(tenant_id: int, asset_id: int) -> None:
    """Remove an image and its stored bytes. Emails already sent that show it lose the image."""
    asset = get_asset(tenant_id, asset_id)
    key = asset.storage_key
    db.session.delete(asset)
    db.session.commit()
    # After the commit: a failed removal leaves unreachable bytes, never a row without them.
    _store().delete(key)


def public_asset(token: str, filename: str) -> EmailAsset | None:
    """The asset a public URL names: the token and the file name must both match."""
    if not token or len(token) > 64:
        return None
    asset = db.session.scalar(select(EmailAsset).where(EmailAsset.token == token))
    if asset is None or asset.filename != filename or asset.content_type not in CONTENT_TYPES:
        return None
    return asset


def open_asset(asset: EmailAsset) -> IO[bytes] | None:
    """The stored bytes of an asset (the caller closes the stream), or None if they are gone."""
    return _store().open(asset.storage_key)
