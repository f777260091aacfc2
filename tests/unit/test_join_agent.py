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
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
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
from video_analysis.join import JoinState
from video_analysis.schemas import (
    JoinDeadline,
    JoinDelete,
    PartialResult,
    VideoState,
    VideoStatus,
    VideoUploaded,
)
from video_analysis.settings import Settings
from video_analysis.streams import join_agent
from video_analysis.streams.names import JOIN_TABLE, PARTS_TABLE
from video_analysis.streams.tables import PACKED, unpacked
from video_analysis.streams.topics import (
    ALL_TOPICS,
    ANALYSIS_RESULTS,
    ANALYZER_RESULTS,
    DLQ,
    VIDEO_UPLOADED,
)
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


@asynccontextmanager
async def running_join(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **settings_fields: Any
) -> AsyncIterator[tuple[Any, dict[str, RecordedTopic], Services]]:
    """The join agent in Faust's test context, its sends recorded."""

    async def acknowledged(*tables: Any) -> None:
        for table in tables:
            table.take_unacked()

    monkeypatch.setattr(join_agent, "wait_acked", acknowledged)
    settings = Settings(
        environment="test",
        data_dir=tmp_path / "data",
        upload_root=tmp_path / "uploads",
        **settings_fields,
    )
    app = faust.App("join-test", broker="kafka://127.0.0.1:1", store="memory://")
    topics = {name: RecordedTopic() for name in ALL_TOPICS}
    services = Services(settings)
    agent = join_agent.add_join(Wiring(app, settings, services, topics, "join"))
    async with agent.test_context() as running:
        yield running, topics, services
    await services.close()


@pytest.fixture
async def join(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Any, dict[str, RecordedTopic], Services]]:
    async with running_join(tmp_path, monkeypatch) as running:
        yield running


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


#: A join that judges a video stuck as soon as it is asked, and heals it once.
QUICK_HEAL = {
    "join_deadline_s": 0.01,
    "join_seconds_per_media_s": 0.0,
    "join_quiet_s": 0.01,
    "join_heal_runs": 1,
}


def keep_upload(services: Services, video_id: str) -> VideoUploaded:
    """An upload under the upload root with its kept event, as the API leaves them."""
    clip = services.settings.upload_root / video_id / "clip.mp4"
    clip.parent.mkdir(parents=True, exist_ok=True)
    clip.write_bytes(b"not decoded here")
    event = VideoUploaded(video_id=video_id, uri=str(clip))
    services.sources.keep_event(event)
    return event


async def test_a_video_whose_manifest_was_lost_is_published_again_as_its_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lost-manifest case: parts in, then nothing. The join publishes the kept event again
    as run 1 (status queued, run 1); run 1 completes; run 0's late manifest changes nothing.
    Lost again after that (heal_runs 1), a video fails with split_incomplete."""
    async with running_join(tmp_path, monkeypatch, **QUICK_HEAL) as (agent, topics, services):
        event = keep_upload(services, "v1")
        await put(agent, "v1", frame_part(0, 120))
        await asyncio.sleep(0.05)
        await put(agent, "v1", JoinDeadline(video_id="v1"))

        async def published() -> list[tuple[str | None, bytes | None]]:
            return topics[VIDEO_UPLOADED].sent

        ((key, value),) = await until(published)
        assert key == "v1" and value is not None
        again = VideoUploaded.model_validate_json(value)
        assert again.run == 1 and again.uri == event.uri
        status = await (await services.status()).get_status("v1")
        assert status is not None and (status.state, status.run) == (VideoState.QUEUED, 1)

        await put(agent, "v1", manifest())  # run 0's, late: ignored
        for item in (manifest(run=1), frame_part(0, 120), frame_part(1, 130), audio_part()):
            if isinstance(item, PartialResult):
                item = item.model_copy(update={"run": 1})
            await put(agent, "v1", item)

        async def announced() -> list[tuple[str | None, bytes | None]]:
            return topics[ANALYSIS_RESULTS].sent

        ((key, value),) = await until(announced)
        assert value is not None
        result = json.loads(value)
        assert (result["status"], result["run"]) == ("complete", 1)

        # Run 1 of another video loses its manifest too: given up, failed with a code.
        keep_upload(services, "v2")
        for run in (0, 1):
            await put(
                agent, "v2", frame_part(0, 120).model_copy(update={"video_id": "v2", "run": run})
            )
            await asyncio.sleep(0.05)
            await put(agent, "v2", JoinDeadline(video_id="v2"))
            await until(lambda run=run: _sent_count(topics[VIDEO_UPLOADED], "v2", 1))

        async def failed() -> Any:
            return (await (await services.results()).get_result("v2")) or None

        stored = await until(failed)
        assert stored.status == "failed" and stored.run == 1
        assert stored.error is not None and stored.error.code == "split_incomplete"
        assert "in 2 runs" in stored.error.message
        assert len([k for k, _ in topics[VIDEO_UPLOADED].sent if k == "v2"]) == 1


async def _sent_count(topic: RecordedTopic, key: str, least: int) -> bool:
    return len([k for k, _ in topic.sent if k == key]) >= least


async def test_a_stuck_video_whose_upload_is_gone_is_given_up_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing to analyse again (retention removed the upload, or the platform keeps its own
    videos): the stuck video gets its partial result now, without a new run."""
    async with running_join(tmp_path, monkeypatch, **QUICK_HEAL) as (agent, topics, services):
        await put(agent, "v1", manifest())
        await put(agent, "v1", frame_part(0, 120))
        await asyncio.sleep(0.05)
        await put(agent, "v1", JoinDeadline(video_id="v1"))

        async def announced() -> list[tuple[str | None, bytes | None]]:
            return topics[ANALYSIS_RESULTS].sent

        ((_key, value),) = await until(announced)
        assert value is not None and json.loads(value)["status"] == "partial"
        assert topics[VIDEO_UPLOADED].sent == []


