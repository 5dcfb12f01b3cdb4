"""The Images page (library, upload, delete), the builder's picker and its fetch upload."""

from __future__ import annotations

import io
import re

import pytest

from tests.assets.images import camera_exif, jpeg, png
from webapp.extensions import db
from webapp.models import EmailAsset

from .conftest import HX, snapshot
from .pages import field_errors

JSON = {"Accept": "application/json"}


def post_image(marketer, data: bytes, name: str = "stage.png", *, fetch: bool = False, **fields):
    """As the Images page's form posts (token in the form), or as the builder's fetch does
    (token in the X-CSRFToken header, JSON asked for)."""
    token = marketer.csrf("/assets/")
    form = {"file": (io.BytesIO(data), name), **fields}
    if fetch:
        return marketer.client.post("/assets", data=form, headers={"X-CSRFToken": token, **JSON},
                                    content_type="multipart/form-data")
    return marketer.client.post("/assets", data={**form, "csrf_token": token}, content_type="multipart/form-data")


def assets_of(tenant_id: int) -> list[EmailAsset]:
    db.session.commit()
    return list(db.session.query(EmailAsset).filter_by(tenant_id=tenant_id).order_by(EmailAsset.id))


def test_the_empty_library_says_what_to_do(owner_a):
    html = owner_a.get("/assets/").get_data(as_text=True)

    assert "<h1>Images</h1>" in html
    assert "Upload your logo and event images to use them in emails" in html
    assert 'enctype="multipart/form-data"' in html and 'accept="image/png,image/jpeg,image/gif,image/webp"' in html


def test_the_nav_links_to_images(owner_a):
    html = owner_a.get("/dashboard").get_data(as_text=True)

    assert re.search(r'<a href="/assets/"[^>]*>Images</a>', html)
    assets_page = owner_a.get("/assets/").get_data(as_text=True)
    assert re.search(r'<a href="/assets/" class="active"[^>]*>Images</a>', assets_page)


def test_uploading_from_the_page_redirects_with_a_flash_and_shows_the_image(owner_a, tenant_a):
    response = post_image(owner_a, jpeg((640, 480), exif=camera_exif()), "Main Stage.jpg", alt="The main stage")

    assert response.status_code == 302 and response.headers["Location"].endswith("/assets/")
    [asset] = assets_of(tenant_a.id)
    html = owner_a.get("/assets/").get_data(as_text=True)
    assert "Uploaded Main_Stage.jpg (480×640)." in html  # turned upright from its EXIF orientation
    assert f'src="/a/{asset.token}/Main_Stage.jpg"' in html
    assert "480 × 640" in html and " KB" in html
    assert 'alt="The main stage"' in html
    assert "Upload your logo" not in html


def test_sizes_read_in_kb_and_mb(owner_a, tenant_a):
    post_image(owner_a, png())
    asset = assets_of(tenant_a.id)[0]
    asset.size_bytes = 2_621_440
    db.session.commit()

    assert "2.5 MB" in owner_a.get("/assets/").get_data(as_text=True)


def test_a_refused_upload_shows_the_reason_beside_the_file_field(owner_a, tenant_a):
    before = snapshot()

    response = post_image(owner_a, b"<svg xmlns='http://www.w3.org/2000/svg'/>", "logo.svg")

    assert response.status_code == 422
    errors = field_errors(response.get_data(as_text=True))
    assert errors["file"] == ["is not a PNG, JPEG, GIF or WebP image"]
    assert snapshot() == before


def test_no_file_is_asked_for(owner_a):
    token = owner_a.csrf("/assets/")
    response = owner_a.client.post("/assets", data={"csrf_token": token}, content_type="multipart/form-data")

    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True))["file"] == ["Choose an image to upload."]


