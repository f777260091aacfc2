"""Running the real service for integration and e2e tests: broker, workers, API as processes."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from video_analysis.streams.embedded import (
    EMBEDDED_BROKER_ENV,
    free_port,
    port_open,
    start_broker,
)
from video_analysis.streams.watchdog import STALL_EXIT_CODE
from video_analysis.supervise import stop_all

MYSQL_URL = os.environ.get("VA_TEST_MYSQL_URL", "mysql://root:@127.0.0.1:3306")
REDIS_URL = os.environ.get("VA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@contextmanager
def embedded_broker(log_dir: Path) -> Iterator[str]:
    port = free_port()
    process = start_broker(port, log_path=log_dir / "broker.log")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        stop_all([process], timeout_s=10)


@dataclass
class Stack:
    """One deployment: its own topics (prefix), data dir, upload root and store."""

    bootstrap: str
    root: Path
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    api_port: int | None = None
    #: Each worker's role and arguments by name, to start it again as a supervisor would.
    workers: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)

    @property
    def upload_root(self) -> Path:
        return Path(self.env["VA_UPLOAD_ROOT"])

    def topic(self, name: str) -> str:
        return self.env["VA_TOPIC_PREFIX"] + name

    def start_worker(
        self, role: str, name: str | None = None, *args: str
    ) -> subprocess.Popen[bytes]:
        name = name or role
        self.workers[name] = (role, args)
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, "-m", "video_analysis", "worker", "--role", role, *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes[name] = process
        return process

    def restart_stalled(self) -> list[str]:
        """Start again each worker that stopped itself over a stalled partition (exit 75).

        What ``dev`` and compose (``restart: unless-stopped``) do: the watchdog's exit is a
        request to rejoin the group (faust-streaming #629), not a crash. Any other exit stays
        dead, for the test to see.
        """
        restarted = []
        for name, process in list(self.processes.items()):
            if name in self.workers and process.poll() == STALL_EXIT_CODE:
                role, args = self.workers[name]
                self.start_worker(role, name, *args)
                restarted.append(name)
        return restarted

    def start_api(self) -> None:
        self.api_port = free_port()
        log = open(self.root / "api.log", "ab")  # noqa: SIM115
        self.processes["api"] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "video_analysis",
                "api",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.api_port),
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while not port_open("127.0.0.1", self.api_port):
            if time.monotonic() > deadline or self.processes["api"].poll() is not None:
                raise RuntimeError("API did not start:\n" + self.log("api"))
            time.sleep(0.2)

    def place(self, source: Path, video_id: str) -> Path:
        """Copy ``source`` under the upload root, where the splitter may read it."""
        target = self.upload_root / video_id / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        return target

    def submit(self, source: Path, video_id: str, *, uri_prefix: str = "") -> None:
        """Place ``source`` and publish its ``VideoUploaded`` event as the platform would."""
        path = self.place(source, video_id)
        self.publish_upload(video_id, f"{uri_prefix}{path}")

    def publish_upload(self, video_id: str, uri: str) -> None:
        """Publish a ``VideoUploaded`` event naming ``uri`` (a path, s3:// or https://)."""
        event = upload_event(video_id, uri)
        asyncio.run(publish(self.bootstrap, self.topic("video-uploaded"), video_id, event))

    def results(self, video_ids: set[str], timeout_s: float) -> dict[str, dict[str, Any]]:
        """The final result of each video, waited for on ``analysis-results``."""
        topic = self.topic("analysis-results")
        return asyncio.run(wait_for_results(self.bootstrap, topic, video_ids, timeout_s, self))

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace")[-6000:] if path.exists() else ""

    def logs(self, lines: int = 30) -> str:
        """The last ``lines`` of every process's log, the most recently written first.

        Short on purpose: CI shows a failure's message whole only when it is small.
        """
        paths = sorted(self.root.glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True)
        return "\n".join(
            f"----- {p.name}\n" + "\n".join(self.log(p.stem).splitlines()[-lines:]) for p in paths
        )


def upload_event(video_id: str, uri: str) -> dict[str, Any]:
    """A ``VideoUploaded`` event as the platform would publish it."""
    return {
        "schema_version": 1,
        "video_id": video_id,
        "uri": uri,
        "metadata": {"interview_id": "iv-1", "applicant_id": "ap-7"},
    }


def stack_env(bootstrap: str, root: Path, **overrides: str) -> dict[str, str]:
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    env = {
        **os.environ,
        **EMBEDDED_BROKER_ENV,
        "VA_BROKER_URL": f"kafka://{bootstrap}",
        "VA_TOPIC_PREFIX": prefix,
        "VA_DATA_DIR": str(root / "data"),
        "VA_UPLOAD_ROOT": str(root / "uploads"),
        "VA_MODELS_DIR": os.environ.get("VA_MODELS_DIR", str(Path("var/models").resolve())),
        "VA_TOPIC_PARTITIONS": "2",
        "VA_BROKER_SESSION_TIMEOUT_S": "10",
        "VA_JOIN_CHECK_INTERVAL_S": "1",
        # A stalled partition (faust-streaming #629) costs a test this long before the worker
        # reads it again (twice this before it stops itself, for ``Stack.restart_stalled``).
        "VA_WORKER_STALL_S": "30",
        "VA_LOG_LEVEL": "INFO",
        # The spine's tests need only the light analyzer; the vision e2e test enables the rest.
        "VA_FRAME_ANALYZERS": "quality",
        "VA_AUDIO_ANALYZERS": "quality",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(overrides)
    (root / "uploads").mkdir(parents=True, exist_ok=True)
    return env


async def publish(bootstrap: str, topic: str, key: str, value: bytes | dict[str, Any]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        payload = value if isinstance(value, bytes) else json.dumps(value).encode()
        await producer.send_and_wait(topic, payload, key=key.encode())
    finally:
        await producer.stop()


async def _assigned_consumer(bootstrap: str, topic: str) -> AIOKafkaConsumer | None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    partitions = consumer.partitions_for_topic(topic) or set()
    if not partitions:
        await _stop(consumer)
        return None
    tps = [TopicPartition(topic, p) for p in partitions]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    return consumer


async def _stop(consumer: AIOKafkaConsumer) -> None:
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        # aiokafka cancels its internal committed-offsets task on stop and, when stop comes
        # right after start, lets that CancelledError escape. Nothing is lost here.
        pass


async def _read_to_end(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition]
) -> tuple[list[Any], dict[TopicPartition, int]]:
    """Every record of ``tps`` from the consumer's position up to their end offsets now, and
    those end offsets."""
    ends = await consumer.end_offsets(tps)
    records: list[Any] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if all([await consumer.position(tp) >= ends[tp] for tp in tps]):
            break
        for messages in (await consumer.getmany(timeout_ms=500)).values():
            records.extend(messages)
    return records, ends


async def read_all(bootstrap: str, topic: str) -> list[tuple[str, Any]]:
    """Every message on ``topic`` from the beginning, as (key, JSON value); a tombstone's
    value is None."""
    consumer = await _assigned_consumer(bootstrap, topic)
    if consumer is None:
        return []
    try:
        return [
            (m.key.decode() if m.key else "", None if m.value is None else json.loads(m.value))
            for m in (await _read_to_end(consumer, list(consumer.assignment())))[0]
        ]
    finally:
        await _stop(consumer)


async def where_are(
    bootstrap: str, group: str, topics: list[str], keys: set[str]
) -> dict[str, Any]:
    """For a failure message: each partition of ``topics`` with the ``group``'s committed
    offset, its end offset and the offsets of the messages keyed with one of ``keys``."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        found: dict[TopicPartition, list[tuple[int, str]]] = {tp: [] for tp in tps}
        records, ends = await _read_to_end(consumer, tps)
        for m in records:
            key = m.key.decode() if m.key else ""
            if key in keys:
                found[TopicPartition(m.topic, m.partition)].append((m.offset, key[:8]))
        return {
            f"{tp.topic}[{tp.partition}]": {
                "committed": await consumer.committed(tp),
                "end": ends[tp],
                "pending_at": found[tp],
            }
            for tp in tps
        }
    finally:
        await _stop(consumer)


async def commit_past(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """Commit ``group``'s offsets on every partition of ``topic`` at its end, as if its
    consumer had processed what is there (while none of its members runs): what a consumer
    that commits past messages it never handled leaves. The offsets committed, by
    partition."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.commit({tp: ends[tp] for tp in tps})
        return {tp.partition: await consumer.committed(tp) or 0 for tp in tps}
    finally:
        await _stop(consumer)


async def wait_for_results(
    bootstrap: str, topic: str, video_ids: set[str], timeout_s: float, stack: Stack | None = None
) -> dict[str, dict[str, Any]]:
    """Read ``topic`` from the beginning until a result for each of ``video_ids`` arrived."""
    deadline = time.monotonic() + timeout_s
    found: dict[str, dict[str, Any]] = {}
    consumer = None
    try:
        while time.monotonic() < deadline:
            if consumer is None:
                consumer = await _assigned_consumer(bootstrap, topic)
            if consumer is not None:
                batches = await consumer.getmany(timeout_ms=1000)
                for messages in batches.values():
                    for m in messages:
                        key = m.key.decode() if m.key else ""
                        if key in video_ids and m.value is not None:
                            found[key] = json.loads(m.value)
            else:
                await asyncio.sleep(1.0)
            if video_ids <= found.keys():
                return found
            if stack is not None:
                stack.restart_stalled()
                dead = [n for n, p in stack.processes.items() if p.poll() is not None]
                if dead:
                    raise AssertionError(f"processes died: {dead}\n{stack.logs()}")
    finally:
        if consumer is not None:
            await _stop(consumer)
    detail = stack.logs() if stack else ""
    raise AssertionError(f"no result for {video_ids - found.keys()} in {timeout_s}s\n{detail}")
