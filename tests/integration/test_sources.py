"""Videos from object storage (a real S3 API server: moto_server) and from HTTP(S) URLs."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.s3 import S3_ENV, object_keys, s3_client, s3_server
from video_analysis.errors import SourceNotAllowed, SourceNotFound, UploadTooLarge
from video_analysis.settings import Settings
from video_analysis.store import Sources, SourceUnavailable

pytestmark = pytest.mark.integration

BUCKET = "interviews"
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 400  # ~100 KB, bytes matter only


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with s3_server(tmp_path_factory.mktemp("moto")) as url:
        client = s3_client(url)
        client.create_bucket(Bucket=BUCKET)
        client.create_bucket(Bucket="elsewhere")
        yield url


def s3_settings(tmp_path: Path, endpoint: str, **overrides: Any) -> Settings:
    fields: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "upload_root": tmp_path / "uploads",
        "upload_store": f"s3://{BUCKET}/uploads",
        "s3_endpoint_url": endpoint,
        "s3_region": S3_ENV["VA_S3_REGION"],
        "s3_access_key_id": S3_ENV["VA_S3_ACCESS_KEY_ID"],
        "s3_secret_access_key": S3_ENV["VA_S3_SECRET_ACCESS_KEY"],
    }
    fields.update(overrides)
    return Settings(**fields)


def downloads_left(settings: Settings) -> list[Path]:
    folder = Path(settings.data_dir).resolve() / "downloads"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_an_upload_is_kept_in_the_bucket_and_read_back_then_removed(
    tmp_path: Path, endpoint: str
) -> None:
    settings = s3_settings(tmp_path, endpoint)
    sources = Sources(settings)
    local = settings.upload_root / "vid-1" / "answer.mp4"
    local.parent.mkdir(parents=True)
    local.write_bytes(VIDEO)

    uri = sources.keep_upload("vid-1", local)
    assert uri == f"s3://{BUCKET}/uploads/vid-1/answer.mp4"
    assert not local.exists()  # workers read the object, not the API's disk
    assert "uploads/vid-1/answer.mp4" in object_keys(endpoint, BUCKET)

    with sources.local_copy(uri) as path:
        assert path.read_bytes() == VIDEO
        assert path.is_relative_to(Path(settings.data_dir).resolve() / "downloads")
    assert downloads_left(settings) == []  # the downloaded copy is removed after use

    assert sources.remove_video("vid-1") == 1
    assert "uploads/vid-1/answer.mp4" not in object_keys(endpoint, BUCKET)
    assert sources.remove_video("vid-1") == 0


def test_the_event_is_kept_beside_the_upload_while_the_upload_is_there(
    tmp_path: Path, endpoint: str
) -> None:
    from video_analysis.schemas import VideoMetadata, VideoUploaded

    for store in ("", f"s3://{BUCKET}/events"):  # on disk, and in the bucket
        settings = s3_settings(tmp_path / (store and "s3" or "disk"), endpoint, upload_store=store)
        sources = Sources(settings)
        local = settings.upload_root / "vid-e" / "answer.mp4"
        local.parent.mkdir(parents=True)
        local.write_bytes(VIDEO)
        uri = sources.keep_upload("vid-e", local)
        event = VideoUploaded(video_id="vid-e", uri=uri, metadata=VideoMetadata(language="ko"))
        assert not sources.has_kept_event("vid-e")
        sources.keep_event(event)
        assert sources.has_kept_event("vid-e") and not sources.has_kept_event("other")
        assert sources.kept_event("vid-e") == event
        assert sources.kept_event("other") is None
        assert sources.remove_video("vid-e") == 1  # the video; the event goes with it
        assert sources.kept_event("vid-e") is None and not sources.has_kept_event("vid-e")


def test_only_the_upload_bucket_and_the_listed_buckets_are_read(
    tmp_path: Path, endpoint: str
) -> None:
    s3_client(endpoint).put_object(Bucket="elsewhere", Key="a.mp4", Body=VIDEO)
    with pytest.raises(SourceNotAllowed, match="elsewhere"):
        with Sources(s3_settings(tmp_path, endpoint)).local_copy("s3://elsewhere/a.mp4"):
            pass
    allowed = Sources(s3_settings(tmp_path, endpoint, source_buckets="elsewhere"))
    with allowed.local_copy("s3://elsewhere/a.mp4") as path:
        assert path.read_bytes() == VIDEO


def test_a_missing_object_and_an_oversized_one_are_clear_errors(
    tmp_path: Path, endpoint: str
) -> None:
    s3_client(endpoint).put_object(Bucket=BUCKET, Key="big.mp4", Body=VIDEO)
    settings = s3_settings(tmp_path, endpoint, max_upload_bytes=4096)
    sources = Sources(settings)
    with pytest.raises(SourceNotFound, match="nope.mp4"):
        with sources.local_copy(f"s3://{BUCKET}/nope.mp4"):
            pass
    with pytest.raises(UploadTooLarge, match="4096"):
        with sources.local_copy(f"s3://{BUCKET}/big.mp4"):
            pass
    assert downloads_left(settings) == []


def test_an_unreachable_store_is_source_unavailable(tmp_path: Path) -> None:
    settings = s3_settings(tmp_path, "http://127.0.0.1:1", source_timeout_s=2)
    with pytest.raises(SourceUnavailable):
        with Sources(settings).local_copy(f"s3://{BUCKET}/a.mp4"):
            pass


# ------------------------------------------------------------------------------- https://


class _Handler(http.server.BaseHTTPRequestHandler):
    """/video.mp4, /chunked (no length), /slow, and redirects /to-file, /to-ftp, /hop."""

    hosts: ClassVar[list[str]] = []  # the Host header of each request

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.hosts.append(self.headers.get("Host", ""))
        if self.path == "/video.mp4":
            self._send(200, VIDEO, {"Content-Length": str(len(VIDEO))})
        elif self.path == "/chunked":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(VIDEO)  # HTTP/1.0: the body ends when the connection closes
        elif self.path == "/slow":
            time.sleep(3)
            self._send(200, VIDEO, {"Content-Length": str(len(VIDEO))})
        elif self.path == "/hop":
            self._send(302, b"", {"Location": "/video.mp4"})
        elif self.path == "/to-file":
            self._send(302, b"", {"Location": "file:///etc/passwd"})
        elif self.path == "/to-ftp":
            self._send(302, b"", {"Location": "ftp://127.0.0.1/video.mp4"})
        else:
            self._send(404, b"not here", {})

    def _send(self, code: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(code)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def web() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def url_settings(tmp_path: Path, **overrides: Any) -> Settings:
    fields: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "upload_root": tmp_path / "uploads",
        "source_allow_http": True,
        "source_allow_private_hosts": True,
        "source_timeout_s": 1.0,
    }
    fields.update(overrides)
    return Settings(**fields)


def test_a_url_is_downloaded_to_a_temporary_file(tmp_path: Path, web: str) -> None:
    settings = url_settings(tmp_path)
    for path in ("/video.mp4", "/chunked", "/hop"):
        with Sources(settings).local_copy(web + path) as local:
            assert local.read_bytes() == VIDEO
    assert downloads_left(settings) == []


def test_urls_are_checked_before_anything_is_read(tmp_path: Path, web: str) -> None:
    cases = [
        (url_settings(tmp_path, source_allow_http=False), "/video.mp4", "only https://"),
        (url_settings(tmp_path, source_allow_private_hosts=False), "/video.mp4", "non-public"),
        (url_settings(tmp_path), "/to-file", "only https://"),
        (url_settings(tmp_path), "/to-ftp", "only https://"),
    ]
    for settings, path, why in cases:
        with pytest.raises(SourceNotAllowed, match=why):
            with Sources(settings).local_copy(web + path):
                pass


def test_the_connection_goes_to_the_checked_address_whatever_dns_answers_next(
    tmp_path: Path, web: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from video_analysis.store import sources

    # DNS rebinding: the name resolves to an allowed address for the check, then elsewhere.
    port = int(web.rsplit(":", 1)[1])
    answers = iter(["127.0.0.1"] + ["10.9.8.7"] * 10)
    real = socket.getaddrinfo

    def resolve(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "video.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setattr(sources, "_is_public", lambda address: str(address) == "127.0.0.1")
    settings = url_settings(tmp_path, source_allow_private_hosts=False)
    with Sources(settings).local_copy(f"http://video.example:{port}/video.mp4") as local:
        assert local.read_bytes() == VIDEO
    assert _Handler.hosts[-1] == f"video.example:{port}"  # the server sees the name


def test_url_errors_and_limits(tmp_path: Path, web: str) -> None:
    with pytest.raises(SourceNotFound, match="404"):
        with Sources(url_settings(tmp_path)).local_copy(web + "/missing.mp4"):
            pass
    small = url_settings(tmp_path, max_upload_bytes=4096)
    for path in ("/video.mp4", "/chunked"):  # a declared length, and none
        with pytest.raises(UploadTooLarge, match="4096"):
            with Sources(small).local_copy(web + path):
                pass
    with pytest.raises(SourceUnavailable, match="timed out"):
        with Sources(url_settings(tmp_path)).local_copy(web + "/slow"):
            pass
    assert downloads_left(small) == []


# ---------------------------------------------------------------------------- retention


async def test_retention_removes_uploads_of_videos_finished_long_ago(
    tmp_path: Path, endpoint: str
) -> None:
    import os
    from datetime import UTC, datetime, timedelta

    from video_analysis.retention import expire_uploads
    from video_analysis.schemas import AnalysisResult, ResultStatus, VideoState, VideoStatus
    from video_analysis.store import EmbeddedStatusStore, SQLiteResultStore

    settings = s3_settings(tmp_path, endpoint, upload_store=f"s3://{BUCKET}/kept")
    sources = Sources(settings)
    db = tmp_path / "results.sqlite3"
    status, results = EmbeddedStatusStore(db), SQLiteResultStore(db)
    await status.start()
    await results.start()
    now = datetime.now(UTC)
    long_ago = now - timedelta(days=40)
    try:
        # On disk: finished long ago, finished yesterday, still processing, never heard of.
        for video_id in ("old-done", "new-done", "old-running", "old-unknown"):
            folder = settings.upload_root / video_id
            folder.mkdir(parents=True)
            (folder / "a.mp4").write_bytes(VIDEO)
            os.utime(folder, (long_ago.timestamp(), long_ago.timestamp()))
        await status.set_status(
            VideoStatus(video_id="old-done", state=VideoState.COMPLETE, updated_at=long_ago)
        )
        await status.set_status(
            VideoStatus(video_id="new-done", state=VideoState.COMPLETE, updated_at=now)
        )
        await status.set_status(
            VideoStatus(video_id="old-running", state=VideoState.PROCESSING, updated_at=long_ago)
        )
        # In the bucket: a video whose status expired but whose result is old.
        s3_client(endpoint).put_object(Bucket=BUCKET, Key="kept/old-result/a.mp4", Body=VIDEO)
        old_result = AnalysisResult(
            video_id="old-result", status=ResultStatus.COMPLETE, created_at=long_ago
        )
        await results.save_result(old_result)

        # Objects written just now are not past retention yet ...
        removed = await expire_uploads(30, sources=sources, status=status, results=results, now=now)
        assert sorted(removed) == ["old-done", "old-unknown"]
        assert sorted(p.name for p in settings.upload_root.iterdir()) == [
            "new-done",
            "old-running",
        ]
        # ... and are, 31 days on.
        later = now + timedelta(days=31)
        removed = await expire_uploads(
            30, sources=sources, status=status, results=results, now=later
        )
        assert "old-result" in removed and "old-running" not in removed
        assert [k for k in object_keys(endpoint, BUCKET) if k.startswith("kept/")] == []
        assert await results.get_result("old-result") is not None  # results stay
    finally:
        await status.close()
        await results.close()