def test_the_builders_fetch_upload_answers_json(owner_a, tenant_a):
    response = post_image(owner_a, png((200, 100)), "logo.png", fetch=True)

    assert response.status_code == 201
    body = response.get_json()
    [asset] = assets_of(tenant_a.id)
    assert body["id"] == asset.id and (body["width"], body["height"]) == (200, 100)
    assert body["url"] == f"http://crm.test/a/{asset.token}/logo.png"


def test_the_builders_fetch_upload_gets_json_errors(owner_a):
    response = post_image(owner_a, b"GIF89a<script>alert(1)</script>", "x.gif", fetch=True)

    assert response.status_code == 422
    assert response.get_json() == {"error": {"field": "file", "message": "is not a PNG, JPEG, GIF or WebP image"}}


def test_an_upload_without_the_csrf_token_is_refused(owner_a):
    before = snapshot()
    form = {"file": (io.BytesIO(png()), "a.png")}

    page = owner_a.client.post("/assets", data=form, content_type="multipart/form-data")
    fetch = owner_a.client.post("/assets", data={"file": (io.BytesIO(png()), "a.png")},
                                headers={"X-CSRFToken": "forged", **JSON}, content_type="multipart/form-data")

    assert page.status_code == 400
    assert fetch.status_code == 400 and fetch.get_json()["error"]["field"] == "csrf_token"
    assert snapshot() == before


def test_an_image_up_to_the_limit_passes_and_a_far_larger_body_is_a_413(owner_a, app):
    from tests.assets.images import noise_png

    assert post_image(owner_a, noise_png(4_600_000), "big.png", fetch=True).status_code == 201
    huge = b"\0" * (app.config["ASSET_MAX_BYTES"] + 200_000)

    fetched = post_image(owner_a, huge, "huge.png", fetch=True)
    paged = post_image(owner_a, huge, "huge.png")

    assert fetched.status_code == 413 and fetched.get_json()["error"]["field"] == "file"
    assert paged.status_code == 302
    assert "is larger than 5 MB" in owner_a.get("/assets/").get_data(as_text=True)


def test_viewers_see_the_library_but_cannot_upload_or_delete(viewer_a, owner_a, tenant_a):
    post_image(owner_a, png())
    [asset] = assets_of(tenant_a.id)

    html = viewer_a.get("/assets/").get_data(as_text=True)
    assert f"/a/{asset.token}/" in html
    assert 'action="/assets"' not in html and "/delete" not in html
    assert post_image(viewer_a, png()).status_code == 403
    assert viewer_a.post(f"/assets/{asset.id}/delete").status_code == 403
    assert len(assets_of(tenant_a.id)) == 1


def test_marketers_can_upload(marketer_a, tenant_a):
    assert post_image(marketer_a, png()).status_code == 302
    assert len(assets_of(tenant_a.id)) == 1


def test_delete_asks_for_confirmation_and_removes_the_image(owner_a, tenant_a, client):
    post_image(owner_a, png(), "logo.png")
    [asset] = assets_of(tenant_a.id)
    asset_id, token = asset.id, asset.token
    html = owner_a.get("/assets/").get_data(as_text=True)
    assert 'data-confirm="Delete logo.png?' in html

    response = owner_a.post(f"/assets/{asset_id}/delete")

    assert response.status_code == 302
    assert "Deleted logo.png." in owner_a.get("/assets/").get_data(as_text=True)
    assert assets_of(tenant_a.id) == []
    assert client.get(f"/a/{token}/logo.png").status_code == 404


def test_delete_from_the_builder_answers_204(owner_a, tenant_a):
    post_image(owner_a, png())
    [asset] = assets_of(tenant_a.id)

    response = owner_a.client.post(f"/assets/{asset.id}/delete", headers={"X-CSRFToken": owner_a.csrf(), **JSON})

    assert response.status_code == 204


