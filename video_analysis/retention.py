"""``VA_RETENTION_DAYS``: uploads are deleted that many days after their analysis finished.

The splitter role runs ``expire_uploads`` on a timer. Only the uploads this service keeps (its
upload root, its upload store) are removed; results and statuses stay until deleted on request.
A video still in flight is never touched; one whose status has expired from the status store
is judged by its stored result, and an upload nothing is known of by its own age.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from .schemas import VideoState
from .store import ResultStore, Sources, StatusStore

log = logging.getLogger(__name__)

FINISHED = frozenset({VideoState.COMPLETE, VideoState.PARTIAL, VideoState.FAILED})


async def expire_uploads(
    retention_days: float,
    *,
    sources: Sources,
    status: StatusStore,
    results: ResultStore,
    now: datetime,
) -> list[str]:
    """Remove the uploads of videos finished more than ``retention_days`` ago; their ids."""
    cutoff = now - timedelta(days=retention_days)
    removed = []
    for video_id, written in await asyncio.to_thread(sources.kept_uploads):
        if written > cutoff:
            continue
        current = await status.get_status(video_id)
        if current is not None:
            if current.state not in FINISHED or current.updated_at > cutoff:
                continue
        else:
            result = await results.get_result(video_id)
            if result is not None and result.created_at > cutoff:
                continue
        count = await asyncio.to_thread(sources.remove_video, video_id)
        log.info("retention: removed the upload of video %s (%d files)", video_id, count)
        removed.append(video_id)
    return removed
