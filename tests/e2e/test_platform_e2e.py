"""What a platform team writes: a plain confluent-kafka producer publishes ``VideoUploaded`` and
a confluent-kafka consumer in the platform's own group reads the result (the README's example).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_pipeline_e2e import RESULT_TIMEOUT_S, assert_complete
from tests.media_factory import make_clip
from video_analysis.streams.embedded import free_port

pytestmark = pytest.mark.e2e


def test_a_confluent_kafka_producer_and_consumer_drive_the_service(
    broker: str, mysql_database: str, tmp_path: Path
) -> None:
    from confluent_kafka import Consumer, Producer

    from tests.e2e.conftest import make_stack

    deployment = make_stack(broker, tmp_path, mysql_database)
    ports = {role: free_port() for role in ("splitter", "quality", "join")}
    for role, port in ports.items():
        deployment.start_worker(role, None, "--metrics-port", str(port))
    clip = make_clip(tmp_path / "answer.mp4", duration=4.0, size=(320, 240), audio="speech")
    video_id = f"platform-{uuid.uuid4().hex[:8]}"
    path = deployment.place(clip, video_id)
    prefix = deployment.env["VA_TOPIC_PREFIX"]
    consumer = Consumer(
        {
            "bootstrap.servers": broker,
            "group.id": f"{prefix}recruiting-platform",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        # The service's workers create its topics as they start; a platform subscribes to one
        # that exists (librdkafka would otherwise look again only minutes later).
        results_topic = f"{prefix}analysis-results"
        deadline = time.monotonic() + 60
        while results_topic not in consumer.list_topics(timeout=5).topics:
            assert time.monotonic() < deadline, deployment.logs()
            time.sleep(0.5)
        consumer.subscribe([results_topic])
        producer = Producer({"bootstrap.servers": broker, "acks": "all"})
        event = {
            "schema_version": 1,
            "video_id": video_id,
            "uri": str(path),
            "metadata": {"interview_id": "iv-42", "applicant_id": "ap-7", "language": "en"},
        }
        producer.produce(
            f"{prefix}video-uploaded", key=video_id.encode(), value=json.dumps(event).encode()
        )
        assert producer.flush(30) == 0, "the event was not delivered"

        result = None
        deadline = time.monotonic() + RESULT_TIMEOUT_S
        while result is None:
            assert time.monotonic() < deadline, deployment.logs()
            message = consumer.poll(1.0)
            if message is None or message.error() is not None:
                continue
            # One result per key: a re-emitted one replaces the first; a tombstone deletes.
            if message.key() == video_id.encode() and message.value() is not None:
                result = json.loads(message.value())
                consumer.commit(message=message, asynchronous=False)
        assert_complete(result, video_id, 4.0)
        assert result["metadata"]["interview_id"] == "iv-42"

        # Each worker's Prometheus metrics say what it did.
        scraped = {
            role: httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            for role, port in ports.items()
        }
        assert (
            'video_analysis_items_total{role="splitter",stage="split"} 1.0' in scraped["splitter"]
        )
        quality = scraped["quality"]
        assert 'video_analysis_items_total{role="quality",stage="analyze-quality"} 2.0' in quality
        assert 'video_analysis_realtime_factor{analyzer="quality"}' in quality
        assert 'video_analysis_item_seconds_bucket{le="0.5",role="quality"' in quality
        join_count = re.search(
            r'video_analysis_items_total\{role="join",stage="join"\} (\d+)', scraped["join"]
        )
        assert join_count and int(join_count.group(1)) >= 3  # the manifest and two parts
        assert "video_analysis_videos_in_flight" in scraped["join"]
        assert "video_analysis_failures_total{" not in "".join(scraped.values())
    finally:
        consumer.close()
        deployment.stop()
