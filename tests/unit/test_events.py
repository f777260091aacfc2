"""Live progress as server-sent events: the state now first, then changes, then the end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.unit.test_api import components
from video_analysis.api.events import status_events, transcript_update
from video_analysis.schemas import VideoState, VideoStatus
from video_analysis.schemas.result import PartialSegment


def seg(start: float, text: str) -> PartialSegment:
    return PartialSegment(start=start, end=start + 1.0, text=text)


def status(state: str, progress: float, *segments: PartialSegment) -> VideoStatus:
    return VideoStatus(
        video_id="v1",
        state=VideoState(state),
        progress=progress,
        stages={"split": 1.0, "analyze.speech": progress, "join": 0.0},
        transcript=list(segments),
    )


def parse(stream: list[str]) -> list[tuple[str, dict[str, object]]]:
    events = []
    for chunk in stream:
        if chunk.startswith(":"):
            events.append(("comment", {}))
            continue
        name, data = chunk.strip().split("\n")
        events.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return events


async def collect(statuses: list[VideoStatus]) -> list[tuple[str, dict[str, object]]]:
    later: Iterator[VideoStatus] = iter(statuses[1:])

    async def get() -> VideoStatus | None:
        return next(later)

    return parse([e async for e in status_events(get, statuses[0], poll_s=0.0)])


async def test_the_stream_sends_the_state_now_then_changes_then_the_end() -> None:
    hello, there = seg(1.0, "Hello"), seg(12.0, "there")
    events = await collect(
        [
            status("processing", 0.2),
            status("processing", 0.2),  # nothing new: nothing sent
            status("processing", 0.5, hello),
            status("processing", 0.8, hello, there),
            status("complete", 1.0, hello, there),
        ]
    )

    assert [name for name, _ in events] == [
        "status",
        "transcript",
        "status",
        "transcript",
        "status",
        "final",
    ]
    assert events[0][1]["stages"] == {"split": 1.0, "analyze.speech": 0.2, "join": 0.0}
    assert events[1][1] == {"segments": [hello.model_dump()], "replace": False}
    assert events[3][1] == {"segments": [there.model_dump()], "replace": False}
    assert events[-1][1]["state"] == "complete" and events[-1][1]["progress"] == 1.0


async def test_a_late_client_gets_the_transcript_so_far_and_the_final_state_at_once() -> None:
    done = status("complete", 1.0, seg(1.0, "Hello"), seg(12.0, "there"))
    events = await collect([done])

    assert [name for name, _ in events] == ["transcript", "final"]
    assert [s["text"] for s in events[0][1]["segments"]] == ["Hello", "there"]  # type: ignore[union-attr]


def test_a_chunk_out_of_order_resends_the_whole_transcript() -> None:
    early, late = seg(1.0, "first"), seg(12.0, "second")

    assert transcript_update([late], [early, late]) == ([early, late], True)
    assert transcript_update([early], [early, late]) == ([late], False)
    assert transcript_update([early], [early]) is None


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    from tests.unit.test_api import FakePublisher, make_client
    from video_analysis.settings import Settings

    settings = Settings(
        environment="test",
        data_dir=tmp_path / "data",
        upload_root=tmp_path / "uploads",
        models_dir=tmp_path / "models",
        events_poll_s=0.05,
    )
    with make_client(settings, FakePublisher()) as test_client:
        yield test_client


def test_the_events_route_streams_until_the_video_is_final(client: TestClient) -> None:
    store = components(client).status
    client.portal.call(store.set_status, status("complete", 1.0, seg(0.5, "Hi")))  # type: ignore[union-attr]

    with client.stream("GET", "/videos/v1/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())

    assert "event: transcript" in body and body.rstrip().split("\n")[-2] == "event: final"
    assert client.get("/videos/nobody/events").status_code == 404
