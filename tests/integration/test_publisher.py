"""The service's own Kafka clients outside the workers (confluent-kafka): topics, the publisher
and the result waiter, against the embedded broker; and a broker that is down."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stack import embedded_broker, read_all
from video_analysis.schemas import AnalysisResult, ResultStatus, VideoUploaded
from video_analysis.settings import Settings
from video_analysis.streams import publisher as publisher_module
from video_analysis.streams.admin import all_topic_names, ensure_topics
from video_analysis.streams.client import ResultWaiter
from video_analysis.streams.publisher import EventPublisher

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with embedded_broker(tmp_path_factory.mktemp("broker")) as address:
        yield address


def settings_for(bootstrap: str, tmp_path: Path) -> Settings:
    return Settings(
        broker_url=f"kafka://{bootstrap}",
        topic_prefix=f"p{int(time.time() * 1000) % 10**9}-",
        data_dir=tmp_path,
        topic_partitions=2,
    )


async def test_topics_events_tombstones_and_the_waiter(bootstrap: str, tmp_path: Path) -> None:
    settings = settings_for(bootstrap, tmp_path)
    created = await ensure_topics(settings)
    assert sorted(created) == sorted(all_topic_names(settings))
    assert await ensure_topics(settings) == []  # nothing missing the second time

    waiter = ResultWaiter(settings)
    await waiter.start()
    publisher = EventPublisher(settings)
    try:
        await publisher.ping()
        event = VideoUploaded(video_id="v-1", uri="s3://recordings/v-1.mp4")
        await publisher.publish_upload(event)
        uploaded = await read_all(bootstrap, settings.topic("video-uploaded"))
        assert [(key, VideoUploaded.model_validate(value)) for key, value in uploaded] == [
            ("v-1", event)
        ]
        # The waiter, positioned before, sees a result published after it started.
        result = AnalysisResult(video_id="v-1", status=ResultStatus.COMPLETE)
        await publisher._send("analysis-results", "v-1", result.model_dump_json().encode())
        assert (await waiter.wait_for("v-1", 30)).video_id == "v-1"

        await publisher.publish_deletion("v-1")
        results = await read_all(bootstrap, settings.topic("analysis-results"))
        assert results[-1] == ("v-1", None)  # the tombstone
        control = await read_all(bootstrap, settings.topic("analyzer-results"))
        assert control[-1] == ("v-1", {"schema_version": 1, "kind": "delete", "video_id": "v-1"})
    finally:
        await publisher.close()
        await waiter.close()


async def test_a_broker_that_is_down_is_a_bounded_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publisher_module, "CONNECT_TIMEOUT_S", 3.0)
    settings = Settings(broker_url="kafka://127.0.0.1:1", data_dir=tmp_path)
    publisher = EventPublisher(settings)
    await publisher.start()  # logs, does not raise: readiness reports the broker
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await publisher.publish_upload(VideoUploaded(video_id="v-2", uri="x.mp4"))
    assert time.monotonic() - started < 10
    await publisher.close()


async def test_records_sent_together_keep_the_embedded_brokers_end_offsets_right(
    bootstrap: str,
) -> None:
    """Tansu reports a partition's end offset as its last batch's first offset + 1; the
    workers' producers, sized as ``dev`` and the tests size them (EMBEDDED_BROKER_ENV), send
    one record per batch, so ten records sent at once end at offset 10, as Faust's table
    recovery and the stall watchdog need."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    from video_analysis.streams.embedded import EMBEDDED_BROKER_ENV

    topic = f"batches-{int(time.time() * 1000) % 10**9}"
    batch_bytes = int(EMBEDDED_BROKER_ENV["VA_PRODUCER_MAX_BATCH_BYTES"])
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=50, max_batch_size=batch_bytes
    )
    await producer.start()
    try:
        sent = [await producer.send(topic, f"v{i}".encode(), partition=0) for i in range(10)]
        offsets = [(await record).offset for record in sent]
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        assert offsets == list(range(10))
        assert await consumer.end_offsets([partition]) == {partition: 10}
    finally:
        await consumer.stop()
