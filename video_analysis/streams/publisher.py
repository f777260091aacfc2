"""Publishing events from outside the Faust workers (the API and the CLI) with confluent-kafka,
the client platform teams use; Faust keeps aiokafka inside the workers."""

from __future__ import annotations

import asyncio
import logging

from confluent_kafka import KafkaError, KafkaException, Producer

from ..schemas import JoinDelete, VideoUploaded
from ..settings import Settings
from .admin import REQUEST_TIMEOUT_S, admin_config, ensure_topics
from .topics import ANALYSIS_RESULTS, ANALYZER_RESULTS, VIDEO_UPLOADED

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 20.0
#: How long one event may wait for the broker's acknowledgement.
DELIVERY_TIMEOUT_S = 15.0


class DeliveryFailed(Exception):
    """The broker did not acknowledge an event."""


class EventPublisher:
    """A confluent-kafka producer that waits for the broker's acknowledgement of every event."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer: Producer | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Connect; a broker that is down is retried lazily on the next publish."""
        try:
            await self._connect()
        except Exception as exc:  # noqa: BLE001 - readiness reports it; publish retries
            log.warning("broker not reachable yet at %s: %s", self._settings.broker_url, exc)

    async def _connect(self) -> Producer:
        # Bounded: a broker that is down must give an error, not a request that hangs.
        return await asyncio.wait_for(self._connect_once(), timeout=CONNECT_TIMEOUT_S)

    async def _connect_once(self) -> Producer:
        async with self._lock:
            if self._producer is not None:
                return self._producer
            await ensure_topics(self._settings)
            self._producer = Producer(
                {
                    **admin_config(self._settings),
                    "acks": "all",
                    "enable.idempotence": False,
                    "message.timeout.ms": int(DELIVERY_TIMEOUT_S * 1000),
                    "message.max.bytes": self._settings.max_message_bytes + 100_000,
                    "compression.type": self._settings.broker_compression,
                    "linger.ms": 0,
                }
            )
            return self._producer

    async def close(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await asyncio.to_thread(producer.flush, DELIVERY_TIMEOUT_S)

    async def _send(self, topic: str, key: str, value: bytes | None) -> None:
        producer = await self._connect()
        await asyncio.to_thread(_deliver, producer, self._settings.topic(topic), key, value)

    async def publish_upload(self, event: VideoUploaded) -> None:
        await self._send(VIDEO_UPLOADED, event.video_id, event.model_dump_json().encode())
        log.info("published upload event video_id=%s uri=%s", event.video_id, event.uri)

    async def publish_deletion(self, video_id: str) -> None:
        """Tell the join to drop the video, and the results' consumers with a tombstone."""
        await self._send(
            ANALYZER_RESULTS, video_id, JoinDelete(video_id=video_id).model_dump_json().encode()
        )
        await self._send(ANALYSIS_RESULTS, video_id, None)
        log.info("published deletion of video_id=%s", video_id)

    async def ping(self) -> None:
        producer = await self._connect()
        # A metadata round trip proves the broker answers now, not just at connect time.
        await asyncio.to_thread(producer.list_topics, timeout=REQUEST_TIMEOUT_S)


def _deliver(producer: Producer, topic: str, key: str, value: bytes | None) -> None:
    """Produce one message and wait for its delivery report (run in a thread)."""
    reports: list[KafkaError | None] = []
    producer.produce(
        topic, key=key.encode(), value=value, on_delivery=lambda err, _msg: reports.append(err)
    )
    # flush() serves delivery reports, ours included, until nothing is in flight.
    if producer.flush(DELIVERY_TIMEOUT_S) > 0 and not reports:
        raise DeliveryFailed(f"no acknowledgement for {topic} within {DELIVERY_TIMEOUT_S:.0f} s")
    if reports and reports[0] is not None:
        raise DeliveryFailed(f"{topic}: {reports[0]}") from KafkaException(reports[0])