def test_the_picker_lists_only_the_tenants_images_newest_first(owner_a, owner_b, tenant_a):
    for name in ("first.png", "second.png"):
        post_image(owner_a, png(), name, alt=f"alt of {name}")
    post_image(owner_b, png(), "bravo.png")
    first, second = assets_of(tenant_a.id)

    body = owner_a.get("/assets/picker").get_json()

    assert body == {"data": [
        {"id": second.id, "url": f"http://crm.test/a/{second.token}/second.png", "width": 64, "height": 48,
         "filename": "second.png", "alt": "alt of second.png"},
        {"id": first.id, "url": f"http://crm.test/a/{first.token}/first.png", "width": 64, "height": 48,
         "filename": "first.png", "alt": "alt of first.png"}]}
    assert [a["filename"] for a in owner_b.get("/assets/picker").get_json()["data"]] == ["bravo.png"]


def test_another_tenants_image_is_a_404_and_never_listed(owner_a, owner_b, tenant_a):
    post_image(owner_a, png(), "alpha-logo.png")
    [asset] = assets_of(tenant_a.id)

    for headers in ({}, HX, JSON):
        response = owner_b.client.post(f"/assets/{asset.id}/delete", data={"csrf_token": owner_b.csrf()},
                                       headers=headers)
        assert response.status_code == 404
    assert "alpha-logo" not in owner_b.get("/assets/").get_data(as_text=True)
    assert len(assets_of(tenant_a.id)) == 1


def test_the_pages_need_a_login(client):
    for path in ("/assets/", "/assets/picker"):
        response = client.get(path)
        assert response.status_code in (302, 401), path
    assert client.post("/assets", data={}).status_code in (302, 400, 401)


def test_the_library_pages_back_through_older_images(owner_a, tenant_a, monkeypatch):
    from webapp.web import assets as asset_views

    monkeypatch.setattr(asset_views, "PAGE_SIZE", 2)
    for i in range(3):
        post_image(owner_a, png(), f"p{i}.png")

    html = owner_a.get("/assets/").get_data(as_text=True)
    older = re.search(r'href="(/assets/\?cursor=[^"]+)"', html).group(1)
    older_html = owner_a.get(older.replace("&amp;", "&")).get_data(as_text=True)

    assert "p2.png" in html and "p1.png" in html and "p0.png" not in html
    assert "p0.png" in older_html and "p2.png" not in older_html
    assert "p2.png" in owner_a.get("/assets/?cursor=tampered").get_data(as_text=True)


@pytest.mark.parametrize("name", ["<img src=x onerror=alert(1)>.png", "a\"onmouseover=\"alert(1).png"])
def test_hostile_file_names_are_made_safe(owner_a, tenant_a, name):
    post_image(owner_a, png(), name)

    html = owner_a.get("/assets/").get_data(as_text=True)
    assert "onerror=alert" not in html and 'onmouseover="alert' not in html
    [asset] = assets_of(tenant_a.id)
    assert re.fullmatch(r"[A-Za-z0-9._-]+\.png", asset.filename)


@pytest.mark.parametrize(("alt", "message"), [("stage\x00", "must not contain NUL characters"),
                                              ("x" * 5000, "Field cannot be longer than 500 characters.")],
                         ids=["NUL", "huge"])
def test_bad_alt_text_is_refused_beside_its_field(owner_a, alt, message):
    before = snapshot()

    response = post_image(owner_a, png(), alt=alt)

    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True))["alt"] == [message]
    assert snapshot() == before


def test_a_file_name_with_quotes_stays_text_in_the_delete_question(owner_a, tenant_a):
    assert post_image(owner_a, png(), "poster.png").status_code in (200, 302)
    # Uploads clean their names; a stored name with quotes (an older row, another path in)
    # must still never reach a script.
    asset = assets_of(tenant_a.id)[0]
    asset.filename = "x');alert(1);('.png"
    db.session.commit()
    html = owner_a.get("/assets/").get_data(as_text=True)

    handlers = re.findall(r'onsubmit="([^"]*)"', html)
    assert handlers and set(handlers) == {"return confirm(this.dataset.confirm);"}
    assert "data-confirm=\"Delete x&#39;);alert(1);(&#39;.png?" in html
