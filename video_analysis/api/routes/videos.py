"""One video: its status, result, progress events and report; deleting and reprocessing it."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel

from ... import heap
from ...deletion import Deleted, delete_video
from ...errors import VideoAnalysisError
from ...reprocess import Reprocessing, reprocess_video
from ...schemas import AnalysisResult, VideoStatus
from ...schemas.api import TranscriptUpdate
from .. import media
from ..deps import (
    ComponentsDep,
    DeleteKey,
    KnownVideo,
    ReadKey,
    SubmitKey,
    VideoId,
    live_video,
)
from ..errors import KEYED, ApiError, answers
from ..events import status_events

log = logging.getLogger(__name__)

router = APIRouter(prefix="/videos/{video_id}", tags=["videos"])


def _event(name: str, data: type[BaseModel], meaning: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": meaning,
        "required": ["event", "data"],
        "properties": {
            "event": {"const": name},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"$ref": f"#/components/schemas/{data.__name__}"},
            },
        },
    }


#: One event of the stream (see ``api/events.py``). ``status`` and ``final`` carry the status
#: without its transcript, which comes in ``transcript`` events as it grows.
_EVENT = {
    "oneOf": [
        _event("status", VideoStatus, "State, progress and stages, when they change."),
        _event("transcript", TranscriptUpdate, "Transcript segments as they are made."),
        _event("final", VideoStatus, "The final status; the stream ends after it."),
    ]
}

_NOT_DONE = {
    "model": VideoStatus,
    "description": "Known but not finished (or its result not stored yet): poll again later.",
}


@router.get("", operation_id="video_status", responses=answers(*KEYED, 404, 410))
async def video_status(key: ReadKey, status: KnownVideo) -> VideoStatus:
    """Where the video is: queued, processing (with progress per stage), or final."""
    return status


@router.get(
    "/result",
    operation_id="video_result",
    response_class=Response,
    responses={
        200: {"model": AnalysisResult, "description": "The stored result, byte for byte."},
        202: _NOT_DONE,
        **answers(*KEYED, 404, 410),
    },
)
async def video_result(key: ReadKey, video_id: VideoId, c: ComponentsDep) -> Response:
    """The consolidated result; its ETag is the sha256 of the bytes (a claim check's
    ``result_ref.sha256``), so a platform can tell a reprocessed result from the one it has."""
    body = await c.results.get_result_body(video_id)
    if body is not None:
        return Response(
            body,
            media_type="application/json",
            headers={"ETag": f'"{hashlib.sha256(body).hexdigest()}"'},
        )
    status = await live_video(c, video_id)
    return JSONResponse(status.model_dump(mode="json"), status_code=202)


@router.get(
    "/events",
    operation_id="video_events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-sent events until the video is final.",
            "content": {"text/event-stream": {"schema": _EVENT}},
        },
        **answers(*KEYED, 404, 410),
    },
)
async def video_events(
    key: ReadKey, first: KnownVideo, request: Request, c: ComponentsDep
) -> StreamingResponse:
    """Server-sent events: the state now, then progress per stage and the transcript as
    it forms, until the video is final (see ``api/events.py``)."""
    video_id = first.video_id
    events = status_events(
        lambda: c.status.get_status(video_id),
        first,
        poll_s=c.settings.events_poll_s,
        disconnected=request.is_disconnected,
    )
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/report",
    operation_id="video_report",
    response_class=HTMLResponse,
    responses=answers(
        *KEYED, 404, 409, 410, e409="not_ready: the analysis is not done; poll the status."
    ),
)
async def video_report(
    key: ReadKey,
    video_id: VideoId,
    c: ComponentsDep,
    lang: Annotated[
        Literal["en", "ko"] | None,
        Query(
            description="The page's language; default: the request's Accept-Language, "
            "else VA_REPORT_LANGUAGE, else the video's own language when the report is written "
            "in it, else English."
        ),
    ] = None,
    accept_language: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> HTMLResponse:
    """The interview's report: one self-contained HTML page (no network needed), in Korean
    or English."""
    result = await c.results.get_result(video_id)
    if result is None:
        status = await live_video(c, video_id)
        raise ApiError(
            f"video {video_id!r} is {status.state.value}: its report is ready when the "
            "analysis is done",
            code="not_ready",
            http_status=409,
        )
    from ...report import Reader, choose_language, render  # matplotlib: loaded on first use

    reader = Reader(
        choose_language(lang, accept_language, c.settings.report_language, result.speech.language),
        c.settings.report_timezone,
    )
    recording = await media.recording(c, c.links, video_id)
    page = await asyncio.to_thread(render, result, recording=recording, reader=reader)
    # The result's models and the charts' drawing (tens of MiB for an hour) are free now:
    # back to the system, not held until the next report of a long interview.
    del result
    await asyncio.to_thread(heap.trim)
    # About a person, and holding a link that expires: for this reader, never stored.
    return HTMLResponse(
        page,
        headers={
            "Cache-Control": "private, no-store",
            "Content-Language": reader.language,
            "Vary": "Accept-Language",
        },
    )


@router.delete(
    "",
    operation_id="delete_video",
    responses=answers(
        *KEYED, 404, e503="deletion_incomplete: a store or the broker is down; retry."
    ),
)
async def delete_video_route(key: DeleteKey, video_id: VideoId, c: ComponentsDep) -> Deleted:
    """Erase the video: its upload, result and status (which becomes ``deleted``); the
    join drops its state and ``analysis-results`` gets a tombstone for the video's key."""
    try:
        return await delete_video(
            video_id,
            results=c.results,
            status=c.status,
            sources=c.sources,
            publisher=c.publisher,
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


@router.post(
    "/reprocess",
    operation_id="reprocess_video",
    status_code=202,
    responses=answers(
        *KEYED,
        404,
        409,
        e409="not_reprocessable: in_flight (wait for its result), deleted, or upload_gone.",
        e503="broker_unavailable: nothing was started; retry later.",
    ),
)
async def reprocess_video_route(
    key: SubmitKey, video_id: VideoId, c: ComponentsDep
) -> Reprocessing:
    """Analyse the video again from its kept upload, as a new run (after a partial result
    or a model upgrade). Its current result stays served until the new one is final."""
    return await reprocess_video(
        video_id,
        status=c.status,
        results=c.results,
        sources=c.sources,
        publisher=c.publisher,
    )
