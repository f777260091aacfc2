"""``POST /analyze-video``: take an upload, keep it, publish ``VideoUploaded``.

An upload is refused as a whole: whatever was done for it (its claimed id, its file on disk,
its copy in object storage) is undone in reverse by an ``AsyncExitStack``, so that the client
may retry with the same ``video_id``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException
from starlette.types import Message, Receive

from ...errors import (
    BrokerUnavailable,
    MediaError,
    UnreadableMedia,
    UnsupportedMediaType,
    UploadTooLarge,
    VideoAnalysisError,
)
from ...languages import WHISPER_LANGUAGES
from ...media.limits import check_media_limits
from ...metadata import read_metadata
from ...schemas import MediaInfo, VideoState, VideoStatus, VideoUploaded
from ...schemas.api import UploadAccepted
from ...schemas.events import VIDEO_ID_PATTERN, valid_video_id
from ..deps import Components, ComponentsDep, SubmitKey
from ..errors import KEYED, ApiError, answers

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS: frozenset[str] = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi"})
CHUNK_BYTES = 1024 * 1024
SNIFF_BYTES = 64 * 1024
#: Room for the multipart framing and the small form fields on top of the file itself.
FORM_OVERHEAD_BYTES = 1024 * 1024
MAX_FIELD_BYTES = 64 * 1024
PUBLISH_TIMEOUT_S = 20.0
#: The name a file sent without an extension is kept under, by what its first bytes show.
CONTAINER_SUFFIXES = {
    "mp4": ".mp4",
    "mov": ".mov",
    "matroska": ".mkv",
    "avi": ".avi",
    "mpegts": ".ts",
}
METADATA_FIELDS = ("interview_id", "question_id", "applicant_id", "language")

router = APIRouter(tags=["uploads"])

#: What a client does next with the video it uploaded (OpenAPI links, for generated clients).
_LINKS = {
    name: {
        "operationId": operation,
        "parameters": {"video_id": "$response.body#/video_id"},
        "description": meaning,
    }
    for name, operation, meaning in (
        ("status", "video_status", "Poll its status."),
        ("events", "video_events", "Follow its progress as server-sent events."),
        ("result", "video_result", "Fetch its result (202 until it is final)."),
        ("report", "video_report", "Its report page, once the analysis is done."),
        ("reprocess", "reprocess_video", "Analyse it again once it is final."),
        ("delete", "delete_video", "Erase it."),
    )
}


def _upload_body() -> dict[str, Any]:
    """The multipart body, for /openapi.json (the route reads the form itself, streaming)."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {
                                "type": "string",
                                "format": "binary",
                                "description": "The video: "
                                + ", ".join(sorted(VIDEO_EXTENSIONS))
                                + ", or no extension; what its first bytes show decides "
                                "(mp4, mov, matroska/webm, avi, mpegts).",
                            },
                            "video_id": {
                                "type": "string",
                                "pattern": VIDEO_ID_PATTERN,
                                "description": "Your id for the video; one is made if absent.",
                            },
                            "interview_id": {"type": "string"},
                            "question_id": {"type": "string"},
                            "applicant_id": {"type": "string"},
                            "language": {"type": "string", "enum": list(WHISPER_LANGUAGES)},
                            "metadata": {
                                "$ref": "#/components/schemas/VideoMetadata",
                                "description": "A JSON object (VideoMetadata); the fields "
                                "above win over the same keys inside it.",
                            },
                        },
                    },
                    "encoding": {"metadata": {"contentType": "application/json"}},
                }
            },
        }
    }


@router.post(
    "/analyze-video",
    operation_id="analyze_video",
    status_code=202,
    openapi_extra=_upload_body(),
    responses={
        202: {"description": "Accepted: kept and announced to the workers.", "links": _LINKS},
        **answers(
            *KEYED,
            409,
            413,
            415,
            e409="duplicate_video_id: this video_id was submitted before.",
            e503="broker_unavailable: the upload could not be announced; nothing was kept.",
        ),
    },
)
async def analyze_video(key: SubmitKey, request: Request, c: ComponentsDep) -> JSONResponse:
    """Upload a video for analysis; poll ``status_url`` (or its ``/events``) for the result."""
    try:
        accepted = await accept_upload(request, c)
    except VideoAnalysisError as exc:
        c.metrics.uploads.labels(exc.code).inc()
        raise
    c.metrics.uploads.labels("accepted").inc()
    return JSONResponse(accepted.model_dump(mode="json"), status_code=202)


