"""Several hosts (issue 20, part 2): the broker, the stores, the object store and the API on
one machine, two worker hosts each running every role, each in its own network namespace.
Ten uploads; one worker host is cut off the network mid-run, then killed; the other takes
over, and every video ends with exactly one stored result."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

import httpx
import pymysql
import pytest

from tests.hosts import GATEWAY, Host, network, unavailable
from tests.media_factory import make_clip
from tests.private_servers import PrivateMariaDB, PrivateRedis
from tests.s3 import S3_ENV, s3_client, s3_server
from tests.stack import Stack, read_all, stack_env
from video_analysis.streams.embedded import EMBEDDED_BROKER_ENV, free_port, start_broker
from video_analysis.streams.topics import ANALYSIS_RESULTS
from video_analysis.streams.watchdog import STALL_EXIT_CODE
from video_analysis.supervise import stop_all

pytestmark = pytest.mark.e2e

VIDEOS = 10
BUCKET = "uploads"
#: The group's session timeout: a host gone this long is out of the group.
SESSION_TIMEOUT_S = 10
FINAL = ("complete", "partial", "failed")


class WorkerHost:
    """Every role in one worker process on ``host``, started again when its watchdog stops
    it (exit 75), as a supervisor on that machine would."""

    def __init__(self, host: Host, env: dict[str, str], log_dir: Path) -> None:
        self.host, self.env = host, env
        self.log_path = log_dir / f"{host.name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.restarts = 0

    def start(self) -> None:
        self._log = self._log or self.log_path.open("ab")
        argv = [sys.executable, "-m", "video_analysis", "worker", "--role", "all"]
        self.process = subprocess.Popen(
            self.host.command(argv), env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def supervise(self) -> None:
        if self.process is not None and self.process.poll() == STALL_EXIT_CODE:
            self.restarts += 1
            self.start()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None:
            stop_all([self.process], timeout_s=15)
        if self._log is not None:
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def hosts_possible() -> None:
    reason = unavailable()
    if reason is not None:
        pytest.skip(f"several hosts cannot be simulated here: {reason}")


def stored_results(db: PrivateMariaDB) -> Counter[str]:
    conn = pymysql.connect(host=db.host, port=db.port, user="root", password="", database="va")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT video_id FROM analysis_results")
            return Counter(video_id for (video_id,) in cur.fetchall())
    finally:
        conn.close()


def final_states(api: httpx.Client, video_ids: list[str]) -> dict[str, str]:
    return {v: str(api.get(f"/videos/{v}").json()["state"]) for v in video_ids}


@pytest.fixture
def services(tmp_path: Path, hosts_possible: None) -> Iterator[dict[str, Any]]:
    """The machine's namespace: bridge, broker, Redis, MariaDB and the S3 store on the
    bridge's address; two worker hosts on the bridge."""
    with ExitStack() as stack:
        net = stack.enter_context(network())
        endpoint = stack.enter_context(s3_server(tmp_path, host=GATEWAY))
        s3_client(endpoint).create_bucket(Bucket=BUCKET)
        port = free_port()
        broker = start_broker(port, host=GATEWAY, log_path=tmp_path / "broker.log")
        stack.callback(stop_all, [broker], 10)
        # Clients come from the hosts' addresses: not loopback, so not protected mode.
        redis = PrivateRedis(tmp_path / "redis", host=GATEWAY, options=("--protected-mode", "no"))
        redis.root.mkdir()
        redis.start()
        stack.callback(redis.stop)
        db = PrivateMariaDB(tmp_path / "mariadb", host=GATEWAY)
        db.root.mkdir()
        db.install()
        db.start()
        stack.callback(db.stop)
        db.create_database()
        yield {
            "net": net,
            "bootstrap": f"{GATEWAY}:{port}",
            "s3": endpoint,
            "redis": redis,
            "db": db,
        }


