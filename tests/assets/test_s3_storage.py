"""ASSET_STORAGE=s3: the same library against moto's local S3 server (no real AWS)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from webapp.config import ConfigError, derive_settings
from webapp.extensions import db
from webapp.models import EmailAsset

from .conftest import BUCKET, upload
from .images import animation, camera_exif, jpeg, png


def test_an_upload_lands_in_the_bucket_under_a_random_key(app, api, s3_storage, tenant_a):
    body = upload(api, jpeg((64, 48), exif=camera_exif()), "Stage.jpg").get_json()

    asset = db.session.get(EmailAsset, body["id"])
    stored = s3_storage.get_object(Bucket=BUCKET, Key=asset.storage_key)
    data = stored["Body"].read()
    assert stored["ContentType"] == "image/jpeg"
    assert len(data) == body["size_bytes"]
    assert not dict(Image.open(io.BytesIO(data)).getexif())
    assert asset.storage_key == f"{asset.token}.jpg"
    assert str(tenant_a.id) not in asset.storage_key.removesuffix(".jpg").replace(asset.token, "")


def test_the_public_url_streams_the_image_from_the_bucket(api, client, s3_storage):
    original = animation("GIF", frames=3)
    body = upload(api, original, "loop.gif").get_json()

    response = client.get(body["url"].removeprefix("http://crm.test"))

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/gif"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'"
    assert Image.open(io.BytesIO(response.data)).n_frames == 3


def test_delete_removes_the_object(api, s3_storage):
    body = upload(api, png(), "logo.png").get_json()
    assert s3_storage.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 1

    assert api.delete(f"/assets/{body['id']}").status_code == 204

    assert s3_storage.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_an_object_gone_from_the_bucket_is_a_404(api, client, s3_storage):
    body = upload(api, png(), "logo.png").get_json()
    s3_storage.delete_object(Bucket=BUCKET, Key=db.session.get(EmailAsset, body["id"]).storage_key)

    assert client.get(body["url"].removeprefix("http://crm.test")).status_code == 404


def test_a_refused_upload_puts_nothing_in_the_bucket(api, s3_storage):
    upload(api, b"<svg/>", "x.svg")

    assert s3_storage.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


@pytest.mark.parametrize(("settings", "words"), [
    ({"ASSET_STORAGE": "s3"}, "ASSET_S3_BUCKET"),
    ({"ASSET_STORAGE": "ftp"}, "neither 'local' nor 's3'"),
])
def test_storage_settings_the_app_cannot_use_stop_it_at_start(settings, words):
    with pytest.raises(ConfigError, match=words):
        derive_settings({"ASSET_STORAGE": "local", **settings})
