"""Redis and the database stop during a run and come back: the workers wait, nothing is lost,
readiness says so while it lasts.

The stack runs against a Redis and a MariaDB of this test's own (``tests/private_servers``),
stopped with SIGTERM and started again on the same data, as a restart in production would.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pymysql
import pytest

from tests.media_factory import make_clip
from tests.private_servers import PrivateMariaDB, PrivateRedis
from tests.stack import Stack, read_all, stack_env
from video_analysis.streams.topics import ANALYSIS_RESULTS

pytestmark = pytest.mark.e2e

RESULT_TIMEOUT_S = 240
#: How long the outage lasts once the join has a result to write.
OUTAGE_S = 10.0


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[PrivateRedis, PrivateMariaDB]]:
    redis_dir, db_dir = tmp_path / "redis", tmp_path / "mariadb"
    redis_dir.mkdir()
    db_dir.mkdir()
    redis, db = PrivateRedis(root=redis_dir), PrivateMariaDB(root=db_dir)
    db.install()
    redis.start()
    db.start()
    db.create_database()
    try:
        yield redis, db
    finally:
        redis.stop()
        db.stop()


def stored_statuses(db: PrivateMariaDB) -> dict[str, str]:
    conn = pymysql.connect(
        host="127.0.0.1", port=db.port, user="root", password="", database=db.database
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT video_id, status FROM analysis_results")
            return {video_id: status for video_id, status in cur.fetchall()}
    finally:
        conn.close()


def wait_for_log(stack: Stack, name: str, text: str, timeout_s: float) -> float:
    """Seconds until ``text`` shows in the process's log."""
    started = time.monotonic()
    path = stack.root / f"{name}.log"
    while time.monotonic() - started < timeout_s:
        if text in path.read_text(errors="replace"):
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never showed in {name}.log\n{stack.logs()}")


def test_redis_and_the_database_restart_mid_run_and_nothing_is_lost(
    broker: str, servers: tuple[PrivateRedis, PrivateMariaDB], tmp_path: Path
) -> None:
    redis, db = servers
    root = tmp_path / "stack"
    root.mkdir()
    env = stack_env(broker, root, VA_DATABASE_URL=db.url, VA_REDIS_URL=redis.url)
    stack = Stack(bootstrap=broker, root=root, env=env)
    clip = make_clip(tmp_path / "answer.mp4", duration=4.0, audio="speech", fps=25)
    for role in ("splitter", "quality", "join"):
        stack.start_worker(role)
    stack.start_api()
    api = httpx.Client(base_url=f"http://127.0.0.1:{stack.api_port}", timeout=30)
    run = uuid.uuid4().hex[:6]
    try:
        assert api.get("/health/ready").status_code == 200
        # One upload over HTTP while all is well: every worker has met both stores.
        with clip.open("rb") as fh:
            answer = api.post("/analyze-video", files={"file": ("a.mp4", fh, "video/mp4")})
        assert answer.status_code == 202, answer.text
        before = [answer.json()["video_id"]]
        stack.results(set(before), RESULT_TIMEOUT_S)
        redis.stop()
        db.stop()

        ready = api.get("/health/ready")
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert not checks["status"]["ok"] and not checks["results"]["ok"]
        assert checks["broker"]["ok"]
        # An upload cannot be recorded now: a clear 503, nothing kept.
        with clip.open("rb") as fh:
            refused = api.post("/analyze-video", files={"file": ("a.mp4", fh, "video/mp4")})
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "store_unavailable"
        # The platform's events keep coming over Kafka meanwhile, and are analysed; the join
        # waits to store their results.
        during = [f"outage-{run}-{i}" for i in range(3)]
        for video_id in during:
            stack.submit(clip, video_id)
        waited = wait_for_log(stack, "join", "waits for the store", RESULT_TIMEOUT_S)
        time.sleep(OUTAGE_S)
        assert api.get("/health/ready").status_code == 503
        for name, process in stack.processes.items():
            assert process.poll() is None, f"{name} died in the outage\n{stack.logs()}"
        redis.start()
        db.start()
        print(f"outage: {waited:.1f} s until the join waited, then {OUTAGE_S:.0f} s more")

        videos = set(before) | set(during)
        results = stack.results(videos, RESULT_TIMEOUT_S)
        assert {v: r["status"] for v, r in results.items()} == dict.fromkeys(videos, "complete")
        time.sleep(3.0)  # a duplicate, if any, would have been produced by now
        finals = Counter(
            key
            for key, value in asyncio.run(read_all(broker, stack.topic(ANALYSIS_RESULTS)))
            if key in videos and value is not None
        )
        assert finals == dict.fromkeys(videos, 1)
        assert stored_statuses(db) == dict.fromkeys(videos, "complete")
        for video_id in videos:
            status = api.get(f"/videos/{video_id}").json()
            assert status["state"] == "complete", status
        assert api.get("/health/ready").status_code == 200
    except BaseException:
        print(stack.logs())
        raise
    finally:
        api.close()
        stack.stop()
