"""Erasing a candidate's video on request: its upload, its result, its status, and what the
join still holds, with a tombstone on ``analysis-results`` for the platform's consumers.

Used by ``DELETE /videos/{id}`` and ``video-analysis delete``. What stays: the status record
``{"state": "deleted"}`` (the id stays taken, so it is not reused by mistake) and, in the join's
table, a marker without any of the video's data so that late parts are ignored. Frames and
audio already published stay on their topics until the broker's retention removes them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from pydantic import BaseModel, Field

from .errors import UnknownVideo
from .schemas import VideoState, VideoStatus
from .store import ResultStore, Sources, StatusStore

log = logging.getLogger(__name__)


class DeletionPublisher(Protocol):
    async def publish_deletion(self, video_id: str) -> None: ...


class Deleted(BaseModel):
    """What ``DELETE /videos/{id}`` removed."""

    video_id: str
    state: VideoState = VideoState.DELETED
    uploads_removed: int = Field(description="Files and objects of the upload removed.")
    result_removed: bool = Field(description="A stored result was removed.")
    join_notified: bool = Field(
        description="The join was told to drop its state and the tombstone was published."
    )


async def delete_video(
    video_id: str,
    *,
    results: ResultStore,
    status: StatusStore,
    sources: Sources,
    publisher: DeletionPublisher,
) -> Deleted:
    """Erase ``video_id``; ``UnknownVideo`` when nothing of it is known here.

    The status turns ``deleted`` before the join is told, so that no worker's late update
    brings the video back; the broker is told last, and a broker that is down fails the call
    after the local data is gone (calling again finishes the job).
    """
    current = await status.get_status(video_id)
    result_removed = await results.delete_result(video_id)
    uploads_removed = await asyncio.to_thread(sources.remove_video, video_id)
    if current is None and not result_removed and not uploads_removed:
        raise UnknownVideo(f"no video with id {video_id!r}")
    await status.set_status(VideoStatus(video_id=video_id, state=VideoState.DELETED))
    await publisher.publish_deletion(video_id)
    log.info(
        "deleted video %s: %d upload files, result %s",
        video_id,
        uploads_removed,
        "removed" if result_removed else "none",
    )
    return Deleted(
        video_id=video_id,
        uploads_removed=uploads_removed,
        result_removed=result_removed,
        join_notified=True,
    )
