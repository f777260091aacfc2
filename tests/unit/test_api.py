"""The HTTP sidecar with a fake publisher and the embedded stores in tmp_path."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.media_factory import make_clip, make_corrupt, make_text_as_mp4
from video_analysis import __version__
from video_analysis.api import create_app
from video_analysis.api.deps import Components, components_of
from video_analysis.schemas import VideoState, VideoStatus, VideoUploaded
from video_analysis.settings import Settings
from video_analysis.store import EmbeddedStatusStore, SQLiteResultStore


class FakePublisher:
    """Records published events; ``fail`` makes publish and ping raise (broker down)."""

    def __init__(self) -> None:
        self.events: list[VideoUploaded] = []
        self.deleted: list[str] = []
        self.fail = False

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def publish_upload(self, event: VideoUploaded) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.events.append(event)

    async def publish_deletion(self, video_id: str) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.deleted.append(video_id)

    async def ping(self) -> None:
        if self.fail:
            raise ConnectionError("broker down")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("media") / "answer.mp4", duration=2.0, size=(160, 120))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path / "data",
        upload_root=tmp_path / "uploads",
        models_dir=tmp_path / "models",
        public_base_url="http://api.test",
    )


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


def components(client: TestClient) -> Components:
    """The app's stores, publisher and keys, as its routes see them."""
    assert isinstance(client.app, FastAPI)
    return components_of(client.app)


@contextmanager
def make_client(settings: Settings, publisher: FakePublisher) -> Iterator[TestClient]:
    db = settings.data_dir / "results.sqlite3"
    results, status = SQLiteResultStore(db), EmbeddedStatusStore(db)
    app = create_app(settings, publisher=publisher, result_store=results, status_store=status)
    with TestClient(app) as client:
        yield client
        # Injected stores belong to the caller: close them on the app's loop.
        client.portal.call(results.close)  # type: ignore[union-attr]
        client.portal.call(status.close)  # type: ignore[union-attr]


@pytest.fixture
def client(settings: Settings, publisher: FakePublisher) -> Iterator[TestClient]:
    with make_client(settings, publisher) as client:
        yield client


def upload(
    client: TestClient, path: Path, name: str | None = None, **fields: str
) -> tuple[int, Any]:
    with path.open("rb") as fh:
        response = client.post(
            "/analyze-video",
            files={"file": (name or path.name, fh, "video/mp4")},
            data=fields,
        )
    return response.status_code, response.json()


def stored_files(settings: Settings) -> list[Path]:
    root = settings.upload_root
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_root_and_liveness(client: TestClient) -> None:
    assert client.get("/").json() == {
        "service": "video-analysis",
        "version": __version__,
        "docs": "/docs",
    }
    assert client.get("/health").json() == {"status": "ok"}


def test_valid_mp4_is_stored_queued_and_published(
    client: TestClient, publisher: FakePublisher, settings: Settings, clip: Path
) -> None:
    code, body = upload(
        client,
        clip,
        video_id="vid-1",
        interview_id="int-9",
        metadata=json.dumps({"team": "search", "applicant_id": "from-json"}),
        applicant_id="app-3",
    )

    assert code == 202, body
    assert body == {
        "video_id": "vid-1",
        "status": "queued",
        "status_url": "http://api.test/videos/vid-1",
        "result_url": "http://api.test/videos/vid-1/result",
    }
    assert len(publisher.events) == 1
    event = publisher.events[0]
    stored = Path(event.uri)
    assert stored.is_relative_to(settings.upload_root.resolve())
    assert stored.read_bytes() == clip.read_bytes()
    assert event.filename == "answer.mp4"
    assert event.metadata.interview_id == "int-9"
    assert event.metadata.applicant_id == "app-3"  # the explicit field wins over the JSON
    assert event.metadata.model_extra == {"team": "search"}

    status = client.get("/videos/vid-1")
    assert status.status_code == 200
    assert status.json()["state"] == "queued"


