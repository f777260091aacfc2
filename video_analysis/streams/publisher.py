"""Publishing upload events from outside the Faust workers (the API and the CLI)."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer

from ..schemas import JoinDelete, VideoUploaded
from ..settings import Settings
from .admin import ensure_topics
from .topics import ANALYSIS_RESULTS, ANALYZER_RESULTS, VIDEO_UPLOADED

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 20.0


class EventPublisher:
    """An aiokafka producer that waits for the broker's acknowledgement of every event."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Connect; a broker that is down is retried lazily on the next publish."""
        try:
            await self._connect()
        except Exception as exc:  # noqa: BLE001 - readiness reports it; publish retries
            log.warning("broker not reachable yet at %s: %s", self._settings.broker_url, exc)

    async def _connect(self) -> AIOKafkaProducer:
        # Bounded: a broker that is down must give an error, not a request that hangs.
        return await asyncio.wait_for(self._connect_once(), timeout=CONNECT_TIMEOUT_S)

    async def _connect_once(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is not None:
                return self._producer
            await ensure_topics(self._settings)
            producer = AIOKafkaProducer(
                bootstrap_servers=self._settings.bootstrap_servers,
                acks="all",
                enable_idempotence=False,
                request_timeout_ms=15_000,
                max_request_size=self._settings.max_message_bytes + 100_000,
            )
            try:
                await producer.start()
            except Exception:
                await producer.stop()
                raise
            self._producer = producer
            return producer

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def publish_upload(self, event: VideoUploaded) -> None:
        producer = await self._connect()
        await producer.send_and_wait(
            self._settings.topic(VIDEO_UPLOADED),
            value=event.model_dump_json().encode(),
            key=event.video_id.encode(),
        )
        log.info("published upload event video_id=%s uri=%s", event.video_id, event.uri)

    async def publish_deletion(self, video_id: str) -> None:
        """Tell the join to drop the video, and the results' consumers with a tombstone."""
        producer = await self._connect()
        key = video_id.encode()
        await producer.send_and_wait(
            self._settings.topic(ANALYZER_RESULTS),
            value=JoinDelete(video_id=video_id).model_dump_json().encode(),
            key=key,
        )
        await producer.send_and_wait(self._settings.topic(ANALYSIS_RESULTS), value=None, key=key)
        log.info("published deletion of video_id=%s", video_id)

    async def ping(self) -> None:
        producer = await self._connect()
        # A metadata round trip proves the broker answers now, not just at connect time.
        await asyncio.wait_for(
            producer.client.fetch_all_metadata(), timeout=self._settings.broker_session_timeout_s
        )