async def test_the_sweep_asks_the_join_about_quiet_videos_in_flight_it_follows_no_run_of(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upload whose event never reached the splitter leaves only its status (queued): the
    sweep sends the join a deadline with the run in flight, and the join starts following
    that run (to heal it once it is stuck). A video the join follows, or one in flight only
    since a moment ago, is not asked about."""
    patient = {"join_deadline_s": 30.0, "join_quiet_s": 10.0}
    async with running_join(tmp_path, monkeypatch, **patient) as (agent, topics, services):
        status = await services.status()
        long_ago = datetime.now(UTC) - timedelta(hours=1)
        for video_id, run in (("lost", 0), ("reprocessed", 2), ("followed", 0)):
            await status.set_status(
                VideoStatus(
                    video_id=video_id, state=VideoState.QUEUED, run=run, updated_at=long_ago
                )
            )
        await status.set_status(VideoStatus(video_id="fresh", state=VideoState.PROCESSING))
        # The join follows run 0 of "followed", and finished run 0 of "reprocessed" (whose
        # run 2, claimed by a reprocess, never came).
        await put(agent, "followed", frame_part(0, 120).model_copy(update={"video_id": "followed"}))
        for item in (manifest(), frame_part(0, 120), frame_part(1, 130), audio_part()):
            await put(agent, "reprocessed", item.model_copy(update={"video_id": "reprocessed"}))
        join = join_agent.Join(
            Wiring(agent.app, services.settings, services, topics, "join"),  # type: ignore[arg-type]
            agent.app.tables[JOIN_TABLE],
            agent.app.tables[PARTS_TABLE],
        )

        async def both_held() -> bool:
            return join.state_table.get("followed") is not None and bool(
                topics[ANALYSIS_RESULTS].sent
            )

        await until(both_held)
        asked = await join_agent.sweep(join)
        assert sorted(asked) == ["lost", "reprocessed"]
        deadlines = {key: json.loads(value or b"") for key, value in topics[ANALYZER_RESULTS].sent}
        assert deadlines["lost"]["kind"] == "deadline" and deadlines["lost"]["run"] == 0
        assert deadlines["reprocessed"]["run"] == 2

        # The deadline opens the run in flight in the join, which from then on follows it.
        await agent.put(key=b"lost", value=topics[ANALYZER_RESULTS].sent[0][1])

        async def followed() -> Any:
            return join.state_table.get("lost")

        state = JoinState.model_validate(await until(followed))
        assert (state.run, state.received, state.finalized) == (0, [], False)
        assert await join_agent.sweep(join) == ["reprocessed"]
