"""A consumer stopped in its group's first generation leaves the group on the embedded broker
(``streams/membership.py``): the consumer that replaces it gets the partitions as soon as the
broker completes a join, not after the old member's session timed out.

The embedded broker completes every join half a session timeout after it began (10 s here,
for the first consumer too); without the fix, the replacement waited for the old member's
session (20 s) and then for its own join: 30 s and more."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.stack import embedded_broker
from video_analysis.streams.membership import leave_in_first_generation

pytestmark = pytest.mark.integration

#: Long, so that waiting for it is told apart from leaving at once.
SESSION_TIMEOUT_S = 20


@pytest.fixture(scope="module")
def bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with embedded_broker(tmp_path_factory.mktemp("broker")) as address:
        yield address


def consumer(bootstrap: str, group: str, topic: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=SESSION_TIMEOUT_S * 1000,
        heartbeat_interval_ms=1000,
        request_timeout_ms=(SESSION_TIMEOUT_S + 20) * 1000,
    )


async def assigned_within(member: AIOKafkaConsumer, timeout_s: float) -> float | None:
    """Seconds until ``member`` holds a partition, or None after ``timeout_s``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        await member.getmany(timeout_ms=200)
        if member.assignment():
            return time.monotonic() - started
    return None


async def test_a_consumer_stopped_in_the_first_generation_hands_its_partitions_on_at_once(
    bootstrap: str, tmp_path: Path
) -> None:
    leave_in_first_generation()
    topic, group = f"m{uuid.uuid4().hex[:8]}", f"g{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    await producer.send_and_wait(topic, b"x")  # creates the topic
    await producer.stop()

    first = consumer(bootstrap, group, topic)
    await first.start()
    assert await assigned_within(first, 30) is not None
    assert first._coordinator.generation == 0  # noqa: SLF001 - the broker's first generation
    await first.stop()

    started = time.monotonic()
    second = consumer(bootstrap, group, topic)
    await second.start()
    try:
        assigned = await assigned_within(second, SESSION_TIMEOUT_S)
    finally:
        await asyncio.shield(second.stop())
    waited = time.monotonic() - started if assigned is not None else None
    print(f"the replacement held the partition {waited}s after it started")
    assert waited is not None and waited < SESSION_TIMEOUT_S, (
        "the first consumer never left: its session had to time out"
    )
