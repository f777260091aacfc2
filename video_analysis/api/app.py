"""The FastAPI sidecar: takes an upload, stores it, publishes ``VideoUploaded``, reads status.

Thin by design: validation, storage and publishing only. The analysis happens in the workers.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException
from starlette.types import Message, Receive

from .. import __version__
from ..auth import ApiKey, KeyRing, presented_key
from ..deletion import Deleted, delete_video
from ..errors import (
    Forbidden,
    MediaError,
    Unauthorized,
    UnknownVideo,
    UnreadableMedia,
    UnsupportedMediaType,
    UploadTooLarge,
    VideoAnalysisError,
)
from ..media.limits import check_media_limits
from ..metadata import read_metadata
from ..reprocess import Reprocessing, reprocess_video
from ..schemas import MediaInfo, VideoState, VideoStatus, VideoUploaded
from ..schemas.events import VIDEO_ID_PATTERN, valid_video_id
from ..settings import Settings, get_settings
from ..store import (
    ResultStore,
    Sources,
    StatusStore,
    UploadStorage,
    create_result_store,
    create_status_store,
)
from . import media
from .events import status_events

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS: frozenset[str] = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi"})
CHUNK_BYTES = 1024 * 1024
SNIFF_BYTES = 64 * 1024
#: Room for the multipart framing and the small form fields on top of the file itself.
FORM_OVERHEAD_BYTES = 1024 * 1024
MAX_FIELD_BYTES = 64 * 1024
READY_TIMEOUT_S = 2.0
#: Workers renew their model reports every MODEL_REPORT_INTERVAL_S (streams/analyzer_agent.py);
#: a report older than this is of a worker that is gone.
MODEL_REPORT_MAX_AGE_S = 60.0
PUBLISH_TIMEOUT_S = 20.0
METADATA_FIELDS = ("interview_id", "question_id", "applicant_id", "language")


class Publisher(Protocol):
    """What the API needs from ``streams.publisher.EventPublisher``."""

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def publish_upload(self, event: VideoUploaded) -> None: ...
    async def publish_deletion(self, video_id: str) -> None: ...
    async def ping(self) -> None: ...


class UploadAccepted(BaseModel):
    video_id: str
    status: VideoState
    status_url: str
    result_url: str


class ApiError(VideoAnalysisError):
    """A 4xx/5xx answer with a code that is not one of the domain errors."""

    def __init__(self, message: str, *, code: str, http_status: int) -> None:
        super().__init__(message, code=code)
        self.http_status = http_status


@dataclass
class Components:
    settings: Settings
    publisher: Publisher
    results: ResultStore
    status: StatusStore
    uploads: UploadStorage
    sources: Sources


class Metrics:
    """Per-app registry, so several apps (tests) never clash on metric names."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.uploads = Counter(
            "video_analysis_uploads",
            "Uploads to POST /analyze-video by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "video_analysis_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["method", "route", "status"],
            registry=self.registry,
        )


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}, **extra}


def _default_publisher(settings: Settings) -> Publisher:
    from ..streams.publisher import EventPublisher

    return EventPublisher(settings)


