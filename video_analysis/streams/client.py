"""Submitting a video through Kafka and waiting for its result (``video-analysis submit``)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from ..schemas import AnalysisResult, VideoState, VideoStatus, VideoUploaded
from ..settings import Settings
from .admin import ensure_topics
from .publisher import EventPublisher
from .topics import ANALYSIS_RESULTS

log = logging.getLogger(__name__)

#: Called with each new status of the video while ``submit`` waits.
ProgressCallback = Callable[[VideoStatus], None]


class ResultWaiter:
    """Reads ``analysis-results`` from its current end, without joining a consumer group.

    Positioned before the event is published, so the result cannot slip past; no group join
    means no rebalance wait.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        await ensure_topics(self._settings)
        topic = self._settings.topic(ANALYSIS_RESULTS)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.bootstrap_servers,
            enable_auto_commit=False,
            group_id=None,
            fetch_max_bytes=16 * 1024 * 1024,
            max_partition_fetch_bytes=16 * 1024 * 1024,
        )
        await consumer.start()
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.force_metadata_update()  # noqa: SLF001
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the lazy seek now, before anything is published
            await consumer.position(tp)
        self._consumer = consumer

    async def wait_for(self, video_id: str, timeout_s: float) -> AnalysisResult:
        assert self._consumer is not None, "start() first"
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            batches = await self._consumer.getmany(timeout_ms=int(min(left, 1.0) * 1000))
            for messages in batches.values():
                for message in messages:
                    if message.key is not None and message.key.decode() == video_id:
                        return AnalysisResult.model_validate_json(message.value)
        raise TimeoutError(f"no result for video {video_id} within {timeout_s:.0f}s")

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


async def submit(
    settings: Settings,
    event: VideoUploaded,
    *,
    wait: bool,
    timeout_s: float,
    on_progress: ProgressCallback | None = None,
) -> AnalysisResult | None:
    waiter = ResultWaiter(settings) if wait else None
    publisher = EventPublisher(settings)
    try:
        if waiter is not None:
            await waiter.start()
        await publisher.publish_upload(event)
        if waiter is None:
            return None
        watcher = (
            asyncio.create_task(_watch_progress(settings, event.video_id, on_progress))
            if on_progress
            else None
        )
        try:
            return await waiter.wait_for(event.video_id, timeout_s)
        finally:
            if watcher is not None:
                watcher.cancel()
    finally:
        await publisher.close()
        if waiter is not None:
            await waiter.close()


async def _watch_progress(settings: Settings, video_id: str, on_progress: ProgressCallback) -> None:
    """Poll the status store for the progress display; progress is cosmetic, so errors are
    ignored (the result still comes)."""
    from ..store import create_status_store

    store = create_status_store(settings)
    try:
        await store.start()
        last: VideoStatus | None = None
        while True:
            status = await store.get_status(video_id)
            if status is not None and status != last:
                on_progress(status)
                last = status
                if status.state not in (VideoState.QUEUED, VideoState.PROCESSING):
                    return
            await asyncio.sleep(settings.events_poll_s)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001
        log.debug("progress unavailable for video_id=%s: %s", video_id, exc)
    finally:
        await store.close()
