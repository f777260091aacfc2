"""Where a video comes from: a path under the upload root, an object in S3, or an HTTPS URL.

``Sources.local_copy(uri)`` gives the splitter a local file for any of them. An object or a URL
is streamed to a temporary file under ``data_dir/downloads`` with the upload's size limit (the
duration and resolution limits are the splitter's probe) and removed when the split is done.

S3 goes through boto3: the reference client, which speaks to any S3-compatible store (MinIO,
Ceph, R2, moto) with an endpoint URL, signs requests itself and streams bodies, and whose sync
calls suit the splitter's threads. HTTPS goes through httpx, already used by the API and CLI.
"""

from __future__ import annotations

import ipaddress
import logging
import shutil
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit, urlunsplit

from ..claim_check import object_key
from ..errors import SourceNotAllowed, SourceNotFound, SourceUnavailable, UploadTooLarge
from ..schemas.events import VideoUploaded, valid_video_id
from ..settings import Settings
from .objects import (
    CHUNK_BYTES,
    ObjectRef,
    ObjectStore,
    bucket_prefix,
    copy_limited,
    parse_s3_uri,
)
from .uploads import UploadStorage, sanitize_filename

log = logging.getLogger(__name__)

#: The upload's ``VideoUploaded`` event, kept beside the video for ``reconcile``.
EVENT_FILE = "event.json"
MAX_REDIRECTS = 3


@dataclass(frozen=True)
class KeptUpload:
    """A video this service keeps: its file under the upload root, or its object in the
    upload store."""

    at: Path | ObjectRef
    size: int

    @property
    def name(self) -> str:
        return self.at.name if isinstance(self.at, Path) else self.at.key.rsplit("/", 1)[-1]


