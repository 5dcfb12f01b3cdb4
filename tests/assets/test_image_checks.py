"""What an upload must be to become an email image, decided from the bytes by Pillow: each
accepted type is re-encoded without its metadata; everything else is a 422 naming `file`."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageSequence, PngImagePlugin

from webapp.infra.errors import ValidationFailed
from webapp.services.assets import MAX_FRAMES, check_image, safe_filename

from .images import GPS, MAKE, UPLOADS, animation, camera_exif, encode, gif, jpeg, picture, png, webp

# Touches no test database: the SQLite run has it, the PostgreSQL run skips it.
pytestmark = pytest.mark.no_database

LIMITS = {"max_bytes": 5 * 1024 * 1024, "max_side": 4000, "max_pixels": 20_000_000}
CHECKS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def refused(data: bytes, **limits) -> str:
    with pytest.raises(ValidationFailed) as caught:
        check_image(data, **{**LIMITS, **limits})
    assert caught.value.field == "file"
    return caught.value.reason


def stored(data: bytes) -> Image.Image:
    checked = check_image(data, **LIMITS)
    image = Image.open(io.BytesIO(checked.data))
    assert (image.width, image.height) == (checked.width, checked.height)
    return image


# --- accepted, re-encoded ------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(UPLOADS))
def test_each_type_is_accepted_and_re_encoded_without_exif(kind):
    make, content_type = UPLOADS[kind]
    options = {"exif": camera_exif()} if kind in ("png", "jpeg", "webp") else {"comment": b"SecretCam"}
    original = make((120, 80), **options)

    checked = check_image(original, **LIMITS)
    image = Image.open(io.BytesIO(checked.data))

    assert checked.content_type == content_type
    assert image.get_format_mimetype() == content_type
    assert checked.data != original
    assert not dict(image.getexif())
    assert b"SecretCam" not in checked.data
    assert "exif" not in image.info and "comment" not in image.info
    image.load()  # the stored bytes decode in full


def test_a_phone_photo_is_turned_upright_and_its_camera_and_location_dropped():
    original = jpeg((64, 48), exif=camera_exif())

    image = stored(original)

    # Orientation 6 (rotate 90° to display): the pixels are turned, the tag is gone.
    assert image.size == (48, 64)
    exif = image.getexif()
    assert MAKE not in exif and GPS not in exif and 0x0112 not in exif


@pytest.mark.parametrize("make", [png, webp], ids=["png", "webp"])
def test_other_types_are_turned_upright_from_their_exif_too(make):
    assert stored(make((64, 48), exif=camera_exif())).size == (48, 64)


def test_png_text_chunks_and_colour_profiles_are_dropped():
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<script>alert(1)</script>")
    info.add_itxt("Author", "Mallory")
    original = encode(picture((50, 50), "RGBA"), "PNG", pnginfo=info, icc_profile=b"\0" * 200)

    image = stored(original)

    assert not getattr(image, "text", {})
    assert "icc_profile" not in image.info
    assert image.mode == "RGBA"


@pytest.mark.parametrize("quality", [50, 75, 95])
def test_a_jpeg_keeps_its_compression_rather_than_growing(quality):
    original = encode(picture((800, 600)), "JPEG", quality=quality)

    checked = check_image(original, **LIMITS)

    assert len(checked.data) <= len(original) * 1.05


def test_a_cmyk_jpeg_is_stored_as_rgb():
    image = stored(encode(Image.new("CMYK", (30, 20), (0, 80, 80, 0)), "JPEG"))

    assert image.mode == "RGB"


@pytest.mark.parametrize("image_format", ["GIF", "WEBP"])
def test_a_small_animation_keeps_its_frames_and_timing(image_format):
    image = stored(animation(image_format, frames=3))

    assert image.n_frames == 3
    durations = [(frame.load(), frame.info.get("duration"))[1] for frame in ImageSequence.Iterator(image)]
    assert durations == [100, 150, 200]


def test_an_animation_past_the_frame_budget_keeps_its_first_frame():
    frames = [Image.new("RGB", (8, 8), (i % 256, 0, 0)) for i in range(MAX_FRAMES + 1)]
    original = io.BytesIO()
    frames[0].save(original, format="GIF", save_all=True, append_images=frames[1:], duration=20)

    image = stored(original.getvalue())

    assert getattr(image, "n_frames", 1) == 1


def test_an_animated_png_keeps_its_first_frame():
    image = stored(animation("PNG", frames=3))

    assert getattr(image, "n_frames", 1) == 1
    assert image.getpixel((0, 0))[:3] == (255, 0, 0)


def test_bytes_after_the_image_do_not_survive_re_encoding():
    payload = b"<html><script>alert(document.cookie)</script></html>"
    for original in (png() + payload, gif() + payload, jpeg(comment=payload)):
        checked = check_image(original, **LIMITS)

        assert b"<script" not in checked.data


def test_the_largest_allowed_image_passes():
    checked = check_image(encode(Image.new("L", (4000, 4000), 200), "PNG"), **LIMITS)

    assert (checked.width, checked.height) == (4000, 4000)


# --- refused ------------------------------------------------------------------------------------

def test_an_empty_file_is_refused():
    assert "empty" in refused(b"")


def test_a_file_over_the_size_limit_is_refused_before_it_is_read():
    reason = refused(png((300, 300)), max_bytes=1000)

    assert "larger than" in reason


SIGNATURES = (b"\x89PNG", b"GIF8", b"\xff\xd8", b"RIFF")


@given(data=st.binary(min_size=1, max_size=4096).filter(lambda b: not b.startswith(SIGNATURES)))
@CHECKS
def test_random_bytes_are_refused(data):
    assert refused(data)


@given(signature=st.sampled_from([b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"\xff\xd8\xff", b"RIFF"]),
       rest=st.binary(max_size=2048))
@CHECKS
def test_random_bytes_behind_a_signature_are_refused_or_become_a_real_image(signature, rest):
    # Hypothesis builds tiny valid GIFs this way (a 1x1 frame): those are images, re-encoded.
    try:
        checked = check_image(signature + rest, **LIMITS)
    except ValidationFailed as refusal:
        assert refusal.field == "file"
    else:
        image = Image.open(io.BytesIO(checked.data))
        image.load()
        assert image.get_format_mimetype() == checked.content_type


TRUNCATABLE = {"png": png((80, 60)), "jpeg": jpeg((80, 60)), "gif": gif((80, 60)), "webp": webp((80, 60)),
               "webp animation": animation("WEBP")}


@pytest.mark.parametrize("kind", sorted(TRUNCATABLE))
@given(data=st.data())
@CHECKS
def test_a_truncated_image_is_refused(kind, data):
    original = TRUNCATABLE[kind]
    # Cut inside the pixel data or before it (a missing trailer byte alone loses no pixel).
    cut = data.draw(st.integers(0, len(original) - 16), label="cut")

    assert refused(original[:cut])


@given(data=st.data())
@CHECKS
def test_a_gif_cut_between_frames_keeps_only_whole_frames_or_is_refused(data):
    original = animation("GIF", frames=5)
    # At least into the last frame's data (its terminator and the trailer alone lose no pixel).
    cut = data.draw(st.integers(0, len(original) - 8), label="cut")

    try:
        image = stored(original[:cut])
    except ValidationFailed as refusal:
        assert refusal.field == "file"
    else:  # a GIF holds its frames one after the other: what came before the cut is a GIF
        assert getattr(image, "n_frames", 1) < 5


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header(width: int, height: int, body: bytes = b"") -> bytes:
    """A PNG that claims `width` x `height` 1-bit pixels, with `body` as its only data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(body))
            + png_chunk(b"IEND", b""))


