"""Submitting a video through Kafka and waiting for its result (``video-analysis submit``)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable

from confluent_kafka import Consumer, TopicPartition

from .. import claim_check
from ..errors import ResultUnavailable
from ..schemas import AnalysisResult, VideoState, VideoStatus, VideoUploaded
from ..settings import Settings
from ..store.objects import parse_s3_uri
from .admin import REQUEST_TIMEOUT_S, admin_config, ensure_topics
from .publisher import EventPublisher
from .topics import ANALYSIS_RESULTS

log = logging.getLogger(__name__)

#: Called with each new status of the video while ``submit`` waits.
ProgressCallback = Callable[[VideoStatus], None]


class ResultWaiter:
    """Reads ``analysis-results`` from its current end with confluent-kafka, assigned to every
    partition rather than joining a consumer group.

    Positioned before the event is published, so the result cannot slip past; no group join
    means no rebalance wait (the group id librdkafka requires is never joined or committed to).
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._consumer: Consumer | None = None

    async def start(self) -> None:
        await ensure_topics(self._settings)
        self._consumer = await asyncio.to_thread(self._positioned)

    def _positioned(self) -> Consumer:
        settings = self._settings
        topic = settings.topic(ANALYSIS_RESULTS)
        consumer = Consumer(
            {
                **admin_config(settings),
                "group.id": f"{settings.topic_prefix}video-analysis-submit-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "fetch.max.bytes": 16 * 1024 * 1024,
                "max.partition.fetch.bytes": 16 * 1024 * 1024,
            }
        )
        metadata = consumer.list_topics(topic, timeout=REQUEST_TIMEOUT_S)
        partitions = sorted(metadata.topics[topic].partitions)
        assigned = []
        for partition in partitions:
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=REQUEST_TIMEOUT_S
            )
            assigned.append(TopicPartition(topic, partition, high))
        consumer.assign(assigned)
        return consumer

    async def wait_for(self, video_id: str, timeout_s: float) -> AnalysisResult:
        consumer = self._consumer
        assert consumer is not None, "start() first"
        key = video_id.encode()
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            message = await asyncio.to_thread(consumer.poll, min(left, 1.0))
            if message is None or message.error() is not None:
                continue
            value = message.value()
            if message.key() == key and value is not None:
                return AnalysisResult.model_validate_json(value)
        raise TimeoutError(f"no result for video {video_id} within {timeout_s:.0f}s")

    async def close(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            await asyncio.to_thread(consumer.close)


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
            result = await waiter.wait_for(event.video_id, timeout_s)
        finally:
            if watcher is not None:
                watcher.cancel()
        return result if result.result_ref is None else await full_result(settings, result)
    finally:
        await publisher.close()
        if waiter is not None:
            await waiter.close()


async def full_result(settings: Settings, notice: AnalysisResult) -> AnalysisResult:
    """The full result a claim check (a compact result with ``result_ref``) points at: from
    the result store, else from its object; checked against the sha256 the message names."""
    from ..store import Sources, create_result_store

    ref = notice.result_ref
    assert ref is not None
    store = create_result_store(settings)
    try:
        await store.start()
        body = await store.get_result_body(notice.video_id)
    finally:
        await store.close()
    full = None if body is None else claim_check.verified(body, ref)
    if full is None and ref.object_uri is not None:
        objects = Sources(settings).objects
        body = await asyncio.to_thread(objects.get_bytes, parse_s3_uri(ref.object_uri))
        full = claim_check.verified(body, ref)
    if full is None:
        raise ResultUnavailable(
            f"the full result of video {notice.video_id} (sha256 {ref.sha256[:12]}...) is "
            "neither in the result store nor in object storage"
        )
    return full


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