def create_app(
    settings: Settings | None = None,
    *,
    publisher: Publisher | None = None,
    result_store: ResultStore | None = None,
    status_store: StatusStore | None = None,
) -> FastAPI:
    """Build the app; components not injected are built from settings and owned by the app."""
    settings = settings or get_settings()
    keys = KeyRing(settings.api_keys)
    if keys.open:
        if settings.environment == "production":
            raise ValueError(
                "VA_API_KEYS is empty: the production API needs keys "
                "(video-analysis keys create NAME --scopes submit,read)"
            )
        log.warning("VA_API_KEYS is empty: the API is open to anyone who can reach it")
    owned: list[Any] = []
    if publisher is None:
        publisher = _default_publisher(settings)
        owned.append(publisher)
    if result_store is None:
        result_store = create_result_store(settings)
        owned.append(result_store)
    if status_store is None:
        status_store = create_status_store(settings)
        owned.append(status_store)
    components = Components(
        settings=settings,
        publisher=publisher,
        results=result_store,
        status=status_store,
        uploads=UploadStorage(settings.upload_root),
        sources=Sources(settings),
    )
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The API must come up even when a dependency is down: readiness says so, and the
        # stores and the publisher reconnect on their next use. The publisher starts in the
        # background because connecting to a broker that is down can take indefinitely long.
        background: list[asyncio.Task[None]] = []
        if components.sources.upload_prefix is not None:
            background.append(asyncio.create_task(_ensure_upload_bucket(components.sources)))
        for component in owned:
            if component is publisher:
                background.append(asyncio.create_task(_start(component)))
            else:
                await _start(component)
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            for component in reversed(owned):
                try:
                    await component.close()
                except Exception as exc:
                    log.warning("closing %s failed: %s", type(component).__name__, exc)

    docs = settings.docs_enabled
    app = FastAPI(
        title="video-analysis",
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )

    def allow(scope: str) -> Callable[..., Awaitable[ApiKey | None]]:
        """A dependency: the caller's key must carry ``scope`` (anyone, when keys are off)."""

        async def check(
            x_api_key: str | None = Header(None, include_in_schema=False),
            authorization: str | None = Header(None, include_in_schema=False),
        ) -> ApiKey | None:
            if keys.open:
                return None
            key = keys.identify(presented_key(x_api_key, authorization))
            if key is None:
                raise Unauthorized("send a valid API key as X-API-Key or Authorization: Bearer")
            if scope not in key.scopes:
                raise Forbidden(f"the key {key.name!r} does not have the {scope!r} scope")
            return key

        return check

    def is_admin(key: ApiKey | None) -> bool:
        return keys.open or (key is not None and "admin" in key.scopes)

    app.state.components = components
    app.state.media_links = media.MediaLinks.from_settings(settings)
    app.state.metrics = metrics
    _install_error_handlers(app)
    app.include_router(media.router)

    @app.middleware("http")
    async def _time_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        status_code = 500
        try:
            response = await call_next(request)
            status_code = response.status_code
            return response
        finally:
            route = request.scope.get("route")
            path = getattr(route, "path", "unmatched")
            metrics.latency.labels(request.method, path, str(status_code)).observe(
                time.perf_counter() - started
            )

    @app.get("/")
    async def root() -> dict[str, str]:
        return {"service": "video-analysis", "version": __version__, "docs": "/docs"}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready")
    async def ready() -> JSONResponse:
        checks = {
            "broker": components.publisher.ping,
            "results": components.results.ping,
            "status": components.status.ping,
        }
        upload_store = components.sources.upload_prefix
        if upload_store is not None:
            bucket = upload_store.bucket
            checks["uploads"] = lambda: asyncio.to_thread(components.sources.objects.ping, bucket)
        outcomes = await asyncio.gather(*(_check(ping) for ping in checks.values()))
        report = dict(zip(checks, outcomes, strict=True))
        failed = {name: out["error"] for name, out in report.items() if not out["ok"]}
        if not failed:
            return JSONResponse({"status": "ready", "checks": report})
        message = "; ".join(f"{name}: {why}" for name, why in failed.items())
        return JSONResponse(
            error_body("not_ready", message, status="not_ready", checks=report), status_code=503
        )

    @app.get("/models/status")
    async def models_status(
        key: ApiKey | None = Depends(allow("read")),  # noqa: B008 - FastAPI's idiom
    ) -> dict[str, list[Any]]:
        from ..models import bundle

        items = await asyncio.to_thread(bundle.status, settings)
        # The API loads no model itself: "loaded" comes from what the workers report.
        try:
            loads = await components.status.model_loads(max_age_s=MODEL_REPORT_MAX_AGE_S)
        except VideoAnalysisError as exc:
            log.warning("worker model reports unavailable: %s", exc)
        else:
            items = bundle.with_worker_loads(items, loads)
        shown = [item.model_dump(mode="json") for item in items]
        if not is_admin(key):
            # Paths, host names and PIDs describe the server: for operators only.
            for item in shown:
                item["path"] = None
                item["workers"] = []
                if item.get("error"):
                    item["error"] = "not available (details for admin keys)"
        return {"models": shown}

    @app.post(
        "/analyze-video",
        status_code=202,
        response_model=UploadAccepted,
        openapi_extra=_UPLOAD_OPENAPI,
        responses={409: {}, 413: {}, 415: {}, 422: {}, 503: {}},
    )
    async def analyze_video(
        request: Request,
        key: ApiKey | None = Depends(allow("submit")),  # noqa: B008
    ) -> JSONResponse:
        try:
            accepted = await _accept_upload(request, components)
        except VideoAnalysisError as exc:
            metrics.uploads.labels(exc.code).inc()
            raise
        metrics.uploads.labels("accepted").inc()
        return JSONResponse(accepted.model_dump(mode="json"), status_code=202)

    @app.get("/videos/{video_id}", response_model=VideoStatus)
    async def video_status(
        video_id: str,
        key: ApiKey | None = Depends(allow("read")),  # noqa: B008
    ) -> VideoStatus:
        status = await components.status.get_status(video_id) if _valid_id(video_id) else None
        if status is None:
            raise UnknownVideo(f"no video with id {video_id!r}")
        return status

    @app.get("/videos/{video_id}/result")
    async def video_result(
        video_id: str,
        key: ApiKey | None = Depends(allow("read")),  # noqa: B008
    ) -> Response:
        if not _valid_id(video_id):
            raise UnknownVideo(f"no video with id {video_id!r}")
        body = await components.results.get_result_body(video_id)
        if body is not None:
            # The stored bytes as they are: a claim check's result_ref.sha256 is their hash,
            # and the ETag lets a platform tell a reprocessed result from the one it has.
            return Response(
                body,
                media_type="application/json",
                headers={"ETag": f'"{hashlib.sha256(body).hexdigest()}"'},
            )
        status = await components.status.get_status(video_id)
        if status is None:
            raise UnknownVideo(f"no video with id {video_id!r}")
        _refuse_deleted(status)
        # Known but not finished (or its result not stored yet): poll again later.
        return JSONResponse(status.model_dump(mode="json"), status_code=202)

    @app.get("/videos/{video_id}/events")
    async def video_events(
        video_id: str,
        request: Request,
        key: ApiKey | None = Depends(allow("read")),  # noqa: B008
    ) -> StreamingResponse:
        """Server-sent events: the state now, then progress per stage and the transcript as
        it forms, until the video is final (see ``api/events.py``)."""
        first = await components.status.get_status(video_id) if _valid_id(video_id) else None
        if first is None:
            raise UnknownVideo(f"no video with id {video_id!r}")
        events = status_events(
            lambda: components.status.get_status(video_id),
            first,
            poll_s=settings.events_poll_s,
            disconnected=request.is_disconnected,
        )
        return StreamingResponse(
            events,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get("/videos/{video_id}/report", response_class=HTMLResponse)
    async def video_report(
        video_id: str,
        key: ApiKey | None = Depends(allow("read")),  # noqa: B008
    ) -> HTMLResponse:
        """The interview's report: one self-contained HTML page (no network needed)."""
        if not _valid_id(video_id):
            raise UnknownVideo(f"no video with id {video_id!r}")
        result = await components.results.get_result(video_id)
        if result is None:
            status = await components.status.get_status(video_id)
            if status is None:
                raise UnknownVideo(f"no video with id {video_id!r}")
            _refuse_deleted(status)
            raise ApiError(
                f"video {video_id!r} is {status.state.value}: its report is ready when the "
                "analysis is done",
                code="not_ready",
                http_status=409,
            )
        from ..report import render  # matplotlib and the templates: loaded on first use

        recording = await media.recording(components, app.state.media_links, video_id)
        page = await asyncio.to_thread(render, result, recording=recording)
        # About a person, and holding a link that expires: for this reader, never stored.
        return HTMLResponse(page, headers={"Cache-Control": "private, no-store"})

    @app.delete("/videos/{video_id}", response_model=Deleted)
    async def delete_video_route(
        video_id: str,
        key: ApiKey | None = Depends(allow("delete")),  # noqa: B008
    ) -> Deleted:
        """Erase the video: its upload, result and status (which becomes ``deleted``); the
        join drops its state and ``analysis-results`` gets a tombstone for the video's key."""
        if not _valid_id(video_id):
            raise UnknownVideo(f"no video with id {video_id!r}")
        try:
            return await delete_video(
                video_id,
                results=components.results,
                status=components.status,
                sources=components.sources,
                publisher=components.publisher,
            )
        except VideoAnalysisError:
            raise
        except Exception as exc:
            log.error("deleting video %s failed: %s", video_id, exc, exc_info=True)
            raise ApiError(
                "the deletion could not be finished (a store or the broker is down); the "
                "local data is removed as far as it could be: retry",
                code="deletion_incomplete",
                http_status=503,
            ) from exc

    @app.post("/videos/{video_id}/reprocess", response_model=Reprocessing, status_code=202)
    async def reprocess_video_route(
        video_id: str,
        key: ApiKey | None = Depends(allow("submit")),  # noqa: B008
    ) -> Reprocessing:
        """Analyse the video again from its kept upload, as a new run (after a partial result
        or a model upgrade). Its current result stays served until the new one is final."""
        if not _valid_id(video_id):
            raise UnknownVideo(f"no video with id {video_id!r}")
        return await reprocess_video(
            video_id,
            status=components.status,
            results=components.results,
            sources=components.sources,
            publisher=components.publisher,
        )

    @app.get("/metrics")
    async def prometheus_metrics(
        key: ApiKey | None = Depends(allow("admin")),  # noqa: B008
    ) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


# --------------------------------------------------------------------------------------------
# The upload


async def _accept_upload(request: Request, c: Components) -> UploadAccepted:
    settings = c.settings
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise ApiError(
            "send the video as multipart/form-data with a 'file' field",
            code="invalid_request",
            http_status=422,
        )
    body_limit = settings.max_upload_bytes + FORM_OVERHEAD_BYTES
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > body_limit:
        raise UploadTooLarge(f"upload exceeds the limit of {settings.max_upload_bytes} bytes")

    limited = Request(
        request.scope, receive=_limited_receive(request.receive, body_limit, settings)
    )
    try:
        form = await limited.form(max_files=1, max_fields=16, max_part_size=MAX_FIELD_BYTES)
    except (MultiPartException, StarletteHTTPException) as exc:
        # Starlette answers a malformed body (a 5000-character file name, a missing boundary)
        # with a bare 400; say what is wrong, as for every other invalid request.
        why = exc.message if isinstance(exc, MultiPartException) else str(exc.detail)
        root: BaseException = exc
        while (inner := root.__cause__ or root.__context__) is not None:
            root = inner  # the parser's own reason, e.g. a header line too long
        if root is not exc and str(root) not in why:
            why = f"{why.rstrip('.')}: {root}"
        raise ApiError(
            f"invalid multipart body: {why}", code="invalid_request", http_status=422
        ) from exc
    claimed = False
    stored: Path | None = None
    kept: str | None = None
    try:
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise ApiError("the form has no 'file' field", code="missing_file", http_status=422)
            fields = {key: value for key, value in form.items() if isinstance(value, str)}
            video_id = fields.get("video_id") or uuid.uuid4().hex
            if not _valid_id(video_id):
                raise ApiError(
                    f"video_id must match {VIDEO_ID_PATTERN}",
                    code="invalid_video_id",
                    http_status=422,
                )
            # Explicit form fields win over the same keys inside the metadata JSON;
            # InvalidMetadata is a 422 like the other domain errors.
            metadata = read_metadata(
                fields.get("metadata"), **{name: fields.get(name) for name in METADATA_FIELDS}
            )
            filename = upload.filename or "upload"
            suffix = Path(filename).suffix.lower()
            if suffix not in VIDEO_EXTENSIONS:
                raise UnsupportedMediaType(
                    f"{filename!r} is not a video file; accepted extensions: "
                    + ", ".join(sorted(VIDEO_EXTENSIONS))
                )
            head = await upload.read(SNIFF_BYTES)
            await upload.seek(0)
            if not head:
                raise UnreadableMedia(f"{filename!r} is empty")
            container = _sniff(head)
            if container is None:
                raise UnsupportedMediaType(
                    f"{filename!r} is not a video container (mp4, mov, matroska/webm, avi, mpegts)"
                )
            # Check and write in one atomic step: of concurrent uploads with one id, one wins.
            claimed = await c.status.claim(VideoStatus(video_id=video_id, state=VideoState.QUEUED))
            if not claimed:
                raise ApiError(
                    f"video {video_id!r} was already submitted",
                    code="duplicate_video_id",
                    http_status=409,
                )
            stored = await c.uploads.save_stream(
                video_id, filename, _read_chunks(upload), settings.max_upload_bytes
            )
        finally:
            await form.close()
        info = await _probe(stored, video_id)
        check_media_limits(info, settings)
        # Into object storage when one is configured, so that workers anywhere can read it.
        kept = await asyncio.to_thread(c.sources.keep_upload, video_id, stored)
        event = VideoUploaded(video_id=video_id, uri=kept, filename=filename, metadata=metadata)
        # Kept beside the upload: a restart that lost the broker's topics publishes it again.
        await asyncio.to_thread(c.sources.keep_event, event)
        await _publish(c, event)
    except BaseException:
        # A refused upload leaves nothing behind: no file, and no status, so that the client
        # may retry with the same video_id.
        if stored is not None:
            c.uploads.discard(stored)
        if kept is not None:
            await _forget_upload(c, video_id)
        if claimed:
            await _forget_status(c, video_id)
        raise
    log.info("accepted upload for video %s (%s, %s)", video_id, container, filename)
    base = settings.public_base_url.rstrip("/")
    return UploadAccepted(
        video_id=video_id,
        status=VideoState.QUEUED,
        status_url=f"{base}/videos/{video_id}",
        result_url=f"{base}/videos/{video_id}/result",
    )


def _limited_receive(receive: Receive, limit: int, settings: Settings) -> Receive:
    """Stop reading a body (chunked or lying about its length) once it passes ``limit``."""
    received = 0

    async def wrapped() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise UploadTooLarge(
                    f"upload exceeds the limit of {settings.max_upload_bytes} bytes"
                )
        return message

    return wrapped


async def _read_chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK_BYTES):
        yield chunk


