"""What a platform team writes: a plain confluent-kafka producer publishes ``VideoUploaded`` and
a confluent-kafka consumer in the platform's own group reads the result (the README's example).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_pipeline_e2e import RESULT_TIMEOUT_S, assert_complete
from tests.media_factory import make_clip
from tests.stack import Stack
from video_analysis.claim_check import COMPACT_OMITS
from video_analysis.streams.embedded import free_port

pytestmark = pytest.mark.e2e

#: Under the result of a 20 s clip with the quality analyzer (7.7 KB), over its compact form
#: (4.6 KB): the claim check.
INLINE_LIMIT_BYTES = 6_000


def platform_consumer(broker: str, deployment: Stack) -> Any:
    """A confluent-kafka consumer in the platform's own group, subscribed to the results."""
    from confluent_kafka import Consumer

    prefix = deployment.env["VA_TOPIC_PREFIX"]
    consumer = Consumer(
        {
            "bootstrap.servers": broker,
            "group.id": f"{prefix}recruiting-platform",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    # The service's workers create its topics as they start; a platform subscribes to one
    # that exists (librdkafka would otherwise look again only minutes later).
    results_topic = f"{prefix}analysis-results"
    deadline = time.monotonic() + 60
    while results_topic not in consumer.list_topics(timeout=5).topics:
        if time.monotonic() > deadline:
            consumer.close()
            raise AssertionError(deployment.logs())
        time.sleep(0.5)
    consumer.subscribe([results_topic])
    return consumer


def first_result(consumer: Any, video_id: str, deployment: Stack) -> bytes:
    """The value of the first result message for ``video_id``, committed as a platform does.
    One result per key: a re-emitted one replaces the first; a tombstone deletes."""
    deadline = time.monotonic() + RESULT_TIMEOUT_S
    while True:
        assert time.monotonic() < deadline, deployment.logs()
        message = consumer.poll(1.0)
        if message is None or message.error() is not None:
            continue
        if message.key() == video_id.encode() and message.value() is not None:
            consumer.commit(message=message, asynchronous=False)
            value: bytes = message.value()
            return value


def test_a_confluent_kafka_producer_and_consumer_drive_the_service(
    broker: str, mysql_database: str, tmp_path: Path
) -> None:
    from confluent_kafka import Producer

    from tests.e2e.conftest import make_stack

    deployment = make_stack(broker, tmp_path, mysql_database)
    ports = {role: free_port() for role in ("splitter", "quality", "join")}
    for role, port in ports.items():
        deployment.start_worker(role, None, "--metrics-port", str(port))
    clip = make_clip(tmp_path / "answer.mp4", duration=4.0, size=(320, 240), audio="speech")
    video_id = f"platform-{uuid.uuid4().hex[:8]}"
    path = deployment.place(clip, video_id)
    prefix = deployment.env["VA_TOPIC_PREFIX"]
    consumer = platform_consumer(broker, deployment)
    try:
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

        result = json.loads(first_result(consumer, video_id, deployment))
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


def test_a_result_over_the_message_limit_reaches_a_platform_consumer_as_a_claim_check(
    broker: str, mysql_database: str, tmp_path: Path
) -> None:
    """A small ``VA_RESULT_INLINE_MAX_BYTES`` stands in for a long interview's result: a plain
    confluent-kafka consumer gets the compact result, fetches the full one from the API (read
    scope) and from object storage, and both match the sha256 the message names."""
    from tests.e2e.conftest import make_stack
    from tests.s3 import S3_ENV, s3_client, s3_server
    from video_analysis.auth import new_key

    key, entry = new_key("platform", ["read"])
    with s3_server(tmp_path) as endpoint:
        s3_client(endpoint).create_bucket(Bucket="results")
        deployment = make_stack(
            broker,
            tmp_path,
            mysql_database,
            VA_RESULT_INLINE_MAX_BYTES=str(INLINE_LIMIT_BYTES),
            VA_RESULT_OBJECT_STORE="s3://results/analysis",
            VA_S3_ENDPOINT_URL=endpoint,
            VA_API_KEYS=entry.entry,
            **S3_ENV,
        )
        for role in ("splitter", "quality", "join"):
            deployment.start_worker(role)
        deployment.start_api()
        clip = make_clip(tmp_path / "answer.mp4", duration=20.0, size=(320, 240), audio="speech")
        video_id = f"claim-{uuid.uuid4().hex[:8]}"
        consumer = platform_consumer(broker, deployment)
        try:
            deployment.submit(clip, video_id)
            message_value = first_result(consumer, video_id, deployment)
            notice = json.loads(message_value)
            # What a consumer does: a message with result_ref is a claim check.
            ref = notice["result_ref"]
            assert ref is not None, f"published whole ({len(message_value)} bytes)"
            assert len(message_value) <= INLINE_LIMIT_BYTES < ref["size_bytes"]
            assert notice["status"] == "complete" and notice["video_id"] == video_id
            assert notice["media"]["duration_s"] == pytest.approx(20.0, abs=0.2)
            assert notice["omitted"] == list(COMPACT_OMITS) and notice["timeline"] == []
            assert ref["api_path"] == f"/videos/{video_id}/result"
            assert ref["object_uri"] == f"s3://results/analysis/{video_id}/result-run0.json"

            api = f"http://127.0.0.1:{deployment.api_port}"
            assert httpx.get(api + ref["api_path"], timeout=30).status_code == 401
            answer = httpx.get(api + ref["api_path"], headers={"X-API-Key": key}, timeout=30)
            assert answer.status_code == 200
            assert hashlib.sha256(answer.content).hexdigest() == ref["sha256"]
            assert len(answer.content) == ref["size_bytes"]
            assert answer.headers["etag"] == f'"{ref["sha256"]}"'
            full = answer.json()
            assert len(full["timeline"]) == 20 and full["result_ref"] is None
            assert full["media"] == notice["media"] and full["models"] == notice["models"]

            stored = s3_client(endpoint).get_object(
                Bucket="results", Key=f"analysis/{video_id}/result-run0.json"
            )
            body = stored["Body"].read()
            assert hashlib.sha256(body).hexdigest() == ref["sha256"]
            assert stored["ContentType"] == "application/json"
        finally:
            consumer.close()
            deployment.stop()
