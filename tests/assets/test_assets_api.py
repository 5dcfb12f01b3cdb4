"""/api/crm/assets: upload (multipart), list, get and delete the tenant's images."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from tests.api.api_assertions import assert_error
from webapp.extensions import db
from webapp.models import EmailAsset

from .conftest import upload
from .images import UPLOADS, camera_exif, jpeg, noise_png, png


def stored_file(app, asset_id: int) -> str:
    asset = db.session.get(EmailAsset, asset_id)
    return os.path.join(app.config["ASSET_DIR"], asset.storage_key)


@pytest.mark.parametrize("kind", sorted(UPLOADS))
def test_upload_answers_201_with_the_image_and_its_public_url(api, kind):
    make, content_type = UPLOADS[kind]

    response = upload(api, make((120, 80)), f"Summer Stage.{kind}", alt="The main stage")

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) == {"id", "url", "width", "height", "filename", "content_type", "size_bytes", "alt",
                         "created_at"}
    assert (body["width"], body["height"]) == (120, 80)
    assert body["content_type"] == content_type
    assert body["filename"] == f"Summer_Stage.{'jpg' if kind == 'jpeg' else kind}"
    assert body["alt"] == "The main stage"
    assert body["url"].startswith("http://crm.test/a/") and body["url"].endswith("/" + body["filename"])


def test_the_stored_file_is_the_re_encoded_image_without_exif(app, api):
    original = jpeg((64, 48), exif=camera_exif())

    body = upload(api, original, "phone.jpg").get_json()

    with open(stored_file(app, body["id"]), "rb") as f:
        data = f.read()
    assert data != original and len(data) == body["size_bytes"]
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG" and not dict(image.getexif())
    assert (body["width"], body["height"]) == image.size == (48, 64)


def test_the_type_comes_from_the_bytes_not_the_name_or_the_content_type(api):
    response = api.post("/assets", data={"file": (io.BytesIO(png()), "innocent.html", "text/html")},
                        content_type="multipart/form-data")

    assert response.status_code == 201
    assert response.get_json()["content_type"] == "image/png"
    assert response.get_json()["filename"] == "innocent.png"


@pytest.mark.parametrize(("data", "words"), [
    (b"", "empty"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "not a PNG, JPEG, GIF or WebP"),
    (b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>", "not a PNG, JPEG, GIF or WebP"),
    (png()[:60], "damaged or incomplete"),
], ids=["empty", "svg", "png header then html", "truncated"])
def test_what_is_not_an_image_is_a_422_naming_file(api, data, words):
    response = upload(api, data, "x.png")

    assert_error(response, 422, code="validation_error")
    details = response.get_json()["error"]["details"]
    assert details[0]["field"] == "file" and words in details[0]["message"]
    assert db.session.query(EmailAsset).count() == 0


def test_a_missing_file_an_unknown_field_and_a_json_body_are_refused(api):
    assert_error(api.post("/assets", data={"alt": "x"}, content_type="multipart/form-data"), 422)
    response = api.post("/assets", data={"file": (io.BytesIO(png()), "a.png"), "folder": "x"},
                        content_type="multipart/form-data")
    assert_error(response, 422)
    assert response.get_json()["error"]["details"][0]["field"] == "folder"
    assert_error(api.post("/assets", json={"file": "aGVsbG8="}), 415)


@pytest.mark.parametrize("alt", ["x" * 501, "stage\x00"], ids=["too long", "NUL"])
def test_bad_alt_text_is_a_422_naming_alt(api, alt):
    response = upload(api, png(), alt=alt)

    assert_error(response, 422)
    assert response.get_json()["error"]["details"][0]["field"] == "alt"


def test_an_image_up_to_the_size_limit_passes_the_request_body_limit(app, api):
    data = noise_png(4_600_000)
    assert app.config["MAX_CONTENT_LENGTH"] < len(data) <= app.config["ASSET_MAX_BYTES"]

    response = upload(api, data, "big.png")

    assert response.status_code == 201, response.get_json()


def test_a_file_just_over_the_size_limit_is_a_422_naming_file(app, api):
    data = png() + b"\0" * (app.config["ASSET_MAX_BYTES"])

    response = upload(api, data, "big.png")

    assert_error(response, 422)
    assert "larger than 5 MB" in response.get_json()["error"]["details"][0]["message"]


def test_a_body_far_over_the_size_limit_is_a_413_in_json(app, api):
    response = upload(api, b"\0" * (app.config["ASSET_MAX_BYTES"] + 200_000), "huge.png")

    assert_error(response, 413, code="payload_too_large")


def test_other_requests_keep_the_one_megabyte_body_limit(api):
    response = api.post("/customers", data=b"{" + b" " * (1024 * 1024 + 10) + b"}",
                        content_type="application/json")

    assert response.status_code == 413


def test_list_is_newest_first_in_keyset_pages(api):
    ids = [upload(api, png((10 + i, 10)), f"p{i}.png").get_json()["id"] for i in range(5)]

    first = api.get("/assets?limit=2").get_json()
    second = api.get(f"/assets?limit=2&cursor={first['next_cursor']}").get_json()
    third = api.get(f"/assets?limit=2&cursor={second['next_cursor']}").get_json()

    assert [a["id"] for a in first["data"] + second["data"] + third["data"]] == ids[::-1]
    assert third["next_cursor"] is None
    assert first["data"][0]["width"] == 14
    assert_error(api.get("/assets?cursor=not-a-cursor"), 422)


def test_get_answers_one_image(api):
    created = upload(api, png(), "logo.png").get_json()

    assert api.get(f"/assets/{created['id']}").get_json() == created


def test_delete_removes_the_row_and_the_stored_file(app, api, client):
    created = upload(api, png(), "logo.png").get_json()
    path = stored_file(app, created["id"])
    assert os.path.exists(path)

    assert api.delete(f"/assets/{created['id']}").status_code == 204

    assert not os.path.exists(path)
    assert_error(api.get(f"/assets/{created['id']}"), 404)
    assert client.get(created["url"].removeprefix("http://crm.test")).status_code == 404


def test_another_tenants_image_is_a_404_on_every_route(api, api_b):
    created = upload(api, png(), "logo.png").get_json()

    assert_error(api_b.get(f"/assets/{created['id']}"), 404, code="not_found")
    assert_error(api_b.delete(f"/assets/{created['id']}"), 404, code="not_found")
    assert api_b.get("/assets").get_json() == {"data": [], "next_cursor": None}
    assert api.get(f"/assets/{created['id']}").status_code == 200


def test_a_read_only_token_cannot_upload_or_delete(api, tenant_a, client):
    from tests.conftest import ApiClient, TenantFixture
    from webapp.models import Tenant
    from webapp.services.tenants import create_api_token

    created = upload(api, png(), "logo.png").get_json()
    _, secret = create_api_token(db.session.get(Tenant, tenant_a.id), "reader", role="viewer")
    reader = ApiClient(client, TenantFixture(tenant_a.id, secret, tenant_a.owner_email))

    assert_error(upload(reader, png()), 403)
    assert_error(reader.delete(f"/assets/{created['id']}"), 403)
    assert reader.get("/assets").status_code == 200


def test_the_openapi_document_describes_the_multipart_upload(client):
    document = client.get("/api/crm/openapi.json").get_json()
    operation = document["paths"]["/api/crm/assets"]["post"]

    schema = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    upload_schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    assert upload_schema["properties"]["file"]["format"] == "binary"
    assert upload_schema["required"] == ["file"]
    assert {"201", "413", "415", "422"} <= set(operation["responses"])
    assert "delete" in document["paths"]["/api/crm/assets/{asset_id}"]
