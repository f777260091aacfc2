"""The whole pipeline through the real broker: API, splitter, analyzers, join, store."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import uuid
from pathlib import Path

import httpx
import pymysql
import pytest

from tests.media_factory import make_clip, make_corrupt, make_text_as_mp4
from tests.stack import Stack, publish, read_all, upload_event, wait_for_results
from video_analysis.streams.topics import (
    ANALYSIS_RESULTS,
    ANALYZER_RESULTS,
    DLQ,
    VIDEO_AUDIO,
    VIDEO_FRAMES,
    VIDEO_UPLOADED,
)

pytestmark = pytest.mark.e2e

RESULT_TIMEOUT_S = 240


@pytest.fixture(scope="module")
def speech_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("clips")
    return make_clip(
        folder / "answer.mp4", duration=12.0, size=(320, 240), fps=25, audio="speech", face=True
    )


def stored_rows(stack: Stack, video_id: str) -> list[tuple[str, str]]:
    from urllib.parse import urlparse

    url = urlparse(stack.env["VA_DATABASE_URL"])
    conn = pymysql.connect(
        host=url.hostname,
        port=url.port or 3306,
        user=url.username,
        password=url.password or "",
        database=url.path.lstrip("/"),
    )
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT status, result FROM analysis_results WHERE video_id = %s", (video_id,)
            )
            return list(cur.fetchall())
    finally:
        conn.close()


def assert_complete(result: dict, video_id: str, duration: float) -> None:
    assert result["video_id"] == video_id
    assert result["status"] == "complete", result.get("error") or result.get("missing_parts")
    assert result["error"] is None and result["missing"] == []
    media = result["media"]
    assert media["has_video"] and media["has_audio"]
    assert media["duration_s"] == pytest.approx(duration, abs=0.3)
    assert media["coverage"] == 1.0
    assert media["frames_sampled"] == pytest.approx(duration * 5, abs=2)
    quality = media["quality"]
    assert quality["audio_level_dbfs"] is not None and quality["audio_level_dbfs"] < 0
    assert quality["brightness"] is not None and 0 < quality["brightness"] < 255
    assert {m["analyzer"] for m in result["models"]} == {"quality"}
    assert result["timings"]["split"] > 0


def test_http_upload_yields_complete_result_on_topic_and_in_store(
    stack: Stack, speech_clip: Path
) -> None:
    with speech_clip.open("rb") as fh:
        answer = httpx.post(
            f"http://127.0.0.1:{stack.api_port}/analyze-video",
            files={"file": ("answer.mp4", fh, "video/mp4")},
            data={"interview_id": "iv-1", "applicant_id": "ap-7"},
            timeout=60,
        )
    assert answer.status_code == 202, answer.text
    video_id = answer.json()["video_id"]
    results = asyncio.run(
        wait_for_results(
            stack.bootstrap, stack.topic(ANALYSIS_RESULTS), {video_id}, RESULT_TIMEOUT_S, stack
        )
    )
    result = results[video_id]
    assert_complete(result, video_id, 12.0)
    assert result["metadata"]["applicant_id"] == "ap-7"
    rows = stored_rows(stack, video_id)
    assert len(rows) == 1 and rows[0][0] == "complete"
    assert json.loads(rows[0][1])["media"]["duration_s"] == result["media"]["duration_s"]
    # The API serves the stored result and the final status.
    status = httpx.get(f"http://127.0.0.1:{stack.api_port}/videos/{video_id}", timeout=10).json()
    assert status["state"] == "complete" and status["progress"] == 1.0
    served = httpx.get(f"http://127.0.0.1:{stack.api_port}/videos/{video_id}/result", timeout=10)
    assert served.status_code == 200 and served.json()["status"] == "complete"


def test_kafka_event_yields_complete_result(stack: Stack, speech_clip: Path) -> None:
    video_id = f"kafka-{uuid.uuid4().hex[:8]}"
    stack.submit(speech_clip, video_id, uri_prefix="file://")
    results = stack.results({video_id}, RESULT_TIMEOUT_S)
    assert_complete(results[video_id], video_id, 12.0)
    assert results[video_id]["metadata"]["interview_id"] == "iv-1"


def test_bad_inputs_fail_with_codes_and_worker_keeps_going(
    stack: Stack, speech_clip: Path, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    corrupt, text, outside, good = (
        f"{name}-{tag}" for name in ("corrupt", "text", "outside", "good")
    )
    corrupt_path = stack.place(make_corrupt(tmp_path / "corrupt.mp4"), corrupt)
    text_path = stack.place(make_text_as_mp4(tmp_path / "notes.mp4"), text)
    outside_path = shutil.copyfile(speech_clip, tmp_path / "elsewhere.mp4")
    good_path = stack.place(speech_clip, good)

    async def send_all() -> None:
        topic = stack.topic(VIDEO_UPLOADED)
        await publish(stack.bootstrap, topic, corrupt, upload_event(corrupt, str(corrupt_path)))
        await publish(stack.bootstrap, topic, text, upload_event(text, str(text_path)))
        await publish(stack.bootstrap, topic, outside, upload_event(outside, str(outside_path)))
        await publish(stack.bootstrap, topic, "no-id", b"{this is not json")
        # Poison on the workers' own topics, keyed as the good video's batches and parts are,
        # so it sits in the partitions they use.
        for poisoned, key in (
            (VIDEO_FRAMES, f"{good}:0"),
            (VIDEO_FRAMES, f"{good}:1"),
            (VIDEO_AUDIO, f"{good}:0"),
            (VIDEO_AUDIO, f"{good}:1"),
            (ANALYZER_RESULTS, good),
            (ANALYZER_RESULTS, good),
        ):
            await publish(stack.bootstrap, stack.topic(poisoned), key, b"\x00poison")
        await publish(stack.bootstrap, topic, good, upload_event(good, str(good_path)))

    asyncio.run(send_all())
    results = asyncio.run(
        wait_for_results(
            stack.bootstrap,
            stack.topic(ANALYSIS_RESULTS),
            {corrupt, text, outside, good},
            RESULT_TIMEOUT_S,
            stack,
        )
    )
    assert results[corrupt]["status"] == "failed"
    assert results[corrupt]["error"]["code"] == "unreadable_media"
    assert results[text]["status"] == "failed"
    assert results[text]["error"]["code"] == "unreadable_media"
    assert results[outside]["status"] == "failed"
    assert results[outside]["error"]["code"] == "source_not_allowed"
    assert_complete(results[good], good, 12.0)
    # Each failure is on the DLQ with its reason; the malformed event too.
    dlq = asyncio.run(read_all(stack.bootstrap, stack.topic(DLQ)))
    codes = {value.get("video_id"): value["error"]["code"] for _, value in dlq}
    assert codes[corrupt] == "unreadable_media"
    assert codes[outside] == "source_not_allowed"
    assert "invalid_event" in codes.values()
    # Each poison message is dead-lettered once, with its stage, and blocked nothing: the good
    # video behind it in the same partitions completed.
    poison = [value["stage"] for _, value in dlq if value["payload"].startswith("\x00poison")]
    assert sorted(poison) == sorted(["analyze-frames", "analyze-audio", "join"] * 2), dlq
    assert all(p.poll() is None for p in stack.processes.values()), stack.logs()
    for video_id in (corrupt, text, outside):
        assert stored_rows(stack, video_id)[0][0] == "failed"


def test_worker_killed_mid_video_still_gives_exactly_one_result(
    broker: str, mysql_database: str, tmp_path: Path
) -> None:
    from tests.e2e.conftest import make_stack

    # Many small parts, so the join is still busy with this video when it is killed.
    deployment = make_stack(
        broker,
        tmp_path,
        mysql_database,
        VA_FRAME_RATE="10",
        VA_FRAMES_PER_BATCH="1",
        VA_AUDIO_CHUNK_MAX_S="2",
    )
    clip = make_clip(
        tmp_path / "long.mp4", duration=20.0, size=(320, 240), fps=25, audio="speech", face=True
    )
    for role in ("splitter", "quality", "join"):
        deployment.start_worker(role)
    try:
        video_id = f"killed-{uuid.uuid4().hex[:8]}"
        deployment.submit(clip, video_id)
        progress = wait_for_progress(deployment, video_id, timeout_s=RESULT_TIMEOUT_S)
        assert 0 < progress < 1, "the video finished before the worker could be killed"
        deployment.kill("join")
        # Restart once the broker has expired the killed member (its session timeout), as a
        # supervisor's backoff would: with the embedded broker (Tansu), a member that joins while
        # the dead one is still registered was seen, twice in CI, to get its partitions and then
        # fetch nothing. Rejoining a group that holds a dead member is Kafka's job; the test is
        # about the join recovering its state and emitting the result once. Even so, about one
        # restart in six here leaves a partition unread (faust-streaming #629): the watchdog
        # reads it again after VA_WORKER_STALL_S (30 s in tests), or restarts the worker
        # (``Stack.restart_stalled``), which is part of what this test covers.
        time.sleep(float(deployment.env["VA_BROKER_SESSION_TIMEOUT_S"]) + 2.0)
        deployment.start_worker("join", name="join-restarted")
        results = deployment.results({video_id}, RESULT_TIMEOUT_S)
        assert results[video_id]["status"] == "complete", results[video_id].get("missing_parts")
        assert results[video_id]["media"]["frames_sampled"] == pytest.approx(200, abs=3)
        time.sleep(3.0)  # a duplicate, if any, would have been produced by now
        finals = [
            v
            for k, v in asyncio.run(read_all(broker, deployment.topic(ANALYSIS_RESULTS)))
            if k == video_id
        ]
        assert len(finals) == 1
        assert len(stored_rows(deployment, video_id)) == 1
    finally:
        deployment.stop()


def wait_for_progress(stack: Stack, video_id: str, timeout_s: float) -> float:
    """Poll Redis until the join reports progress for the video; return that progress."""
    import redis

    client = redis.Redis.from_url(stack.env["VA_REDIS_URL"])
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            for key in client.scan_iter(match=f"*{video_id}*"):
                raw = client.get(key)
                if raw:
                    status = json.loads(raw)
                    if status.get("state") == "processing" and status.get("progress", 0) > 0:
                        return float(status["progress"])
                    if status.get("state") in ("complete", "partial", "failed"):
                        return 1.0
            time.sleep(0.05)
    finally:
        client.close()
    raise AssertionError(f"no progress for {video_id} within {timeout_s}s\n{stack.logs()}")


def test_parts_missing_at_deadline_give_partial_result(
    broker: str, mysql_database: str, tmp_path: Path
) -> None:
    from tests.e2e.conftest import make_stack

    # No quality worker runs, so its parts never arrive; the join gives up on the 3 s clip
    # 4 s + 3 s after its first message, once nothing came for 2 s, without analysing it
    # again (tests/e2e/test_healing_e2e.py heals).
    deployment = make_stack(
        broker,
        tmp_path,
        mysql_database,
        VA_JOIN_DEADLINE_S="4",
        VA_JOIN_QUIET_S="2",
        VA_JOIN_HEAL_RUNS="0",
    )
    clip = make_clip(tmp_path / "short.mp4", duration=3.0, audio="sine")
    for role in ("splitter", "join"):
        deployment.start_worker(role)
    try:
        video_id = f"partial-{uuid.uuid4().hex[:8]}"
        deployment.submit(clip, video_id)
        results = deployment.results({video_id}, RESULT_TIMEOUT_S)
        result = results[video_id]
        assert result["status"] == "partial"
        assert result["missing"] == ["media.quality"]
        assert result["media"]["coverage"] == 0.0
        assert result["media"]["duration_s"] == pytest.approx(3.0, abs=0.2)
        assert len(result["missing_parts"]) == 2  # one frame batch and one audio chunk
        assert stored_rows(deployment, video_id)[0][0] == "partial"
    finally:
        deployment.stop()


def test_submit_wait_prints_result_and_exit_code(stack: Stack, tmp_path: Path) -> None:
    import subprocess
    import sys

    good = make_clip(tmp_path / "short.mp4", duration=3.0, audio="sine")
    bad = make_text_as_mp4(tmp_path / "notes.mp4")
    command = [sys.executable, "-m", "video_analysis", "submit", "--wait", "--timeout", "240"]
    done = subprocess.run(
        [*command, str(good)], env=stack.env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["status"] == "complete"
    assert result["media"]["duration_s"] == pytest.approx(3.0, abs=0.2)
    assert "100%" in done.stderr and "complete" in done.stderr  # the bar reached the end
    # The file was copied under the upload root for the workers to read.
    assert (stack.upload_root / result["video_id"] / "short.mp4").is_file()
    done = subprocess.run(
        [*command, str(bad)], env=stack.env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1
    assert json.loads(done.stdout)["error"]["code"] == "unreadable_media"


def test_reprocess_keeps_the_old_result_until_the_new_run_is_final(
    stack: Stack, speech_clip: Path
) -> None:
    import subprocess
    import sys

    api = httpx.Client(base_url=f"http://127.0.0.1:{stack.api_port}", timeout=30)
    with speech_clip.open("rb") as fh:
        answer = api.post("/analyze-video", files={"file": ("answer.mp4", fh, "video/mp4")})
    assert answer.status_code == 202, answer.text
    video_id = answer.json()["video_id"]
    first = stack.results({video_id}, RESULT_TIMEOUT_S)[video_id]
    assert first["status"] == "complete" and first["run"] == 0

    started = api.post(f"/videos/{video_id}/reprocess")
    assert started.status_code == 202, started.text
    assert started.json()["run"] == 1
    # A second request while run 1 is in flight is refused.
    again = api.post(f"/videos/{video_id}/reprocess")
    assert again.status_code == 409 and again.json()["error"]["code"] == "in_flight"
    # Meanwhile the old result is served.
    served = api.get(f"/videos/{video_id}/result").json()
    assert served["run"] == 0 and served["created_at"] == first["created_at"]

    deadline = time.monotonic() + RESULT_TIMEOUT_S
    while (status := api.get(f"/videos/{video_id}").json())["state"] != "complete" or status[
        "run"
    ] != 1:
        assert time.monotonic() < deadline, (status, stack.logs())
        time.sleep(0.5)
    served = api.get(f"/videos/{video_id}/result").json()
    assert served["run"] == 1 and served["status"] == "complete"
    assert served["media"]["duration_s"] == first["media"]["duration_s"]
    rows = stored_rows(stack, video_id)
    assert len(rows) == 1 and json.loads(rows[0][1])["run"] == 1
    time.sleep(2.0)
    on_topic = [
        v["run"]
        for k, v in asyncio.run(read_all(stack.bootstrap, stack.topic(ANALYSIS_RESULTS)))
        if k == video_id and v is not None
    ]
    assert on_topic == [0, 1]

    # The CLI does the same: run 2.
    cli = subprocess.run(
        [sys.executable, "-m", "video_analysis", "reprocess", video_id],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["run"] == 2
    unknown = subprocess.run(
        [sys.executable, "-m", "video_analysis", "reprocess", "no-such-video"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert unknown.returncode == 1 and "unknown_video" in unknown.stderr
    api.close()
