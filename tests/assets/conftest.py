"""Fixtures for the image library: a local S3 server (moto) and helpers to upload."""

from __future__ import annotations

import io
import socket

import pytest

BUCKET = "crm-images-test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server():
    """moto's S3 server on 127.0.0.1 and a free port, for the whole session: no real AWS."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_storage(app, moto_server, monkeypatch):
    """The app stores images in a fresh bucket of the local S3 server; yields a boto3 client."""
    import boto3

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=moto_server, region_name="eu-west-1")
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    monkeypatch.setitem(app.config, "ASSET_STORAGE", "s3")
    monkeypatch.setitem(app.config, "ASSET_S3_BUCKET", BUCKET)
    monkeypatch.setitem(app.config, "ASSET_S3_ENDPOINT_URL", moto_server)
    monkeypatch.setitem(app.config, "ASSET_S3_REGION", "eu-west-1")
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def upload(api, data: bytes, filename: str = "picture.png", **fields):
    """POST /api/crm/assets as multipart, the image in `file`."""
    return api.post("/assets", data={"file": (io.BytesIO(data), filename), **fields},
                    content_type="multipart/form-data")
