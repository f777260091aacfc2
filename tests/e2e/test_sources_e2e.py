"""Videos kept in object storage: an HTTP upload goes to the bucket, and an event may name an
object the platform stored itself; the workers read both from a real S3 API server."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_pipeline_e2e import RESULT_TIMEOUT_S, assert_complete, stored_rows
from tests.media_factory import make_clip
from tests.s3 import S3_ENV, object_keys, s3_client, s3_server
from tests.stack import Stack, read_all

pytestmark = pytest.mark.e2e

BUCKET = "recordings"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with s3_server(tmp_path_factory.mktemp("moto")) as endpoint:
        client = s3_client(endpoint)
        client.create_bucket(Bucket=BUCKET)
        client.create_bucket(Bucket="platform")
        yield endpoint


def gone(answer: httpx.Response) -> bool:
    """The API's answer for an erased video: 410 ``deleted``."""
    return answer.status_code == 410 and answer.json()["error"]["code"] == "deleted"


def test_videos_in_object_storage_are_analysed_and_their_copies_removed(
    broker: str, mysql_database: str, s3: str, tmp_path: Path
) -> None:
    from tests.e2e.conftest import make_stack

    deployment: Stack = make_stack(
        broker,
        tmp_path,
        mysql_database,
        VA_UPLOAD_STORE=f"s3://{BUCKET}/uploads",
        VA_S3_ENDPOINT_URL=s3,
        VA_SOURCE_BUCKETS="platform",
        **S3_ENV,
    )
    clip = make_clip(tmp_path / "answer.mp4", duration=4.0, size=(320, 240), audio="speech")
    for role in ("splitter", "quality", "join"):
        deployment.start_worker(role)
    deployment.start_api()
    api = f"http://127.0.0.1:{deployment.api_port}"
    results_topic = deployment.topic("analysis-results")
    try:
        # 1. Over HTTP: the API keeps the upload in the bucket, not on its own disk.
        uploaded = f"up-{uuid.uuid4().hex[:8]}"
        with clip.open("rb") as fh:
            answer = httpx.post(
                f"{api}/analyze-video",
                files={"file": ("answer.mp4", fh, "video/mp4")},
                data={"video_id": uploaded},
                timeout=60,
            )
        assert answer.status_code == 202, answer.text
        assert object_keys(s3, BUCKET) == [
            f"uploads/{uploaded}/answer.mp4",
            f"uploads/{uploaded}/event.json",  # kept for a restart that lost the topics
        ]
        assert [p for p in deployment.upload_root.rglob("*") if p.is_file()] == []
        ready = httpx.get(f"{api}/health/ready", timeout=10).json()
        assert ready["checks"]["uploads"] == {"ok": True}

        # 2. An event naming an object the platform stored in its own (allowed) bucket.
        s3_client(s3).upload_file(str(clip), "platform", "interviews/7/answer.mp4")
        published = f"ev-{uuid.uuid4().hex[:8]}"
        deployment.publish_upload(published, "s3://platform/interviews/7/answer.mp4")
        # 3. And one naming a bucket the service was not told to read.
        refused = f"no-{uuid.uuid4().hex[:8]}"
        deployment.publish_upload(refused, "s3://elsewhere/answer.mp4")

        results = deployment.results({uploaded, published, refused}, RESULT_TIMEOUT_S)
        assert_complete(results[uploaded], uploaded, 4.0)
        assert_complete(results[published], published, 4.0)
        assert results[refused]["status"] == "failed"
        assert results[refused]["error"]["code"] == "source_not_allowed"
        # The splitter's downloaded copies are gone; the kept objects stay until deleted.
        time.sleep(0.5)
        downloads = Path(deployment.env["VA_DATA_DIR"]) / "downloads"
        assert [p for p in downloads.rglob("*") if p.is_file()] == []
        assert "interviews/7/answer.mp4" in object_keys(s3, "platform")

        # 4. Erase the uploaded one: object, stored result and status go; the join is told and
        #    consumers get a tombstone for the video's key on analysis-results.
        erased = httpx.delete(f"{api}/videos/{uploaded}", timeout=30)
        assert erased.status_code == 200, erased.text
        assert erased.json()["uploads_removed"] == 1 and erased.json()["result_removed"]
        # Left: the event of the platform's video, kept for reprocess (not the refused one's).
        assert object_keys(s3, BUCKET) == [f"uploads/{published}/event.json"]
        assert stored_rows(deployment, uploaded) == []
        assert gone(httpx.get(f"{api}/videos/{uploaded}", timeout=10))
        assert httpx.get(f"{api}/videos/{uploaded}/result", timeout=10).status_code == 410
        deadline = time.monotonic() + 30
        while True:
            messages = [v for k, v in asyncio.run(read_all(broker, results_topic)) if k == uploaded]
            if messages and messages[-1] is None and "deleted video_id=" in deployment.log("join"):
                break
            assert time.monotonic() < deadline, (messages, deployment.logs())
            time.sleep(1)
        # The join dropped its state and did not bring anything back.
        assert stored_rows(deployment, uploaded) == []
        assert gone(httpx.get(f"{api}/videos/{uploaded}", timeout=10))
        assert stored_rows(deployment, published)  # the other video is untouched
    finally:
        deployment.stop()
