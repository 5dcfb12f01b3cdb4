"""Where uploaded files' bytes live: a local folder, or an S3-compatible bucket.

One small interface (put, open, delete by key) so the services never know which. Keys are
chosen by the caller (random tokens); they never hold a path separator or a tenant.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Protocol

# A random token and an extension: nothing a path could be built from.
_KEY = re.compile(r"[A-Za-z0-9_-]{8,100}\.[a-z0-9]{1,10}")


class ObjectStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`, replacing what was there."""

    def open(self, key: str) -> IO[bytes] | None:
        """The stored bytes as a readable stream (the caller closes it), or None if absent."""

    def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error."""


def _checked(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class LocalFolderStore:
    """Files in one folder (the default: instance/assets)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.root / _checked(key)
        # Written aside then renamed: a reader never sees half a file.
        fd, temporary = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def open(self, key: str) -> IO[bytes] | None:
        try:
            return (self.root / _checked(key)).open("rb")
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        (self.root / _checked(key)).unlink(missing_ok=True)


class S3Store:
    """Objects in an S3-compatible bucket (AWS, MinIO, R2, Ceph...). Credentials come from
    boto3's usual chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, an IAM role)."""

    def __init__(self, bucket: str, *, endpoint_url: str | None = None, region: str | None = None) -> None:
        # Imported here: boto3 costs ~130 ms to import and only deployments that chose S3 need it.
        import boto3  # noqa: PLC0415
        from botocore.config import Config  # noqa: PLC0415

        self.bucket = bucket
        self._client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region,
            config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"}))

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self._client.put_object(Bucket=self.bucket, Key=_checked(key), Body=data, ContentType=content_type)

    def open(self, key: str) -> IO[bytes] | None:
        try:
            return self._client.get_object(Bucket=self.bucket, Key=_checked(key))["Body"]
        except self._client.exceptions.NoSuchKey:
            return None

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=_checked(key))


def store_from_config(config: Mapping) -> ObjectStore:
    """The store the settings name (ASSET_STORAGE: local or s3)."""
    if config.get("ASSET_STORAGE") == "s3":
        return S3Store(config["ASSET_S3_BUCKET"], endpoint_url=config.get("ASSET_S3_ENDPOINT_URL"),
                       region=config.get("ASSET_S3_REGION"))
    return LocalFolderStore(config["ASSET_DIR"])