class Sources:
    """Local files for the URIs of ``VideoUploaded`` events, and where uploads are kept."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.uploads = UploadStorage(settings.upload_root)
        self.downloads = Path(settings.data_dir).expanduser().resolve() / "downloads"
        self._objects: ObjectStore | None = None
        self.upload_prefix: ObjectRef | None = None
        if settings.upload_store.strip():
            self.upload_prefix = bucket_prefix(settings.upload_store, "VA_UPLOAD_STORE")
        self.result_prefix: ObjectRef | None = None
        if settings.result_object_store.strip():
            self.result_prefix = bucket_prefix(
                settings.result_object_store, "VA_RESULT_OBJECT_STORE"
            )

    @property
    def objects(self) -> ObjectStore:
        if self._objects is None:
            self._objects = ObjectStore(self.settings)
        return self._objects

    # ------------------------------------------------------------------ where uploads go

    def keep_upload(self, video_id: str, local: Path) -> str:
        """The URI the event names for a stored upload: the local file itself, or an object
        it was copied to (the local copy is then removed)."""
        if self.upload_prefix is None:
            return str(local)
        ref = self.upload_prefix.child(video_id, sanitize_filename(local.name))
        self.objects.put_file(local, ref)
        self.uploads.discard(local)
        log.info("stored upload for video %s as %s", video_id, ref.uri)
        return ref.uri

    def kept_uploads(self) -> list[tuple[str, datetime]]:
        """Every video with an upload kept here, and when its upload was last written."""
        found: dict[str, datetime] = {}
        root = self.uploads.root
        if root.is_dir():
            for folder in root.iterdir():
                if folder.is_dir() and valid_video_id(folder.name):
                    found[folder.name] = datetime.fromtimestamp(folder.stat().st_mtime, UTC)
        if self.upload_prefix is not None:
            prefix = self.upload_prefix.key + "/" if self.upload_prefix.key else ""
            for key, modified in self.objects.list_objects(self.upload_prefix.bucket, prefix):
                video_id = key[len(prefix) :].split("/", 1)[0]
                if valid_video_id(video_id):
                    found[video_id] = max(modified, found.get(video_id, modified))
        return sorted(found.items())

    def _event_at(self, video_id: str) -> Path | ObjectRef:
        """Where ``video_id``'s event is kept: beside its upload, on disk or in the bucket."""
        if self.upload_prefix is None:
            return self.uploads.root / video_id / EVENT_FILE
        return self.upload_prefix.child(video_id, EVENT_FILE)

    def keep_event(self, event: VideoUploaded) -> None:
        """Keep the upload's event beside it, so that a restart can publish it again."""
        body = event.model_dump_json().encode()
        at = self._event_at(event.video_id)
        if isinstance(at, Path):
            at.parent.mkdir(parents=True, exist_ok=True)
            at.write_bytes(body)
        else:
            self.objects.put_bytes(body, at)

    def has_kept_event(self, video_id: str) -> bool:
        """Whether an event is kept for ``video_id`` (one existence check, nothing read)."""
        at = self._event_at(video_id)
        return at.is_file() if isinstance(at, Path) else self.objects.exists(at)

    def kept_event(self, video_id: str) -> VideoUploaded | None:
        """The event kept with ``video_id``'s upload, when both are still here."""
        at = self._event_at(video_id)
        if isinstance(at, Path):
            body = at.read_bytes() if at.is_file() else None
        else:
            try:
                body = self.objects.get_bytes(at)
            except SourceNotFound:
                body = None
        if body is None:
            return None
        event = VideoUploaded.model_validate_json(body)
        return event if self.still_there(event.uri) else None

    def kept_upload(self, video_id: str) -> KeptUpload | None:
        """The video of ``video_id`` when this service keeps it (the file its kept event names
        under the upload root, or an object under the upload store's prefix); None once
        retention or deletion removed it, and for videos the platform keeps itself (its own
        bucket, a URL)."""
        at = self._event_at(video_id)
        try:
            body = at.read_bytes() if isinstance(at, Path) else self.objects.get_bytes(at)
        except (FileNotFoundError, SourceNotFound):
            return None
        uri = VideoUploaded.model_validate_json(body).uri
        try:
            if uri.startswith("s3://"):
                ref = parse_s3_uri(uri)
                prefix = self.upload_prefix
                if prefix is None or ref.bucket != prefix.bucket:
                    return None
                folder = prefix.child(video_id).key + "/"
                if not ref.key.startswith(folder):
                    return None
                return KeptUpload(ref, self.objects.size(ref))
            if "://" in uri and not uri.startswith("file:"):
                return None
            path = self.uploads.resolve(uri)
            return KeptUpload(path, path.stat().st_size)
        except (SourceNotFound, SourceNotAllowed, FileNotFoundError):
            return None

    def read_range(self, upload: KeptUpload, first: int, last: int) -> Iterator[bytes]:
        """Bytes ``first`` to ``last`` (inclusive) of a kept upload, in chunks."""
        if isinstance(upload.at, ObjectRef):
            yield from self.objects.read_range(upload.at, first, last)
            return
        with upload.at.open("rb") as handle:
            handle.seek(first)
            left = last - first + 1
            while left > 0 and (chunk := handle.read(min(CHUNK_BYTES, left))):
                left -= len(chunk)
                yield chunk

    def still_there(self, uri: str) -> bool:
        """Whether the video ``uri`` names can still be read (a URL is assumed to be)."""
        try:
            if uri.startswith("s3://"):
                ref = parse_s3_uri(uri)
                self._check_bucket(ref)
                self.objects.size(ref)
            elif not uri.startswith(("https://", "http://")):
                self.uploads.resolve(uri)
        except (SourceNotFound, SourceNotAllowed):
            return False
        return True

    # ------------------------------------------------------------------ results as objects

    def keep_result(self, video_id: str, run: int, body: bytes) -> str | None:
        """Keep a run's full result JSON as an object when ``VA_RESULT_OBJECT_STORE`` is set;
        its ``s3://`` URI (None when results are not kept as objects)."""
        if self.result_prefix is None:
            return None
        ref = ObjectRef(
            self.result_prefix.bucket, object_key(self.result_prefix.key, video_id, run)
        )
        self.objects.put_bytes(body, ref, content_type="application/json")
        return ref.uri

    def remove_video(self, video_id: str) -> int:
        """Delete every upload kept for ``video_id`` (its folder under the upload root, its
        objects in the upload store) and its results kept as objects; how many files and
        objects of the upload there were. Videos the platform keeps itself (its own bucket, a
        URL) are the platform's to delete."""
        removed = 0
        folder = self.uploads.root / video_id
        if folder.resolve().is_relative_to(self.uploads.root) and folder.is_dir():
            removed += sum(1 for p in folder.rglob("*") if p.is_file() and p.name != EVENT_FILE)
            shutil.rmtree(folder)
        if self.upload_prefix is not None:
            keys = self.objects.delete_prefix(
                self.upload_prefix.bucket, self.upload_prefix.child(video_id).key + "/"
            )
            removed += sum(1 for key in keys if not key.endswith("/" + EVENT_FILE))
        if self.result_prefix is not None:
            self.objects.delete_prefix(
                self.result_prefix.bucket, self.result_prefix.child(video_id).key + "/"
            )
        return removed

    # ------------------------------------------------------------------ reading a source

    @contextmanager
    def local_copy(self, uri: str) -> Iterator[Path]:
        """A local file holding the video ``uri`` names, for as long as the block runs."""
        scheme = urlsplit(uri.strip()).scheme.lower()
        if scheme == "s3":
            ref = parse_s3_uri(uri)
            self._check_bucket(ref)
            with self._download(ref.key.rsplit("/", 1)[-1]) as (path, out):
                size = self.objects.size(ref)
                if size > self.settings.max_upload_bytes:
                    raise UploadTooLarge(
                        f"{ref.uri} is {size} bytes; the limit is "
                        f"{self.settings.max_upload_bytes} bytes"
                    )
                written = self.objects.download(ref, out, self.settings.max_upload_bytes)
                log.info("downloaded %s (%d bytes)", ref.uri, written)
                out.close()
                yield path
        elif scheme in ("https", "http"):
            name = urlsplit(uri).path.rsplit("/", 1)[-1]
            with self._download(name) as (path, out):
                written = self._fetch_url(uri.strip(), out)
                log.info("downloaded %s (%d bytes)", _redacted(uri), written)
                out.close()
                yield path
        else:
            yield self.uploads.resolve(uri)

    @contextmanager
    def _download(self, name: str) -> Iterator[tuple[Path, BinaryIO]]:
        folder = self.downloads / uuid.uuid4().hex
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / sanitize_filename(name or "video")
        try:
            with path.open("wb") as out:
                yield path, out
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _check_bucket(self, ref: ObjectRef) -> None:
        allowed = set(self.settings.source_buckets)
        if self.upload_prefix is not None:
            allowed.add(self.upload_prefix.bucket)
        if ref.bucket not in allowed:
            raise SourceNotAllowed(
                f"bucket {ref.bucket!r} is not one this service reads (VA_SOURCE_BUCKETS)"
            )

    def _fetch_url(self, url: str, out: BinaryIO) -> int:
        """Stream ``url`` into ``out``: HTTPS only (HTTP when allowed), public hosts only
        (unless allowed), at most ``MAX_REDIRECTS`` redirects, each checked the same way."""
        import httpx

        settings = self.settings
        timeout = httpx.Timeout(settings.source_timeout_s)
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            for _ in range(MAX_REDIRECTS + 1):
                target, headers, extensions = _pinned(url, self._check_url(url))
                try:
                    with client.stream(
                        "GET", target, headers=headers, extensions=extensions
                    ) as response:
                        if response.is_redirect:
                            location = response.headers.get("location", "")
                            url = urljoin(url, location)
                            continue
                        if response.status_code in (401, 403):
                            raise SourceNotAllowed(
                                f"{_redacted(url)} answered {response.status_code}"
                            )
                        if response.status_code in (404, 410):
                            raise SourceNotFound(
                                f"{_redacted(url)} answered {response.status_code}"
                            )
                        if response.status_code != 200:
                            raise SourceUnavailable(
                                f"{_redacted(url)} answered {response.status_code}"
                            )
                        declared = response.headers.get("content-length", "")
                        if declared.isdigit() and int(declared) > settings.max_upload_bytes:
                            raise UploadTooLarge(
                                f"{_redacted(url)} is {declared} bytes; the limit is "
                                f"{settings.max_upload_bytes} bytes"
                            )
                        return copy_limited(
                            response.iter_bytes(CHUNK_BYTES), out, settings.max_upload_bytes
                        )
                except httpx.TimeoutException as exc:
                    raise SourceUnavailable(f"{_redacted(url)} timed out: {exc}") from exc
                except httpx.HTTPError as exc:
                    raise SourceUnavailable(f"{_redacted(url)} failed: {exc}") from exc
        raise SourceNotAllowed(f"more than {MAX_REDIRECTS} redirects from {_redacted(url)}")

    def _check_url(self, url: str) -> str | None:
        """Refuse what is not to be read; the checked address to connect to (None: any)."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme != "https" and not (scheme == "http" and self.settings.source_allow_http):
            raise SourceNotAllowed(f"only https:// URLs are read, not {_redacted(url)}")
        host = parts.hostname
        if not host:
            raise SourceNotAllowed(f"no host in {_redacted(url)}")
        if self.settings.source_allow_private_hosts:
            return None
        try:
            infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        except OSError as exc:
            raise SourceNotFound(f"cannot resolve {host!r}: {exc}") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
        for address in addresses:
            if not _is_public(address):
                # The service's own network (metadata endpoints, databases) is not a source.
                raise SourceNotAllowed(f"{host!r} resolves to a non-public address ({address})")
        if not addresses:
            raise SourceNotFound(f"cannot resolve {host!r}: no address")
        # The connection goes to this very address: a DNS answer that changes between the
        # check and the connect (rebinding) cannot send it elsewhere.
        return str(addresses[0])


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return address.is_global


def _pinned(url: str, address: str | None) -> tuple[str, dict[str, str], dict[str, str]]:
    """The request for ``url`` sent to ``address``: the URL with the address for its host,
    the original host in ``Host`` and, for TLS, as the server name that the certificate is
    checked against."""
    if address is None:
        return url, {}, {}
    parts = urlsplit(url)
    host = parts.hostname or ""
    literal = f"[{address}]" if ":" in address else address
    port = f":{parts.port}" if parts.port else ""
    target = urlunsplit((parts.scheme, f"{literal}{port}", parts.path, parts.query, ""))
    extensions = {"sni_hostname": host} if parts.scheme.lower() == "https" else {}
    named = f"[{host}]" if ":" in host else host
    return target, {"Host": f"{named}{port}"}, extensions


def _redacted(url: str) -> str:
    """The URL without its query (presigned URLs carry credentials there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