def test_missing_video_id_gets_a_generated_one(
    client: TestClient, publisher: FakePublisher, clip: Path
) -> None:
    code, body = upload(client, clip)
    assert code == 202, body
    assert len(body["video_id"]) == 32
    assert publisher.events[0].video_id == body["video_id"]


def test_text_file_named_mp4_is_rejected_with_415(
    client: TestClient, publisher: FakePublisher, settings: Settings, tmp_path: Path
) -> None:
    code, body = upload(client, make_text_as_mp4(tmp_path / "note.mp4"), video_id="txt")
    assert code == 415
    assert body["error"]["code"] == "unsupported_media_type"
    assert publisher.events == []
    assert stored_files(settings) == []


def test_wrong_extension_is_rejected_with_415(
    client: TestClient, clip: Path, settings: Settings
) -> None:
    code, body = upload(client, clip, name="answer.txt")
    assert code == 415
    assert body["error"]["code"] == "unsupported_media_type"
    assert stored_files(settings) == []


def test_corrupt_mp4_is_422_and_deleted(
    client: TestClient, publisher: FakePublisher, settings: Settings, tmp_path: Path
) -> None:
    code, body = upload(client, make_corrupt(tmp_path / "broken.mp4"), video_id="broken")
    assert code == 422
    assert body["error"]["code"] == "unreadable_media"
    assert body["error"]["message"]
    assert publisher.events == []
    assert stored_files(settings) == []
    assert client.get("/videos/broken").status_code == 404


