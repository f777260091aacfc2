"""Analysing a stored video again: after a ``partial`` result, or after a model upgrade.

Used by ``POST /videos/{id}/reprocess`` and ``video-analysis reprocess``. The video's kept
event (beside its upload) is published again as the next *run*: every message of the new run
carries its number, the join starts the video afresh when the first of them arrives and from
then on ignores the older run's, and the status store never lets an older run's update
replace a newer one's. The old result stays stored and served (``GET /videos/{id}/result``)
until the new run's result replaces it; the status says ``queued``/``processing`` with the new
``run`` meanwhile. ``analysis-results`` gets the new result under the same key, with its
``run``: consumers keep the newest.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from .errors import BrokerUnavailable, NotReprocessable, UnknownVideo
from .reconcile import UploadPublisher
from .schemas import VideoState, VideoStatus
from .store import ResultStore, Sources, StatusStore
from .store.status import TERMINAL_STATES

log = logging.getLogger(__name__)


class Reprocessing(BaseModel):
    """What ``POST /videos/{id}/reprocess`` started."""

    video_id: str
    run: int = Field(description="The new run's number; the result of it will carry it.")
    state: VideoState = VideoState.QUEUED
    previous_status: str | None = Field(
        None, description="The status of the result that stays served until the new one."
    )


async def reprocess_video(
    video_id: str,
    *,
    status: StatusStore,
    results: ResultStore,
    sources: Sources,
    publisher: UploadPublisher,
) -> Reprocessing:
    """Publish ``video_id``'s kept event again as a new run.

    ``UnknownVideo`` when nothing of it is known; ``NotReprocessable`` when it is still being
    analysed (``in_flight``), was deleted (``deleted``), or its upload is no longer kept
    (``upload_gone``: removed by ``VA_RETENTION_DAYS``, or never kept).
    """
    current = await status.get_status(video_id)
    stored = await results.get_result(video_id)
    if current is None and stored is None:
        raise UnknownVideo(f"no video with id {video_id!r}")
    if current is not None and current.state is VideoState.DELETED:
        raise NotReprocessable(f"video {video_id!r} was deleted", code="deleted")
    if current is not None and current.state not in TERMINAL_STATES:
        raise NotReprocessable(
            f"video {video_id!r} is {current.state.value}: wait for its result first",
            code="in_flight",
        )
    event = await asyncio.to_thread(sources.kept_event, video_id)
    if event is None:
        raise NotReprocessable(
            f"the upload of video {video_id!r} is no longer kept (retention or deletion): "
            "upload it again",
            code="upload_gone",
        )
    previous = max(current.run if current else 0, stored.run if stored else 0)
    run = previous + 1
    claimed = await status.claim_run(
        VideoStatus(video_id=video_id, state=VideoState.QUEUED, run=run)
    )
    if not claimed:  # a concurrent call started this run first, or the video changed since
        raise NotReprocessable(
            f"video {video_id!r} is being analysed again already: wait for its result",
            code="in_flight",
        )
    try:
        await publisher.publish_upload(
            event.model_copy(update={"run": run, "submitted_at": datetime.now(UTC)})
        )
    except Exception as exc:
        # Nothing started: the video is put back as it was, so that it can be reprocessed
        # when the broker is back (a claimed run without its event would stay queued).
        log.error("reprocess: video %s not published: %s", video_id, exc)
        await _put_back(status, video_id, current)
        raise BrokerUnavailable(
            "the message broker is unavailable; the video was not reprocessed: retry later"
        ) from exc
    log.info("reprocess: video %s published again as run %d", video_id, run)
    return Reprocessing(
        video_id=video_id, run=run, previous_status=stored.status.value if stored else None
    )


async def _put_back(status: StatusStore, video_id: str, before: VideoStatus | None) -> None:
    """The status ``video_id`` had before its run was claimed (none, when it had none)."""
    try:
        await status.delete_status(video_id)
        if before is not None:
            await status.claim(before)
    except Exception as exc:  # noqa: BLE001 - the broker error is what the caller must see
        log.error("reprocess: status of video %s not put back: %s", video_id, exc)