def _sniff(head: bytes) -> str | None:
    from ..media.probe import sniff_container

    return sniff_container(head)


async def _probe(path: Path, video_id: str) -> MediaInfo:
    from ..media.probe import probe

    try:
        return await asyncio.to_thread(probe, path)
    except MediaError:
        raise
    except Exception as exc:
        # The file is the user's: whatever the decoder trips over is unreadable media, not a 500.
        log.warning("probe failed for video %s: %s", video_id, exc, exc_info=True)
        raise UnreadableMedia(f"the file cannot be read as a video: {exc}") from exc


async def _publish(c: Components, event: VideoUploaded) -> None:
    try:
        await asyncio.wait_for(c.publisher.publish_upload(event), timeout=PUBLISH_TIMEOUT_S)
    except Exception as exc:
        log.error("publishing video %s failed: %s", event.video_id, exc, exc_info=True)
        raise ApiError(
            "the message broker is unavailable; retry later",
            code="broker_unavailable",
            http_status=503,
        ) from exc


async def _ensure_upload_bucket(sources: Sources) -> None:
    """Create the upload store's bucket on a fresh object store (MinIO in compose)."""
    assert sources.upload_prefix is not None
    try:
        await asyncio.to_thread(sources.objects.ensure_bucket, sources.upload_prefix.bucket)
    except Exception as exc:  # readiness reports the store while it is unreachable
        log.error("upload bucket %s unavailable: %s", sources.upload_prefix.bucket, exc)