def test_audio_only_file_is_422_no_video_stream(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    audio_only = make_clip(tmp_path / "voice.mp4", duration=1.0, video=False)
    code, body = upload(client, audio_only, video_id="voice")
    assert code == 422
    assert body["error"]["code"] == "no_video_stream"
    assert stored_files(settings) == []


def test_upload_over_the_limit_is_413_and_leaves_nothing(
    settings: Settings, publisher: FakePublisher, clip: Path
) -> None:
    settings.max_upload_bytes = 2048
    with make_client(settings, publisher) as client:
        code, body = upload(client, clip, video_id="big")
    assert code == 413
    assert body["error"]["code"] == "upload_too_large"
    assert "2048" in body["error"]["message"]
    assert publisher.events == []
    assert stored_files(settings) == []


def test_streamed_body_over_the_limit_is_cut_off(
    settings: Settings, publisher: FakePublisher
) -> None:
    settings.max_upload_bytes = 2048

    def body() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield (
            b'--abc\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n'
            b"Content-Type: video/mp4\r\n\r\n"
        )
        for _ in range(4):
            yield b"\0" * (1024 * 1024)
        yield b"\r\n--abc--\r\n"

    with make_client(settings, publisher) as client:
        response = client.post(
            "/analyze-video",
            content=body(),
            headers={"content-type": "multipart/form-data; boundary=abc"},
        )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "upload_too_large"
    assert stored_files(settings) == []


def test_declared_content_length_over_the_limit_is_rejected_early(
    settings: Settings, publisher: FakePublisher
) -> None:
    settings.max_upload_bytes = 2048
    with make_client(settings, publisher) as client:
        response = client.post(
            "/analyze-video",
            content=b"x" * (2048 + 2 * 1024 * 1024),
            headers={"content-type": "multipart/form-data; boundary=abc"},
        )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "upload_too_large"


@pytest.mark.parametrize(
    "video_id", ["../etc", "has space", "-leading-dash", "x" * 200, "trailing-newline\n"]
)
def test_bad_video_id_is_422(
    client: TestClient, clip: Path, settings: Settings, video_id: str
) -> None:
    code, body = upload(client, clip, video_id=video_id)
    assert code == 422
    assert body["error"]["code"] == "invalid_video_id"
    assert stored_files(settings) == []
    assert client.get(f"/videos/{video_id.strip()}").status_code in (404, 422)


@pytest.mark.parametrize(
    "metadata", ["{not json", "[1, 2]", '{"interview_id": 5}', '{"language": "zz"}']
)
def test_bad_metadata_is_422(client: TestClient, clip: Path, metadata: str) -> None:
    code, body = upload(client, clip, metadata=metadata)
    assert code == 422
    assert body["error"]["code"] == "invalid_metadata"


def test_unknown_language_is_422_and_a_known_one_is_normalised(
    client: TestClient, publisher: FakePublisher, clip: Path
) -> None:
    code, body = upload(client, clip, video_id="zz", language="zz")
    assert (code, body["error"]["code"]) == (422, "invalid_metadata")
    assert "'zz'" in body["error"]["message"] and "'ko'" in body["error"]["message"]
    assert upload(client, clip, video_id="ko", language=" KO ")[0] == 202
    assert publisher.events[-1].metadata.language == "ko"


def test_empty_file_is_422_unreadable_media(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    code, body = upload(client, empty, video_id="empty")
    assert (code, body["error"]["code"]) == (422, "unreadable_media")
    assert "empty" in body["error"]["message"]
    assert stored_files(settings) == []
    assert client.get("/videos/empty").status_code == 404


def test_very_long_file_name_is_a_clear_422(client: TestClient, clip: Path) -> None:
    code, body = upload(client, clip, name="a" * 5000 + ".mp4", video_id="longname")
    assert (code, body["error"]["code"]) == (422, "invalid_request")
    assert "Maximum header size exceeded" in body["error"]["message"]


def test_too_long_or_too_large_video_is_refused_at_upload_time(
    settings: Settings, publisher: FakePublisher, clip: Path
) -> None:
    settings.max_duration_s = 1.0
    with make_client(settings, publisher) as client:
        code, body = upload(client, clip, video_id="long")
        assert (code, body["error"]["code"]) == (422, "too_long")
        assert "2 s long; the limit is 1 s" in body["error"]["message"]
        settings.max_duration_s = 60.0
        settings.max_resolution_px = 128  # the clip is 160x120
        code, body = upload(client, clip, video_id="large")
        assert (code, body["error"]["code"]) == (422, "frame_too_large")
        assert "160x120" in body["error"]["message"]
        # Refused before anything was published, stored or marked queued.
        assert publisher.events == []
        assert stored_files(settings) == []
        for video_id in ("long", "large"):
            assert client.get(f"/videos/{video_id}").status_code == 404


def test_concurrent_uploads_with_one_id_accept_exactly_one(
    client: TestClient, publisher: FakePublisher, settings: Settings, clip: Path
) -> None:
    import httpx

    content = clip.read_bytes()

    async def five_at_once() -> list[int]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
            answers = await asyncio.gather(
                *(
                    http.post(
                        "/analyze-video",
                        files={"file": ("a.mp4", content, "video/mp4")},
                        data={"video_id": "same"},
                    )
                    for _ in range(5)
                )
            )
        return sorted(answer.status_code for answer in answers)

    assert client.portal.call(five_at_once) == [202, 409, 409, 409, 409]  # type: ignore[union-attr]
    assert [event.video_id for event in publisher.events] == ["same"]
    # The one upload, and its event kept beside it for a restart.
    assert sorted(p.name for p in stored_files(settings)) == ["a.mp4", "event.json"]


def test_missing_file_field_is_422(client: TestClient) -> None:
    response = client.post("/analyze-video", data={"video_id": "abc"}, files={"other": ("a", b"")})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "missing_file"

    response = client.post("/analyze-video", json={"video_id": "abc"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


def test_duplicate_video_id_is_409(
    client: TestClient, publisher: FakePublisher, clip: Path
) -> None:
    assert upload(client, clip, video_id="twice")[0] == 202
    code, body = upload(client, clip, video_id="twice")
    assert code == 409
    assert body["error"]["code"] == "duplicate_video_id"
    assert len(publisher.events) == 1


def test_broker_down_is_503_without_queued_status_or_file(
    client: TestClient, publisher: FakePublisher, settings: Settings, clip: Path
) -> None:
    publisher.fail = True
    code, body = upload(client, clip, video_id="nobroker")
    assert code == 503
    assert body["error"]["code"] == "broker_unavailable"
    assert client.get("/videos/nobroker").status_code == 404
    assert stored_files(settings) == []

    publisher.fail = False  # the client may retry with the same id
    assert upload(client, clip, video_id="nobroker")[0] == 202


def test_unknown_video_is_404(client: TestClient) -> None:
    for path in ("/videos/nope", "/videos/nope/result"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "unknown_video"


def test_result_is_202_with_status_while_processing(
    client: TestClient, publisher: FakePublisher, clip: Path
) -> None:
    assert upload(client, clip, video_id="busy")[0] == 202
    app_status = components(client).status
    client.portal.call(  # type: ignore[union-attr]
        app_status.set_status,
        VideoStatus(video_id="busy", state=VideoState.PROCESSING, progress=0.5),
    )

    response = client.get("/videos/busy/result")
    assert response.status_code == 202
    assert response.json()["state"] == "processing"
    assert response.json()["progress"] == 0.5


def test_stored_result_is_returned_as_the_bytes_a_claim_check_hashes(client: TestClient) -> None:
    from video_analysis import claim_check
    from video_analysis.schemas import AnalysisResult, ResultStatus

    results = components(client).results
    result = AnalysisResult(video_id="done", status=ResultStatus.COMPLETE)
    client.portal.call(results.save_result, result)  # type: ignore[union-attr]

    response = client.get("/videos/done/result")
    assert response.status_code == 200
    assert response.json()["video_id"] == "done"
    assert response.json()["status"] == "complete"
    ref = claim_check.reference(result, claim_check.body_of(result), object_uri=None)
    assert hashlib.sha256(response.content).hexdigest() == ref.sha256
    assert response.headers["etag"] == f'"{ref.sha256}"'
    assert response.headers["content-type"] == "application/json"


def test_report_is_the_page_of_the_stored_result_and_409_while_processing(
    client: TestClient, clip: Path
) -> None:
    from video_analysis.schemas import AnalysisResult, ResultStatus

    results = components(client).results
    result = AnalysisResult(video_id="done", status=ResultStatus.COMPLETE)
    client.portal.call(results.save_result, result)  # type: ignore[union-attr]
    assert upload(client, clip, video_id="busy")[0] == 202

    page = client.get("/videos/done/report")
    busy = client.get("/videos/busy/report")
    unknown = client.get("/videos/nobody/report")

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Interview report" in page.text and "done" in page.text
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "not_ready"
    assert unknown.status_code == 404


def test_report_is_in_the_language_asked_else_the_readers_else_the_videos(
    client: TestClient,
) -> None:
    from video_analysis.schemas import AnalysisResult, ResultStatus, SpeechSection

    results = components(client).results
    result = AnalysisResult(
        video_id="kr", status=ResultStatus.COMPLETE, speech=SpeechSection(language="ko")
    )
    client.portal.call(results.save_result, result)  # type: ignore[union-attr]

    own = client.get("/videos/kr/report")
    asked = client.get("/videos/kr/report?lang=en", headers={"Accept-Language": "ko"})
    browser = client.get("/videos/kr/report", headers={"Accept-Language": "en-GB,en;q=0.9"})
    unknown = client.get("/videos/kr/report?lang=fr")

    assert own.headers["content-language"] == "ko" and '<html lang="ko">' in own.text
    assert "면접 보고서" in own.text or "인터뷰 보고서" in own.text
    assert asked.headers["content-language"] == "en" and "Interview report" in asked.text
    assert browser.headers["content-language"] == "en"
    assert "accept-language" in own.headers["vary"].lower()
    assert unknown.status_code == 422


def test_readiness(client: TestClient, publisher: FakePublisher) -> None:
    ready = client.get("/health/ready")
    assert ready.status_code == 200, ready.json()
    assert ready.json()["status"] == "ready"
    assert set(ready.json()["checks"]) == {"broker", "results", "status"}

    publisher.fail = True
    not_ready = client.get("/health/ready")
    assert not_ready.status_code == 503
    body = not_ready.json()
    assert body["checks"]["broker"]["ok"] is False
    assert "broker down" in body["checks"]["broker"]["error"]
    assert body["checks"]["results"] == {"ok": True}
    assert body["error"]["code"] == "not_ready"


def test_metrics_count_uploads_by_outcome(client: TestClient, clip: Path, tmp_path: Path) -> None:
    upload(client, clip, video_id="m1")
    upload(client, make_text_as_mp4(tmp_path / "n.mp4"))
    text = client.get("/metrics").text
    assert 'video_analysis_uploads_total{outcome="accepted"} 1.0' in text
    assert 'video_analysis_uploads_total{outcome="unsupported_media_type"} 1.0' in text
    assert "video_analysis_http_request_duration_seconds_bucket" in text


def test_unknown_route_has_error_shape(client: TestClient) -> None:
    response = client.get("/no/such/route")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_method_a_path_does_not_serve_names_every_method_it_does(client: TestClient) -> None:
    # GET and DELETE /videos/{id} are two routes; Starlette alone would name only the first.
    response = client.put("/videos/v1")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert set(response.headers["allow"].split(", ")) == {"GET", "DELETE"}


def test_a_file_sent_without_an_extension_is_named_by_its_container(
    client: TestClient, clip: Path, publisher: FakePublisher, settings: Settings
) -> None:
    # A generated client or a browser's Blob sends bare bytes ("file", "blob"): the content
    # decides, as it does for a named file.
    code, body = upload(client, clip, name="blob", video_id="bare")
    assert code == 202, body
    assert publisher.events[-1].filename == "blob.mp4"
    assert "blob.mp4" in {path.name for path in stored_files(settings)}
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    code, body = upload(client, make_text_as_mp4(settings.data_dir / "notes"), name="notes")
    assert (code, body["error"]["code"]) == (415, "unsupported_media_type")


def test_stores_built_from_settings_share_the_embedded_file(
    settings: Settings, publisher: FakePublisher, clip: Path
) -> None:
    with TestClient(create_app(settings, publisher=publisher)) as client:
        code, _ = upload(client, clip, video_id="owned")
        assert code == 202
        assert client.get("/health/ready").status_code == 200
    assert (settings.data_dir / "results.sqlite3").exists()

    # A second app (another process in production) sees the same status.
    with TestClient(create_app(settings, publisher=publisher)) as client:
        assert client.get("/videos/owned").json()["state"] == "queued"


def test_models_status_shows_what_workers_report_loaded(client: TestClient) -> None:
    from video_analysis.schemas import ModelLoad

    before = {m["name"]: m for m in client.get("/models/status").json()["models"]}
    assert before["whisper-base"]["loaded"] is False
    app_status = components(client).status
    load = ModelLoad(name="whisper-base", worker="speech@host:42", load_time_s=0.9, device="cpu")
    client.portal.call(app_status.report_model_loads, [load])  # type: ignore[union-attr]

    after = {m["name"]: m for m in client.get("/models/status").json()["models"]}
    assert after["whisper-base"]["loaded"] is True
    assert after["whisper-base"]["workers"] == ["speech@host:42"]
    assert after["whisper-base"]["load_time_s"] == 0.9
    assert after["fer-emotion"]["loaded"] is False


# ------------------------------------------------------------------------------ API keys


def keyed(settings: Settings, *specs: tuple[str, str]) -> tuple[Settings, dict[str, str]]:
    """``settings`` with one key per (name, scopes); the keys themselves by name."""
    from video_analysis.auth import new_key

    made = {name: new_key(name, scopes.split("+")) for name, scopes in specs}
    entries = ",".join(entry.entry for _, entry in made.values())
    updated = Settings(**{**settings.model_dump(), "api_keys": entries})
    return updated, {name: key for name, (key, _) in made.items()}


def test_every_route_but_health_needs_a_key_with_its_scope(
    settings: Settings, publisher: FakePublisher, clip: Path
) -> None:
    settings, key = keyed(settings, ("platform", "submit+read"), ("viewer", "read"))
    with make_client(settings, publisher) as client:
        for path in ("/", "/health", "/health/ready"):
            assert client.get(path).status_code in (200, 503), path
        missing = client.get("/videos/v1")
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "unauthorized"
        assert missing.headers["www-authenticate"] == "Bearer"
        assert client.get("/videos/v1", headers={"X-API-Key": "va_wrong"}).status_code == 401

        viewer = {"X-API-Key": key["viewer"]}
        with clip.open("rb") as fh:
            refused = client.post(
                "/analyze-video", files={"file": ("a.mp4", fh, "video/mp4")}, headers=viewer
            )
        assert refused.status_code == 403
        assert "'submit'" in refused.json()["error"]["message"]
        assert publisher.events == []

        bearer = {"Authorization": f"Bearer {key['platform']}"}
        with clip.open("rb") as fh:
            accepted = client.post(
                "/analyze-video",
                files={"file": ("a.mp4", fh, "video/mp4")},
                data={"video_id": "v1"},
                headers=bearer,
            )
        assert accepted.status_code == 202
        for path in ("/videos/v1", "/videos/v1/result", "/models/status"):
            assert client.get(path, headers=viewer).status_code in (200, 202), path
        assert client.get("/metrics", headers=viewer).status_code == 403  # admin only


def test_model_status_shows_paths_hosts_and_pids_to_admin_keys_only(
    settings: Settings, publisher: FakePublisher
) -> None:
    from video_analysis.schemas import ModelLoad

    settings, key = keyed(settings, ("viewer", "read"), ("ops", "read+admin"))
    with make_client(settings, publisher) as client:
        app_status = components(client).status
        load = ModelLoad(name="whisper-base", worker="speech@host-7:42", load_time_s=0.9)
        client.portal.call(app_status.report_model_loads, [load])  # type: ignore[union-attr]
        seen = {}
        for name in ("viewer", "ops"):
            answer = client.get("/models/status", headers={"X-API-Key": key[name]})
            seen[name] = {m["name"]: m for m in answer.json()["models"]}
    assert seen["viewer"]["whisper-base"]["loaded"] is True
    assert seen["viewer"]["whisper-base"]["workers"] == []
    assert all(m["path"] is None for m in seen["viewer"].values())
    assert str(settings.models_dir) not in json.dumps(seen["viewer"])
    assert seen["ops"]["whisper-base"]["workers"] == ["speech@host-7:42"]


def test_docs_follow_the_setting_and_are_off_in_production(
    settings: Settings, publisher: FakePublisher
) -> None:
    with make_client(settings, publisher) as client:
        assert client.get("/openapi.json").status_code == 200
    settings.api_docs = False
    with make_client(settings, publisher) as client:
        assert client.get("/openapi.json").status_code == 404
        assert client.get("/docs").status_code == 404
    production, _ = keyed(settings, ("platform", "submit"))
    production = Settings(**{**production.model_dump(), "environment": "production"})
    production.api_docs = None
    assert production.docs_enabled is False


def test_a_production_api_without_keys_refuses_to_start(settings: Settings) -> None:
    production = Settings(**{**settings.model_dump(), "environment": "production"})
    with pytest.raises(ValueError, match="VA_API_KEYS"):
        create_app(production, publisher=FakePublisher())


def test_a_malformed_key_entry_is_refused_with_the_reason() -> None:
    from pydantic import ValidationError

    for entry, why in [
        ("platform:submit", "name:scope"),
        ("platform:upload:" + "a" * 64, "scopes must be"),
        ("platform:submit:nothex", "SHA-256"),
    ]:
        with pytest.raises(ValidationError, match=why):
            Settings(api_keys=entry)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ deletion


def test_delete_erases_upload_result_and_status_and_tells_the_join(
    client: TestClient, publisher: FakePublisher, settings: Settings, clip: Path
) -> None:
    from datetime import UTC, datetime

    from video_analysis.schemas import AnalysisResult, ResultStatus

    assert upload(client, clip, video_id="gone", applicant_id="ap-1")[0] == 202
    parts = components(client)
    result = AnalysisResult(
        video_id="gone", status=ResultStatus.COMPLETE, created_at=datetime.now(UTC)
    )
    client.portal.call(parts.results.save_result, result)  # type: ignore[union-attr]
    assert stored_files(settings) and client.get("/videos/gone/result").status_code == 200

    answer = client.delete("/videos/gone")
    assert answer.status_code == 200
    assert answer.json() == {
        "video_id": "gone",
        "state": "deleted",
        "uploads_removed": 1,
        "result_removed": True,
        "join_notified": True,
    }
    assert publisher.deleted == ["gone"]
    assert stored_files(settings) == []
    assert not (settings.upload_root / "gone").exists()
    stored = client.portal.call(parts.results.get_result, "gone")  # type: ignore[union-attr]
    assert stored is None
    # Every read of an erased video answers 410 deleted (its status record stays internally).
    for path in (
        "/videos/gone",
        "/videos/gone/events",
        "/videos/gone/result",
        "/videos/gone/report",
    ):
        gone = client.get(path)
        assert (gone.status_code, gone.json()["error"]["code"]) == (410, "deleted"), path
    # The id stays taken; a worker's late update cannot bring the video back.
    assert upload(client, clip, video_id="gone")[0] == 409
    late = VideoStatus(video_id="gone", state=VideoState.COMPLETE, progress=1.0)
    client.portal.call(parts.status.set_status, late)  # type: ignore[union-attr]
    assert client.get("/videos/gone").json()["error"]["code"] == "deleted"
    assert client.portal.call(parts.status.get_status, "gone").state is VideoState.DELETED  # type: ignore[union-attr]
    # Deleting again is harmless; an unknown video is a 404.
    assert client.delete("/videos/gone").status_code == 200
    assert client.delete("/videos/never").status_code == 404


def test_delete_needs_the_delete_scope_and_reports_a_broker_outage(
    settings: Settings, publisher: FakePublisher, clip: Path
) -> None:
    settings, key = keyed(settings, ("platform", "submit+read"), ("privacy", "delete"))
    with make_client(settings, publisher) as client:
        with clip.open("rb") as fh:
            client.post(
                "/analyze-video",
                files={"file": ("a.mp4", fh, "video/mp4")},
                data={"video_id": "v9"},
                headers={"X-API-Key": key["platform"]},
            )
        refused = client.delete("/videos/v9", headers={"X-API-Key": key["platform"]})
        assert refused.status_code == 403
        publisher.fail = True
        down = client.delete("/videos/v9", headers={"X-API-Key": key["privacy"]})
        assert (down.status_code, down.json()["error"]["code"]) == (503, "deletion_incomplete")
        assert stored_files(settings) == []  # what could be removed locally is gone
        publisher.fail = False
        done = client.delete("/videos/v9", headers={"X-API-Key": key["privacy"]})
        assert done.status_code == 200 and publisher.deleted == ["v9"]


def test_reprocess_during_a_broker_outage_is_503_and_leaves_the_video_final(
    client: TestClient, clip: Path, publisher: FakePublisher
) -> None:
    assert upload(client, clip, video_id="again")[0] == 202
    done = VideoStatus(video_id="again", state=VideoState.COMPLETE, progress=1.0)
    client.portal.call(components(client).status.set_status, done)  # type: ignore[union-attr]
    publisher.fail = True
    answer = client.post("/videos/again/reprocess")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "broker_unavailable"
    assert client.get("/videos/again").json()["state"] == "complete"
    publisher.fail = False
    assert client.post("/videos/again/reprocess").json()["run"] == 1
