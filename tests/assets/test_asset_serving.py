"""GET /a/<token>/<filename>: the image for emails, public, only ever as the image type it is."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from webapp.extensions import db
from webapp.models import EmailAsset

from .conftest import upload
from .images import UPLOADS, png


def path_of(body: dict) -> str:
    return body["url"].removeprefix("http://crm.test")


@pytest.mark.parametrize("kind", sorted(UPLOADS))
def test_the_image_is_served_without_a_login_with_its_type_and_safe_headers(api, client, kind):
    make, content_type = UPLOADS[kind]
    body = upload(api, make((30, 20)), f"poster.{kind}").get_json()

    response = client.get(path_of(body))

    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'"
    assert response.headers["Content-Disposition"] == f"inline; filename={body['filename']}"
    assert "max-age=31536000" in response.headers["Cache-Control"]
    assert "public" in response.headers["Cache-Control"]
    assert int(response.headers["Content-Length"]) == body["size_bytes"] == len(response.data)
    assert Image.open(io.BytesIO(response.data)).size == (30, 20)
    assert "Set-Cookie" not in response.headers


def test_a_revalidation_is_answered_304_without_the_bytes(api, client):
    path = path_of(upload(api, png()).get_json())
    etag = client.get(path).headers["ETag"]

    response = client.get(path, headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.data == b""


def test_an_unknown_token_or_a_different_name_is_a_404(api, client):
    body = upload(api, png(), "logo.png").get_json()
    token, name = path_of(body).split("/")[2:4]

    # Another token: the last character changed (to "x" unless it is one already, 1 time in 64).
    other = token[:-1] + ("y" if token.endswith("x") else "x")
    for path in (f"/a/{token}/other.png", f"/a/{token}/logo.html", f"/a/{other}/{name}", f"/a/{token}/",
                 f"/a/{'A' * 500}/{name}", f"/a/{token}/{name}/extra", f"/a/{token}%00/{name}"):
        response = client.get(path)
        assert response.status_code in (404, 400), (path, response.status_code)
        assert not response.headers["Content-Type"].startswith("image/")


def test_the_url_says_nothing_of_the_tenant_or_the_id(api, tenant_a):
    body = upload(api, png(), "logo.png").get_json()
    token = path_of(body).split("/")[2]

    assert len(token) >= 24
    assert str(body["id"]) not in path_of(body).replace(body["filename"], "").replace(token, "")
    assert f"/{tenant_a.id}/" not in path_of(body)


def test_a_stored_type_other_than_the_four_is_never_served(api, client):
    body = upload(api, png(), "logo.png").get_json()
    asset = db.session.get(EmailAsset, body["id"])
    asset.content_type = "text/html"  # as if the row had been tampered with
    db.session.commit()

    assert client.get(path_of(body)).status_code == 404


def test_bytes_missing_from_the_store_are_a_404(app, api, client):
    import os

    body = upload(api, png(), "logo.png").get_json()
    os.remove(os.path.join(app.config["ASSET_DIR"], db.session.get(EmailAsset, body["id"]).storage_key))

    assert client.get(path_of(body)).status_code == 404


def test_the_builders_lookup_resolves_only_the_tenants_own_ids(app, api, api_b, tenant_a, tenant_b):
    from webapp.services.assets import asset_urls

    mine = upload(api, png((30, 20)), "a.png").get_json()
    theirs = upload(api_b, png(), "b.png").get_json()

    found = asset_urls(tenant_a.id, [mine["id"], theirs["id"], 10**9])

    assert found == {mine["id"]: {"url": mine["url"], "width": 30, "height": 20}}
    assert asset_urls(tenant_b.id, [mine["id"]]) == {}
