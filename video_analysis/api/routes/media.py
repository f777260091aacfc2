"""``GET /videos/{id}/media``: the report player's video, by a signed link (no API key).

How the link is signed and checked, and which bytes a Range asks for: ``api/media.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse, Response, StreamingResponse

from ...errors import RangeNotSatisfiable, UnknownVideo, UploadGone
from ...schemas import VideoState
from ...store import Sources
from ...store.sources import KeptUpload
from ..deps import ComponentsDep
from ..errors import ERROR_SCHEMA
from ..media import MEDIA_TYPES, byte_range

router = APIRouter(tags=["videos"])

_VIDEO = {
    media_type: {"schema": {"type": "string", "format": "binary"}}
    for media_type in sorted({*MEDIA_TYPES.values(), "application/octet-stream"})
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_SCHEMA}}}


@router.get(
    "/videos/{video_id}/media",
    operation_id="video_media",
    response_class=Response,
    responses={
        200: {"description": "The whole video.", "content": _VIDEO},
        206: {"description": "The bytes the Range header asked for.", "content": _VIDEO},
        403: _error("invalid_media_link, or media_link_expired: reload the report."),
        404: _error("unknown_video"),
        410: _error("deleted, or upload_gone (retention removed the video)."),
        416: _error("range_not_satisfiable; Content-Range says the size."),
        422: _error("invalid_request"),
        503: _error("The upload store does not answer: retry later."),
    },
)
async def video_media(
    video_id: str,
    c: ComponentsDep,
    exp: Annotated[str, Query(description="Expiry of the link, unix seconds.")] = "",
    sig: Annotated[str, Query(description="The service's signature of the link.")] = "",
    range_header: Annotated[str | None, Header(alias="range")] = None,
) -> Response:
    """The video of a report's player, by the signed link in the report (no API key)."""
    c.links.check(video_id, exp, sig, time.time())
    status = await c.status.get_status(video_id)
    if status is not None and status.state is VideoState.DELETED:
        raise UploadGone(f"video {video_id!r} was deleted", code="deleted")
    kept = await asyncio.to_thread(c.sources.kept_upload, video_id)
    if kept is None:
        if status is None and await c.results.get_result(video_id) is None:
            raise UnknownVideo(f"no video with id {video_id!r}")
        raise UploadGone(f"the video {video_id!r} is no longer kept by this service")
    headers = {
        "Accept-Ranges": "bytes",
        "Cache-Control": "private",
        "X-Content-Type-Options": "nosniff",
    }
    try:
        wanted = byte_range(range_header, kept.size)
    except RangeNotSatisfiable as exc:
        return JSONResponse(
            {"error": exc.as_dict()},
            status_code=exc.http_status,
            headers={**headers, "Content-Range": f"bytes */{kept.size}"},
        )
    first, last = wanted if wanted is not None else (0, kept.size - 1)
    headers["Content-Length"] = str(max(0, last - first + 1))
    if wanted is not None:
        headers["Content-Range"] = f"bytes {first}-{last}/{kept.size}"
    return StreamingResponse(
        _chunks(c.sources, kept, first, last),
        status_code=206 if wanted is not None else 200,
        media_type=MEDIA_TYPES.get(PurePath(kept.name).suffix.lower(), "application/octet-stream"),
        headers=headers,
    )


def _chunks(sources: Sources, kept: KeptUpload, first: int, last: int) -> Iterator[bytes]:
    if last >= first:  # an empty file has no bytes to read
        yield from sources.read_range(kept, first, last)