async def _forget_upload(c: Components, video_id: str) -> None:
    """Remove an upload already kept (and its event) when its event could not go out."""
    try:
        await asyncio.to_thread(c.sources.remove_video, video_id)
    except Exception as exc:
        log.error("could not remove the refused upload of video %s: %s", video_id, exc)


async def _forget_status(c: Components, video_id: str) -> None:
    """Remove the 'queued' status of an upload that was refused after its id was claimed."""
    try:
        await c.status.delete_status(video_id)
    except Exception as exc:
        log.error("could not clear status of video %s: %s", video_id, exc)


async def _start(component: Any) -> None:
    try:
        await component.start()
    except Exception as exc:
        log.error("%s did not start: %s", type(component).__name__, exc)


async def _check(ping: Callable[[], Awaitable[None]]) -> dict[str, Any]:
    try:
        await asyncio.wait_for(ping(), timeout=READY_TIMEOUT_S)
    except TimeoutError:
        return {"ok": False, "error": f"no answer within {READY_TIMEOUT_S:g} s"}
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True}


def _refuse_deleted(status: VideoStatus) -> None:
    if status.state == VideoState.DELETED:
        raise ApiError(f"video {status.video_id!r} was deleted", code="deleted", http_status=410)


def _valid_id(video_id: str) -> bool:
    return valid_video_id(video_id)


# --------------------------------------------------------------------------------------------
# Errors: every error body is {"error": {"code", "message"}}


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(VideoAnalysisError)
    async def _domain_error(request: Request, exc: VideoAnalysisError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        return JSONResponse(
            error_body(exc.code, exc.message), status_code=exc.http_status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
        return JSONResponse(error_body("invalid_request", message), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, f"http_{exc.status_code}"
        )
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )


_UPLOAD_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "video_id": {"type": "string", "pattern": VIDEO_ID_PATTERN},
                        "interview_id": {"type": "string"},
                        "question_id": {"type": "string"},
                        "applicant_id": {"type": "string"},
                        "language": {"type": "string"},
                        "metadata": {"type": "string", "description": "A JSON object."},
                    },
                }
            }
        },
    }
}
