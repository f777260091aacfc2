"""``video-analysis dev`` run for tests and the soak script: its environment, start and stop,
its worker processes, and the 20-video / 5-kill soak run (``soak_once``), which the e2e test
runs once and ``benchmarks/soak.py`` runs many times in a row."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.media_factory import make_clip
from video_analysis.streams.embedded import free_port


def children_with(marker: str) -> list[int]:
    """PIDs of processes whose command line holds ``marker`` (NUL-separated arguments)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def start_dev(
    env: dict[str, str], log_path: Path, base: str
) -> tuple[subprocess.Popen[bytes], httpx.Client]:
    """``video-analysis dev`` in the background, once its API is ready; a client with the key
    it printed for the run."""
    log = log_path.open("wb")
    dev = subprocess.Popen(
        [sys.executable, "-m", "video_analysis", "dev"], env=env, stdout=log, stderr=log
    )
    deadline = time.monotonic() + 120
    while True:
        text = log_path.read_text(errors="replace")
        if dev.poll() is not None or time.monotonic() > deadline:
            dev.kill()
            raise AssertionError(f"dev did not come up:\n{text[-4000:]}")
        found = re.search(r"API key for this run \(all scopes\): (va_\S+)", text)
        try:
            if found and httpx.get(f"{base}/health/ready", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(1)
    return dev, httpx.Client(headers={"X-API-Key": found.group(1)}, timeout=60)


def stop_dev(dev: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as a user stops it; killed if it does not stop within a minute."""
    dev.send_signal(signal.SIGINT)
    try:
        dev.wait(timeout=60)
    finally:
        if dev.poll() is None:
            dev.kill()


def delivery_env(tmp_path: Path) -> tuple[dict[str, str], int, int]:
    """The environment of a ``dev`` run about delivery, not models (the light analyzer only:
    restarts of a role holding TensorFlow take a minute each here); its API and broker ports."""
    api_port, broker_port, web_base = free_port(), free_port(), free_ports(20)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VA_")},
        "VA_DEV_BROKER_PORT": str(broker_port),
        "VA_API_PORT": str(api_port),
        "VA_DEV_WEB_PORT_BASE": str(web_base),
        "VA_DEV_METRICS_PORT_BASE": str(web_base + 10),
        "VA_DATA_DIR": str(tmp_path / "var"),
        "VA_UPLOAD_ROOT": str(tmp_path / "var" / "uploads"),
        "VA_MODELS_DIR": str(Path("var/models").resolve()),
        "VA_TOPIC_PARTITIONS": "2",
        "VA_BROKER_SESSION_TIMEOUT_S": "6",
        # A worker that lost a partition (faust-streaming #629) stops itself after this long.
        "VA_WORKER_STALL_S": "45",
        "VA_FRAME_ANALYZERS": "quality",
        "VA_AUDIO_ANALYZERS": "quality",
    }
    return env, api_port, broker_port


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free ports (dev numbers its roles' ports from a base)."""
    import socket

    for _ in range(50):
        base = free_port()
        if base + count > 65535:
            continue
        try:
            for port in range(base, base + count):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError(f"no {count} consecutive free ports")


def role_pid(parent: int, role: str) -> int | None:
    """The PID of ``dev``'s worker process for ``role`` (a child of ``parent``), if running."""
    marker = f"--role{chr(0)}{role}{chr(0)}"
    for pid in children_with(marker):
        if parent_of(pid) == parent:
            return pid
    return None


def parent_of(pid: int) -> int:
    """The parent PID of ``pid`` (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    # Field 4 is the parent's PID; the command name (field 2) may hold spaces.
    return int(stat.rsplit(")", 1)[1].split()[1])


#: The roles a soak run kills, one at a time.
KILLED_ROLES = ("splitter", "quality", "join")
FINAL_STATES = ("complete", "partial", "failed")


@dataclass
class SoakRun:
    """What one soak run saw."""

    seed: int
    kills: list[str] = field(default_factory=list)
    videos: int = 0
    complete: int = 0
    #: Videos not final when the run gave up waiting.
    unfinished: list[str] = field(default_factory=list)
    #: Workers ``dev`` started again (killed, or stopped by their watchdog).
    restarts: int = 0
    #: Partitions a worker found stalled (taking no message while messages waited) and read
    #: again from its committed offset.
    stalls: int = 0
    #: Results on ``analysis-results`` (a video's result sent again counts twice).
    on_topic: int = 0
    #: Videos without a result on ``analysis-results``.
    missing_on_topic: int = 0
    #: Rows in the result store (one per video expected).
    stored: int = 0
    #: Whether the store holds exactly one row for each video.
    stored_once: bool = False
    #: Stuck videos the join published again as their next run.
    heals: int = 0
    seconds: float = 0.0
    #: Where the unfinished videos' messages were, against the join's offsets.
    diagnosis: str = ""

    @property
    def duplicates(self) -> int:
        return self.on_topic - (self.videos - self.missing_on_topic)


def soak_once(root: Path, seed: int | None = None, wait_s: float = 420.0) -> SoakRun:
    """Issue 10's fault run under ``dev``, from a cold start in ``root``: 20 uploads in five
    rounds of four, a random role SIGKILLed after each round; then wait up to ``wait_s`` for
    every video to be final, and count what came out."""
    from tests.stack import read_all, where_are

    root.mkdir(parents=True, exist_ok=True)
    seed = random.randrange(1_000_000) if seed is None else seed
    rng = random.Random(seed)
    run = SoakRun(seed=seed)
    env, api_port, broker_port = delivery_env(root)
    env.update(VA_JOIN_DEADLINE_S="90", VA_JOIN_QUIET_S="30")
    base = f"http://127.0.0.1:{api_port}"
    log_path = root / "dev.log"
    clip = make_clip(root / "answer.mp4", duration=6.0, audio="speech", fps=25)
    started = time.monotonic()
    dev, http = start_dev(env, log_path, base)
    try:
        videos: list[str] = []
        for _round in range(5):
            for _ in range(4):
                with clip.open("rb") as fh:
                    answer = http.post(f"{base}/analyze-video", files={"file": ("a.mp4", fh)})
                if answer.status_code != 202:
                    raise AssertionError(f"upload refused: {answer.status_code} {answer.text}")
                videos.append(answer.json()["video_id"])
            role = rng.choice(KILLED_ROLES)
            deadline = time.monotonic() + 60
            while (pid := role_pid(dev.pid, role)) is None:  # back from an earlier kill
                if time.monotonic() > deadline:
                    raise AssertionError(log_path.read_text(errors="replace")[-4000:])
                time.sleep(0.5)
            time.sleep(rng.uniform(0.5, 3.0))
            os.kill(pid, signal.SIGKILL)
            run.kills.append(role)
        run.videos = len(videos)

        def state(video_id: str) -> str:
            return str(http.get(f"{base}/videos/{video_id}").json()["state"])

        deadline = time.monotonic() + wait_s
        pending = set(videos)
        while pending and time.monotonic() < deadline:
            pending = {v for v in pending if state(v) not in FINAL_STATES}
            time.sleep(1)
        run.unfinished = sorted(pending)
        if pending:
            where = asyncio.run(
                where_are(
                    f"127.0.0.1:{broker_port}",
                    "video-analysis-join",
                    ["video-manifests", "analyzer-results"],
                    pending,
                )
            )
            statuses = {v[:8]: http.get(f"{base}/videos/{v}").json() for v in pending}
            run.diagnosis = f"join offsets: {where}\nstatuses: {statuses}"
        states = Counter(state(v) for v in videos)
        run.complete = states.get("complete", 0)
        time.sleep(3.0)  # a result sent again, if any, is out by now
        on_topic = Counter(
            key
            for key, value in asyncio.run(read_all(f"127.0.0.1:{broker_port}", "analysis-results"))
            if value is not None and key in videos
        )
        run.on_topic = sum(on_topic.values())
        run.missing_on_topic = len(set(videos) - set(on_topic))
        with sqlite3.connect(root / "var" / "results.sqlite3") as db:
            rows = db.execute("SELECT video_id FROM analysis_results").fetchall()
        run.stored = len(rows)
        run.stored_once = Counter(v for (v,) in rows) == dict.fromkeys(videos, 1)
        log = log_path.read_text(errors="replace")
        run.restarts = len(re.findall(r"restarted \(restart", log))
        run.stalls = log.count("no message taken for")
        run.heals = len(re.findall(r"stuck \(.*\): published again as run", log))
    finally:
        stop_dev(dev)
        run.seconds = time.monotonic() - started
    return run
