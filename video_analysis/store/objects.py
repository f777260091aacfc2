"""Objects in S3-compatible storage (MinIO, Ceph, R2, moto with an endpoint URL) through boto3:
the reference client, which signs requests itself and streams bodies, and whose sync calls
suit the splitter's threads. Every failure becomes ``SourceNotFound`` or ``SourceUnavailable``
naming the object."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from ..errors import SourceNotAllowed, SourceNotFound, SourceUnavailable, UploadTooLarge
from ..settings import Settings

log = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def child(self, *names: str) -> ObjectRef:
        """The object at ``names`` under this key prefix (an empty prefix is the bucket's root)."""
        return ObjectRef(self.bucket, "/".join(p for p in (self.key, *names) if p))


def parse_s3_uri(uri: str) -> ObjectRef:
    parts = urlsplit(uri.strip())
    key = parts.path.lstrip("/")
    if parts.scheme != "s3" or not parts.netloc or not key:
        raise SourceNotAllowed(f"not an s3://bucket/key URI: {uri!r}")
    return ObjectRef(parts.netloc, key)


class ObjectStore:
    """One S3-compatible bucket namespace, configured from settings (endpoint, region, keys)."""

    def __init__(self, settings: Settings) -> None:
        import boto3
        from botocore.config import Config

        secret = settings.s3_secret_access_key
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url or None,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id or None,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            config=Config(
                connect_timeout=settings.source_timeout_s,
                read_timeout=settings.source_timeout_s,
                retries={"max_attempts": 3, "mode": "standard"},
                s3={"addressing_style": "path"} if settings.s3_endpoint_url else None,
            ),
        )

    def put_file(self, path: Path, ref: ObjectRef) -> None:
        """Upload ``path`` (multipart for large files)."""
        with _errors(ref.uri):
            self._client.upload_file(str(path), ref.bucket, ref.key)

    def put_bytes(self, body: bytes, ref: ObjectRef, content_type: str | None = None) -> None:
        extra = {"ContentType": content_type} if content_type else {}
        with _errors(ref.uri):
            self._client.put_object(Bucket=ref.bucket, Key=ref.key, Body=body, **extra)

    def get_bytes(self, ref: ObjectRef) -> bytes:
        with _errors(ref.uri):
            return bytes(self._client.get_object(Bucket=ref.bucket, Key=ref.key)["Body"].read())

    def size(self, ref: ObjectRef) -> int:
        with _errors(ref.uri):
            head = self._client.head_object(Bucket=ref.bucket, Key=ref.key)
        return int(head["ContentLength"])

    def download(self, ref: ObjectRef, out: BinaryIO, max_bytes: int) -> int:
        """Stream the object into ``out``; ``UploadTooLarge`` past ``max_bytes``."""
        with _errors(ref.uri):
            body = self._client.get_object(Bucket=ref.bucket, Key=ref.key)["Body"]
            try:
                return copy_limited(iter(lambda: body.read(CHUNK_BYTES), b""), out, max_bytes)
            finally:
                body.close()

    def read_range(self, ref: ObjectRef, first: int, last: int) -> Iterator[bytes]:
        """Bytes ``first`` to ``last`` (inclusive) of the object, streamed (a ranged GET)."""
        with _errors(ref.uri):
            body = self._client.get_object(
                Bucket=ref.bucket, Key=ref.key, Range=f"bytes={first}-{last}"
            )["Body"]
            try:
                yield from iter(lambda: body.read(CHUNK_BYTES), b"")
            finally:
                body.close()

    def delete(self, ref: ObjectRef) -> None:
        with _errors(ref.uri):
            self._client.delete_object(Bucket=ref.bucket, Key=ref.key)

    def list_objects(self, bucket: str, prefix: str) -> Iterator[tuple[str, datetime]]:
        """(key, last modified) of every object under ``prefix``."""
        with _errors(f"s3://{bucket}/{prefix}"):
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield item["Key"], item["LastModified"]

    def delete_prefix(self, bucket: str, prefix: str) -> list[str]:
        """Delete every object under ``prefix``; their keys."""
        removed: list[str] = []
        with _errors(f"s3://{bucket}/{prefix}"):
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                keys = [item["Key"] for item in page.get("Contents", [])]
                if keys:
                    objects = [{"Key": key} for key in keys]
                    self._client.delete_objects(Bucket=bucket, Delete={"Objects": objects})
                    removed.extend(keys)
        return removed

    def exists(self, ref: ObjectRef) -> bool:
        try:
            self.size(ref)
        except SourceNotFound:
            return False
        return True

    def ensure_bucket(self, bucket: str) -> bool:
        """Create ``bucket`` when it does not exist yet; whether it was created."""
        from botocore.exceptions import ClientError

        try:
            self.ping(bucket)
            return False
        except SourceNotFound:
            pass
        with _errors(f"s3://{bucket}"):
            try:
                self._client.create_bucket(Bucket=bucket)
            except ClientError as exc:  # created meanwhile by another process
                if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                    raise
                return False
        log.info("created bucket %s", bucket)
        return True

    def ping(self, bucket: str) -> None:
        with _errors(f"s3://{bucket}"):
            self._client.head_bucket(Bucket=bucket)


def bucket_prefix(value: str, name: str) -> ObjectRef:
    """``s3://bucket[/prefix]`` of a setting as a bucket and a key prefix."""
    parts = urlsplit(value.strip())
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"{name} must be s3://bucket[/prefix], not {value.strip()!r}")
    return ObjectRef(parts.netloc, parts.path.strip("/"))


@contextmanager
def _errors(what: str) -> Iterator[None]:
    """botocore's errors as ours: a missing object is the user's, anything else the store's."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NoSuchBucket", "NotFound"):
            raise SourceNotFound(f"no such object: {what}") from exc
        if code in ("403", "AccessDenied", "AllAccessDisabled"):
            raise SourceNotAllowed(f"access to {what} is denied") from exc
        raise SourceUnavailable(f"object store error for {what}: {code or exc}") from exc
    except BotoCoreError as exc:
        raise SourceUnavailable(f"object store unreachable for {what}: {exc}") from exc


def copy_limited(chunks: Iterator[bytes], out: BinaryIO, max_bytes: int) -> int:
    written = 0
    for chunk in chunks:
        written += len(chunk)
        if written > max_bytes:
            raise UploadTooLarge(f"the video is over the limit of {max_bytes} bytes")
        out.write(chunk)
    return written
