"""``reprocess``: a stored video published again as a new run, its result kept meanwhile;
and the refusals (unknown, in flight, deleted, upload gone)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from video_analysis.assemble import failed_result
from video_analysis.errors import BrokerUnavailable, NotReprocessable, UnknownVideo
from video_analysis.reprocess import reprocess_video
from video_analysis.schemas import ErrorInfo, VideoState, VideoStatus, VideoUploaded
from video_analysis.settings import Settings
from video_analysis.store import EmbeddedStatusStore, Sources, SQLiteResultStore


class Recorder:
    def __init__(self) -> None:
        self.published: list[VideoUploaded] = []
        self.down = False

    async def publish_upload(self, event: VideoUploaded) -> None:
        if self.down:
            raise ConnectionError("broker down")
        self.published.append(event)


@dataclass
class Here:
    sources: Sources
    status: EmbeddedStatusStore
    results: SQLiteResultStore
    publisher: Recorder

    def keep(self, video_id: str) -> VideoUploaded:
        local = self.sources.uploads.root / video_id / "a.mp4"
        local.parent.mkdir(parents=True)
        local.write_bytes(b"video")
        event = VideoUploaded(video_id=video_id, uri=self.sources.keep_upload(video_id, local))
        self.sources.keep_event(event)
        return event

    async def reprocess(self, video_id: str) -> object:
        return await reprocess_video(
            video_id,
            status=self.status,
            results=self.results,
            sources=self.sources,
            publisher=self.publisher,
        )


@pytest.fixture
async def here(tmp_path: Path) -> AsyncIterator[Here]:
    settings = Settings(data_dir=tmp_path / "data", upload_root=tmp_path / "uploads")
    db = tmp_path / "results.sqlite3"
    status, results = EmbeddedStatusStore(db), SQLiteResultStore(db)
    await status.start()
    await results.start()
    try:
        yield Here(Sources(settings), status, results, Recorder())
    finally:
        await status.close()
        await results.close()


async def test_a_partial_video_is_published_again_as_the_next_run(here: Here) -> None:
    event = here.keep("v1")
    partial = failed_result("v1", ErrorInfo(code="x", message="stand-in for a stored result"))
    await here.results.save_result(partial)
    await here.status.set_status(VideoStatus(video_id="v1", state=VideoState.PARTIAL))

    started = await here.reprocess("v1")

    assert started.run == 1 and started.previous_status == "failed"  # type: ignore[attr-defined]
    [again] = here.publisher.published
    assert (again.video_id, again.uri, again.run) == ("v1", event.uri, 1)
    status = await here.status.get_status("v1")
    assert status is not None and (status.state, status.run) == (VideoState.QUEUED, 1)
    # The old result stays until the new run's replaces it.
    assert await here.results.get_result("v1") == partial
    # Once run 1 is final, the next reprocess is run 2.
    await here.status.set_status(VideoStatus(video_id="v1", state=VideoState.COMPLETE, run=1))
    assert (await here.reprocess("v1")).run == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("state", "code"), [(VideoState.PROCESSING, "in_flight"), (VideoState.DELETED, "deleted")]
)
async def test_a_video_in_flight_or_deleted_is_refused(
    here: Here, state: VideoState, code: str
) -> None:
    here.keep("v2")
    await here.status.set_status(VideoStatus(video_id="v2", state=state))
    with pytest.raises(NotReprocessable) as info:
        await here.reprocess("v2")
    assert info.value.code == code and info.value.http_status == 409
    assert here.publisher.published == []


async def test_a_video_whose_upload_is_gone_is_refused(here: Here) -> None:
    await here.status.set_status(VideoStatus(video_id="v3", state=VideoState.COMPLETE))
    with pytest.raises(NotReprocessable) as info:
        await here.reprocess("v3")
    assert info.value.code == "upload_gone"
    status = await here.status.get_status("v3")
    assert status is not None and status.state is VideoState.COMPLETE


async def test_an_unknown_video_is_unknown(here: Here) -> None:
    with pytest.raises(UnknownVideo):
        await here.reprocess("nobody")


async def test_of_concurrent_reprocess_calls_one_starts_the_run_the_others_are_refused(
    here: Here,
) -> None:
    import asyncio

    here.keep("v5")
    await here.status.set_status(VideoStatus(video_id="v5", state=VideoState.COMPLETE))

    outcomes = await asyncio.gather(
        *(here.reprocess("v5") for _ in range(5)), return_exceptions=True
    )

    started = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, NotReprocessable)]
    assert len(started) == 1 and len(refused) == 4
    assert all(r.code == "in_flight" for r in refused)
    assert [e.run for e in here.publisher.published] == [1]


async def test_a_broker_outage_starts_nothing_and_leaves_the_video_as_it_was(here: Here) -> None:
    here.keep("v6")
    done = VideoStatus(video_id="v6", state=VideoState.COMPLETE, progress=1.0)
    await here.status.set_status(done)
    here.publisher.down = True

    with pytest.raises(BrokerUnavailable):
        await here.reprocess("v6")

    back = await here.status.get_status("v6")
    assert back is not None and (back.state, back.run) == (VideoState.COMPLETE, 0)
    # Once the broker is back, the same call starts the run it could not start before.
    here.publisher.down = False
    assert (await here.reprocess("v6")).run == 1  # type: ignore[attr-defined]
    assert [e.run for e in here.publisher.published] == [1]
