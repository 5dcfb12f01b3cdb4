"""Image files to upload, built with Pillow: every accepted type, with metadata to strip."""

from __future__ import annotations

import io
import random

from PIL import Image

# A camera's EXIF: rotate 90° clockwise to display (orientation 6), its make, and a GPS block.
ORIENTATION, MAKE, GPS = 0x0112, 0x010F, 0x8825


def camera_exif() -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[MAKE] = "SecretCam"
    exif[GPS] = {1: "N", 2: (52.0, 31.0, 12.0)}
    return exif.tobytes()


def encode(image: Image.Image, image_format: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=image_format, **options)
    return out.getvalue()


def picture(size: tuple[int, int] = (64, 48), mode: str = "RGB", seed: int = 1) -> Image.Image:
    """A picture with some detail (noise over a gradient), so encoders have work to do."""
    rng = random.Random(seed)
    width, height = size
    image = Image.linear_gradient("L").resize(size).convert(mode)
    noise = Image.frombytes("L", size, bytes(rng.randrange(256) for _ in range(width * height)))
    if mode in ("RGB", "RGBA"):
        bands = list(image.split())
        bands[1] = Image.blend(bands[1], noise, 0.5)
        image = Image.merge(mode, bands)
    return image


def png(size=(64, 48), **options) -> bytes:
    return encode(picture(size, "RGBA"), "PNG", **options)


def jpeg(size=(64, 48), **options) -> bytes:
    return encode(picture(size), "JPEG", quality=90, **options)


def gif(size=(64, 48), **options) -> bytes:
    return encode(picture(size).convert("P"), "GIF", **options)


def webp(size=(64, 48), **options) -> bytes:
    return encode(picture(size), "WEBP", **options)


def animation(image_format: str, frames: int = 3, size=(40, 30)) -> bytes:
    images = [Image.new("RGB", size, color) for color in ("red", "green", "blue", "white", "black")[:frames]]
    out = io.BytesIO()
    images[0].save(out, format=image_format, save_all=True, append_images=images[1:],
                   duration=[100 + 50 * i for i in range(frames)], loop=0)
    return out.getvalue()


def noise_png(target_bytes: int) -> bytes:
    """A PNG of random pixels of about `target_bytes` (noise does not compress)."""
    side = int((target_bytes / 3) ** 0.5)
    rng = random.Random(7)
    image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    return encode(image, "PNG", compress_level=1)


UPLOADS = {
    "png": (png, "image/png"),
    "jpeg": (jpeg, "image/jpeg"),
    "gif": (gif, "image/gif"),
    "webp": (webp, "image/webp"),
}