async def accept_upload(request: Request, c: Components) -> UploadAccepted:
    """Store the upload, keep it where workers read it and publish its event; or refuse it
    and leave nothing behind."""
    form = await _read_form(request, c.settings.max_upload_bytes)
    async with AsyncExitStack() as undo:
        try:
            upload, video_id, fields = _form_fields(form)
            # Explicit form fields win over the same keys inside the metadata JSON.
            metadata = read_metadata(
                fields.get("metadata"), **{name: fields.get(name) for name in METADATA_FIELDS}
            )
            filename = upload.filename or "upload"
            container, filename = await _check_file(upload, filename)
            # Check and write in one atomic step: of concurrent uploads with one id, one wins.
            if not await c.status.claim(VideoStatus(video_id=video_id, state=VideoState.QUEUED)):
                raise ApiError(
                    f"video {video_id!r} was already submitted",
                    code="duplicate_video_id",
                    http_status=409,
                )
            undo.push_async_callback(_forget_status, c, video_id)
            stored = await c.uploads.save_stream(
                video_id, filename, _read_chunks(upload), c.settings.max_upload_bytes
            )
            undo.callback(c.uploads.discard, stored)
        finally:
            await form.close()
        info = await _probe(stored, video_id)
        check_media_limits(info, c.settings)
        # Into object storage when one is configured, so that workers anywhere can read it.
        kept = await asyncio.to_thread(c.sources.keep_upload, video_id, stored)
        undo.push_async_callback(_forget_upload, c, video_id)
        event = VideoUploaded(video_id=video_id, uri=kept, filename=filename, metadata=metadata)
        # Kept beside the upload: a restart that lost the broker's topics publishes it again.
        await asyncio.to_thread(c.sources.keep_event, event)
        await _publish(c, event)
        undo.pop_all()  # accepted: nothing to undo
    log.info("accepted upload for video %s (%s, %s)", video_id, container, filename)
    base = c.settings.public_base_url.rstrip("/")
    return UploadAccepted(
        video_id=video_id,
        status=VideoState.QUEUED,
        status_url=f"{base}/videos/{video_id}",
        result_url=f"{base}/videos/{video_id}/result",
    )


async def _read_form(request: Request, max_upload_bytes: int) -> FormData:
    """The multipart form, read no further than the upload limit allows."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise ApiError(
            "send the video as multipart/form-data with a 'file' field",
            code="invalid_request",
            http_status=422,
        )
    body_limit = max_upload_bytes + FORM_OVERHEAD_BYTES
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > body_limit:
        raise UploadTooLarge(f"upload exceeds the limit of {max_upload_bytes} bytes")
    limited = Request(
        request.scope, receive=_limited_receive(request.receive, body_limit, max_upload_bytes)
    )
    try:
        return await limited.form(max_files=1, max_fields=16, max_part_size=MAX_FIELD_BYTES)
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


def _form_fields(form: FormData) -> tuple[UploadFile, str, dict[str, str]]:
    """The file, the video id (made when absent) and the text fields of the form."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ApiError("the form has no 'file' field", code="missing_file", http_status=422)
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    video_id = fields.get("video_id") or uuid.uuid4().hex
    if not valid_video_id(video_id):
        raise ApiError(
            f"video_id must match {VIDEO_ID_PATTERN}", code="invalid_video_id", http_status=422
        )
    return upload, video_id, fields


async def _check_file(upload: UploadFile, filename: str) -> tuple[str, str]:
    """The container the file's first bytes show, and the name to keep it under; refused
    when it is not a video. A part sent without an extension (``blob``, a generated client's
    bare bytes) is named after its container."""
    suffix = Path(filename).suffix.lower()
    if suffix and suffix not in VIDEO_EXTENSIONS:
        raise UnsupportedMediaType(
            f"{filename!r} is not a video file; accepted extensions: "
            + ", ".join(sorted(VIDEO_EXTENSIONS))
        )
    head = await upload.read(SNIFF_BYTES)
    await upload.seek(0)
    if not head:
        raise UnreadableMedia(f"{filename!r} is empty")
    from ...media.probe import sniff_container

    container = sniff_container(head)
    if container is None:
        raise UnsupportedMediaType(
            f"{filename!r} is not a video container (mp4, mov, matroska/webm, avi, mpegts)"
        )
    return container, filename if suffix else filename + CONTAINER_SUFFIXES[container]


def _limited_receive(receive: Receive, limit: int, max_upload_bytes: int) -> Receive:
    """Stop reading a body (chunked or lying about its length) once it passes ``limit``."""
    received = 0

    async def wrapped() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise UploadTooLarge(f"upload exceeds the limit of {max_upload_bytes} bytes")
        return message

    return wrapped


async def _read_chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK_BYTES):
        yield chunk


async def _probe(path: Path, video_id: str) -> MediaInfo:
    from ...media.probe import probe

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
        raise BrokerUnavailable("the message broker is unavailable; retry later") from exc


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