def test_a_worker_host_cut_off_then_killed_loses_no_video(
    tmp_path: Path, services: dict[str, Any]
) -> None:
    net, bootstrap, db = services["net"], services["bootstrap"], services["db"]
    env = stack_env(
        bootstrap,
        tmp_path,
        **EMBEDDED_BROKER_ENV,
        VA_REDIS_URL=services["redis"].url,
        VA_DATABASE_URL=db.url,
        VA_UPLOAD_STORE=f"s3://{BUCKET}/interviews",
        VA_S3_ENDPOINT_URL=services["s3"],
        VA_TOPIC_PARTITIONS="4",
        VA_BROKER_SESSION_TIMEOUT_S=str(SESSION_TIMEOUT_S),
        VA_JOIN_DEADLINE_S="60",
        VA_JOIN_QUIET_S="20",
        **S3_ENV,
    )
    workers = {}
    for name in ("h1", "h2"):
        host = net.add_host(name)
        # Nothing of a host's own is shared with the other but the code and the models.
        host_env = {**env, "VA_DATA_DIR": str(tmp_path / name)}
        workers[name] = WorkerHost(host, host_env, tmp_path)
    api = Stack(bootstrap=bootstrap, root=tmp_path, env=env)
    clip = make_clip(tmp_path / "answer.mp4", duration=12.0, size=(320, 240), audio="speech")
    try:
        for worker in workers.values():
            worker.start()
        api.start_api()
        client = httpx.Client(base_url=f"http://127.0.0.1:{api.api_port}", timeout=60)
        video_ids = []
        for _ in range(VIDEOS):
            with clip.open("rb") as fh:
                answer = client.post("/analyze-video", files={"file": ("a.mp4", fh)})
            assert answer.status_code == 202, answer.text
            video_ids.append(answer.json()["video_id"])

        # Cut h1 as soon as it has split a video: the videos are in flight on both hosts.
        deadline = time.monotonic() + 240
        while "split video_id=" not in workers["h1"].log():
            assert time.monotonic() < deadline, workers["h1"].log()[-3000:] + api.logs()
            time.sleep(0.5)
        done_at_cut = sum(s in FINAL for s in final_states(client, video_ids).values())
        cut_at = time.monotonic()
        net.cut("h1")

        # h2 takes over once the group has dropped h1 (its session timeout) and given h2
        # h1's partitions; h1 is killed a while after the cut.
        h2_log_at_cut = len(workers["h2"].log())
        took_over_s = first_after_cut_s = last_after_cut_s = killed_at = None
        finished: set[str] = set()
        deadline = time.monotonic() + 300
        while True:
            since_cut = time.monotonic() - cut_at
            finished = {v for v, s in final_states(client, video_ids).items() if s in FINAL}
            if first_after_cut_s is None and len(finished) > done_at_cut:
                first_after_cut_s = since_cut
            if last_after_cut_s is None and len(finished) == VIDEOS:
                last_after_cut_s = since_cut
            if took_over_s is None and _rebalanced(workers["h2"].log()[h2_log_at_cut:]):
                took_over_s = since_cut
            if killed_at is None and since_cut >= 2 * SESSION_TIMEOUT_S:
                workers["h1"].kill()
                killed_at = since_cut
            if len(finished) == VIDEOS and killed_at is not None and took_over_s is not None:
                break
            assert time.monotonic() < deadline, (
                f"not final: {sorted(set(video_ids) - finished)}, took over: {took_over_s}\n"
                + workers["h2"].log()[-6000:]
            )
            workers["h2"].supervise()
            time.sleep(0.5)

        assert Counter(final_states(client, video_ids).values()) == {"complete": VIDEOS}
        assert stored_results(db) == dict.fromkeys(video_ids, 1)
        time.sleep(3.0)  # a result sent again, if any, is out by now
        published = [
            (key, value)
            for key, value in asyncio.run(read_all(bootstrap, api.topic(ANALYSIS_RESULTS)))
            if value is not None
        ]
        per_key: dict[str, list[dict[str, Any]]] = {}
        for key, value in published:
            per_key.setdefault(key, []).append(value)
        assert set(per_key) == set(video_ids)
        # A consumer keeps one result per video, its newest run's: complete; a result sent
        # twice is the same run's (a video the join healed has run 1, published once).
        for key, values in per_key.items():
            newest = max(v["run"] for v in values)
            kept = [v for v in values if v["run"] == newest]
            assert {v["status"] for v in kept} == {"complete"}, (key, values)
            assert all(v["status"] == "complete" for v in values), (key, values)
        duplicates = len(published) - VIDEOS
        heals = workers["h2"].log().count("published again as run")
        stalls = workers["h2"].log().count("no message taken for")
        # Both hosts had work: h1 split some of the videos before it was cut off.
        split_by = {name: worker.log().count("split video_id=") for name, worker in workers.items()}
        assert split_by["h1"] >= 1 and split_by["h2"] >= 1, split_by
        print(
            json.dumps(
                {
                    "videos": VIDEOS,
                    "final_before_cut": done_at_cut,
                    "split_before_cut_by_h1": split_by["h1"],
                    "split_by_h2": split_by["h2"],
                    "cut_host": "h1",
                    "killed_host": f"h1, {killed_at:.0f}s after the cut",
                    "took_over_s": round(took_over_s, 1),
                    "first_final_after_cut_s": first_after_cut_s and round(first_after_cut_s, 1),
                    "last_final_after_cut_s": round(last_after_cut_s or 0.0, 1),
                    "results_on_topic": len(published),
                    "duplicates": duplicates,
                    "stored_per_video": 1,
                    "h2_restarts": workers["h2"].restarts,
                    "h2_stalled_partitions_read_again": stalls,
                    "heals": heals,
                }
            )
        )
    finally:
        for worker in workers.values():
            worker.stop()
        api.stop()


def _rebalanced(log: str) -> bool:
    """Whether ``log`` (a worker's, since the cut) shows a new assignment taken up: Faust's
    "Worker ready" after partitions were assigned."""
    assigned = log.find("_on_partitions_assigned")
    return assigned >= 0 and "Worker ready" in log[assigned:]
