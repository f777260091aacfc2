"""The join agent as Faust runs it (``agent.test_context()``): manifests and parts in, the
result stored, its status final and one message on ``analysis-results`` out; malformed input
to the DLQ; a late part ignored; a delete leaves a tombstone. And the agents' way out
(``Wiring.send``) through a broker's passing failures.

The topics it writes to are recorded instead of sent, and the wait for the tables' changelog
acknowledgements (which needs a broker; the e2e tests cover it) is skipped.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import faust
import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    UnknownError,
)
from faust.exceptions import ProducerSendError

from tests.unit.test_assemble import audio_part, frame_part, manifest
from video_analysis.schemas import JoinDelete, PartialResult, VideoState
from video_analysis.settings import Settings
from video_analysis.streams import join_agent
from video_analysis.streams.names import PARTS_TABLE
from video_analysis.streams.tables import PACKED, unpacked
from video_analysis.streams.topics import ALL_TOPICS, ANALYSIS_RESULTS, DLQ
from video_analysis.streams.wiring import Services, Wiring


class RecordedTopic:
    """A topic whose sends are kept in a list (and acknowledged at once)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str | None, bytes | None]] = []

    async def send(self, *, key: bytes | None, value: bytes | None) -> asyncio.Future[None]:
        self.sent.append((key.decode() if key else None, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


@pytest.fixture
async def join(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Any, dict[str, RecordedTopic], Services]]:
    async def acknowledged(*tables: Any) -> None:
        for table in tables:
            table.take_unacked()

    monkeypatch.setattr(join_agent, "wait_acked", acknowledged)
    settings = Settings(
        environment="test", data_dir=tmp_path / "data", upload_root=tmp_path / "uploads"
    )
    app = faust.App("join-test", broker="kafka://127.0.0.1:1", store="memory://")
    topics = {name: RecordedTopic() for name in ALL_TOPICS}
    services = Services(settings)
    agent = join_agent.add_join(Wiring(app, settings, services, topics, "join"))
    async with agent.test_context() as running:
        yield running, topics, services
    await services.close()


async def until(check: Callable[[], Any], timeout_s: float = 10.0) -> Any:
    """``check()`` once it is truthy (the agent handles a message after ``put`` returns)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not (outcome := await check()):
        assert asyncio.get_running_loop().time() < deadline, "the join did not get there"
        await asyncio.sleep(0.02)
    return outcome


async def put(agent: Any, key: str, message: Any) -> None:
    await agent.put(key=key.encode(), value=message.model_dump_json().encode())


async def test_a_video_whose_parts_all_arrive_is_stored_final_and_announced(
    join: tuple[Any, dict[str, RecordedTopic], Services],
) -> None:
    agent, topics, services = join
    await put(agent, "v1", manifest())
    for part in (frame_part(0, 120), audio_part(), frame_part(1, 130)):
        await put(agent, "v1", part)

    async def announced() -> list[tuple[str | None, bytes | None]]:
        return topics[ANALYSIS_RESULTS].sent

    ((key, value),) = await until(announced)
    assert key == "v1" and value is not None
    message = json.loads(value)
    assert message["status"] == "complete" and message["video_id"] == "v1"
    stored = await (await services.results()).get_result("v1")
    assert stored is not None and stored.status == "complete"
    status = await (await services.status()).get_status("v1")
    assert status is not None and status.state is VideoState.COMPLETE and status.progress == 1.0

    # A part delivered again after the result changes nothing and sends nothing.
    await put(agent, "v1", audio_part())
    await put(agent, "v1", frame_part(0, 120))
    assert len(topics[ANALYSIS_RESULTS].sent) == 1 and topics[DLQ].sent == []


async def test_malformed_input_goes_to_the_dlq_and_a_delete_leaves_a_tombstone(
    join: tuple[Any, dict[str, RecordedTopic], Services],
) -> None:
    agent, topics, services = join
    await agent.put(key=b"v2", value=b'{"kind": "nonsense"}')
    await put(agent, "v1", manifest())
    await put(agent, "v1", frame_part(0, 120))

    async def rejected() -> list[tuple[str | None, bytes | None]]:
        return topics[DLQ].sent

    ((key, record),) = await until(rejected)
    assert key == "v2" and record is not None
    assert json.loads(record)["error"]["code"] == "invalid_event"

    await put(agent, "v1", JoinDelete(video_id="v1"))
    await put(agent, "v1", audio_part())  # late: the video is gone

    async def tombstone() -> bool:
        return (("v1", None) in topics[ANALYSIS_RESULTS].sent) and (
            await (await services.status()).get_status("v1")
        ) is not None

    await until(tombstone)
    assert topics[ANALYSIS_RESULTS].sent == [("v1", None)]
    status = await (await services.status()).get_status("v1")
    assert status is not None and status.state is VideoState.DELETED


async def test_parts_wait_compressed_in_the_table_and_parts_kept_before_as_json_still_read(
    join: tuple[Any, dict[str, RecordedTopic], Services],
) -> None:
    """An hour's parts are about 32 MiB of JSON: the table holds them zstd-compressed. A part
    its changelog holds from before (the part's JSON text, or the part as a dict) is still
    read."""
    agent, _topics, _services = join
    part = frame_part(0, 120)
    await put(agent, "v1", manifest())
    await put(agent, "v1", part)
    table = agent.app.tables[PARTS_TABLE]

    async def kept() -> Any:
        return table.get("v1|" + part.part_key)

    value = await until(kept)
    assert isinstance(value, str) and value.startswith(PACKED)
    assert len(value) < len(part.model_dump_json())
    assert PartialResult.model_validate_json(unpacked(value)) == part
    assert unpacked(part.model_dump_json()) == part.model_dump_json()
    assert unpacked(part.model_dump(mode="json")) == part.model_dump(mode="json")


class FailingTopic(RecordedTopic):
    """A topic whose first sends the broker fails with ``errors`` (one each), then takes."""

    def __init__(self, *errors: Exception) -> None:
        super().__init__()
        self.errors = list(errors)

    async def send(self, *, key: bytes | None, value: bytes | None) -> asyncio.Future[None]:
        if not self.errors:
            return await super().send(key=key, value=value)
        failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        failed.set_exception(ProducerSendError("send failed"))
        failed.exception().__cause__ = self.errors.pop(0)  # type: ignore[union-attr]
        return failed


async def test_a_send_the_broker_fails_for_a_passing_reason_is_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker restarted empty answers UnknownError for a topic it lost until the topics are
    created again; a lost connection or a moving leader pass too. Such a send waits and is
    tried again (the message being handled stays uncommitted) instead of crashing the agent;
    a message the broker refuses for itself still raises at once."""
    monkeypatch.setattr("video_analysis.streams.wiring.RETRY_MIN_S", 0.01)
    settings = Settings(environment="test", data_dir=tmp_path / "data")
    app = faust.App("send-test", broker="kafka://127.0.0.1:1", store="memory://")
    passing = FailingTopic(UnknownError(), KafkaConnectionError(), NotLeaderForPartitionError())
    refused = FailingTopic(MessageSizeTooLargeError())
    wiring = Wiring(
        app, settings, Services(settings), {"passing": passing, "refused": refused}, "splitter"
    )
    await wiring.send("passing", "v1", b"part")
    assert passing.sent == [("v1", b"part")] and passing.errors == []
    with pytest.raises(ProducerSendError):
        await wiring.send("refused", "v1", b"x" * 10)
    assert refused.sent == []
    await wiring.services.close()