HTML = st.text(min_size=0, max_size=300).map(lambda s: f"<html><body onload=alert(1)>{s}</body></html>".encode())
DISGUISES = st.sampled_from([b"\x89PNG\r\n\x1a\n", b"GIF89a", b"\xff\xd8\xff\xe0", b"RIFF\x00\x00\x00\x00WEBPVP8 ",
                             b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 10, 10, 8, 2, 0, 0, 0))])


@given(prefix=DISGUISES, html=HTML)
@CHECKS
def test_html_behind_an_image_signature_is_refused(prefix, html):
    assert refused(prefix + html)


SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b'<script>alert(1)</script><rect width="10" height="10"/></svg>')


@pytest.mark.parametrize("data", [SVG, SVG.replace(b'<?xml version="1.0"?>', b""), b"<html><img src=x></html>",
                                  b"%PDF-1.4\n", encode(Image.new("RGB", (4, 4)), "BMP"),
                                  encode(Image.new("RGB", (4, 4)), "TIFF"), encode(Image.new("RGB", (4, 4)), "ICO")],
                         ids=["svg", "svg without prolog", "html", "pdf", "bmp", "tiff", "ico"])
def test_other_formats_are_refused_as_not_an_image(data):
    assert "is not a PNG, JPEG, GIF or WebP image" in refused(data)


@pytest.mark.parametrize(("width", "height"), [(4001, 10), (10, 4001), (100_000, 100_000), (2**31 - 1, 1)])
def test_a_decompression_bomb_is_refused_before_its_pixels_are_decoded(width, height):
    # A few hundred bytes claiming up to 10 gigapixels: refused from the header alone.
    bomb = png_header(width, height, b"\x00" * 64)

    reason = refused(bomb)

    assert "pixels" in reason


def test_pillows_own_bomb_limit_is_a_refusal_too():
    # Past twice Pillow's MAX_IMAGE_PIXELS, Image.open itself raises DecompressionBombError.
    assert "pixels" in refused(png_header(20_000, 20_000), max_side=100_000, max_pixels=10**10)


def test_the_megapixel_limit_applies_within_the_side_limit():
    reason = refused(png_header(5000, 5000), max_side=10_000, max_pixels=20_000_000)

    assert "5000x5000" in reason and "20 megapixels" in reason


# --- names --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("original", "extension", "expected"), [
    ("Poster.PNG", "png", "Poster.png"),
    ("photo.jpeg.html", "png", "photo.jpeg.png"),
    ("../../etc/passwd", "gif", "passwd.gif"),
    ("C:\\Users\\ada\\Desktop\\Stage.jpg", "jpg", "Stage.jpg"),
    ("Plakát final.webp", "webp", "Plakat_final.webp"),
    ("logo.svg", "png", "logo.png"),
    ("", "jpg", "image.jpg"),
    (None, "jpg", "image.jpg"),
    (".htaccess", "png", "image.png"),
    ("\x00.png", "png", "image.png"),
    ("<script>.png", "png", "script.png"),
])
def test_file_names_are_made_safe_and_end_with_the_real_type(original, extension, expected):
    assert safe_filename(original, extension) == expected


@given(name=st.text(max_size=500))
@CHECKS
def test_any_file_name_becomes_a_safe_one(name):
    result = safe_filename(name, "png")

    assert result.endswith(".png") and len(result) <= 84
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in result)
    assert not result.startswith(".")
