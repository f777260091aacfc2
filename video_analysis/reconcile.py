"""After a restart that lost the broker's topics (``dev``'s embedded broker keeps them in memory),
nothing may be left hanging: every video still ``queued`` or ``processing`` is published again
when its upload and event are still kept, and otherwise finalised as ``failed`` with the code
``interrupted`` (a failed result is stored, so the platform hears of it).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from pydantic import BaseModel, Field

from .assemble import failed_result
from .schemas import ErrorInfo, VideoState, VideoStatus, VideoUploaded
from .store import ResultStore, Sources, StatusStore

log = logging.getLogger(__name__)


class UploadPublisher(Protocol):
    async def publish_upload(self, event: VideoUploaded) -> None: ...


class Reconciled(BaseModel):
    republished: list[str] = Field(default_factory=list, description="Published again.")
    failed: list[str] = Field(default_factory=list, description="Finalised as interrupted.")


async def reconcile(
    *,
    status: StatusStore,
    results: ResultStore,
    sources: Sources,
    publisher: UploadPublisher,
) -> Reconciled:
    """Publish again, or fail, every video the status store says is still in flight."""
    done = Reconciled()
    for current in await status.in_flight():
        video_id = current.video_id
        event = await asyncio.to_thread(sources.kept_event, video_id)
        if event is not None:
            # The run in flight (a reprocess is run 1 or more), not the kept upload's run 0.
            event = event.model_copy(update={"run": current.run})
            await status.set_status(
                VideoStatus(video_id=video_id, state=VideoState.QUEUED, run=current.run)
            )
            await publisher.publish_upload(event)
            done.republished.append(video_id)
            log.info("reconcile: published video %s again", video_id)
            continue
        error = ErrorInfo(
            code="interrupted",
            message="the service restarted while this video was in flight and its upload is "
            "no longer here; upload it again",
        )
        await results.save_result(failed_result(video_id, error))
        await status.set_status(
            VideoStatus(
                video_id=video_id,
                state=VideoState.FAILED,
                run=current.run,
                progress=0.0,
                error=error,
            )
        )
        done.failed.append(video_id)
        log.warning("reconcile: video %s failed as interrupted", video_id)
    return done
