"""The stall watchdog: a partition where messages wait, untouched while the worker is idle,
stops the worker; a busy or slow worker, a moving partition or an empty one never does."""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass, field
from typing import Any

import pytest

from video_analysis.streams import watchdog as wd
from video_analysis.streams.watchdog import PartitionState, StallWatch, Watchdog

STALL_S = 60.0


def waiting(committed: int = 1, high: int = 14, inbound: float | None = None) -> PartitionState:
    return PartitionState(highwater=high, committed=committed, inbound_at=inbound)


def run(watch: StallWatch, ticks: list[tuple[float, dict[str, PartitionState], bool]]) -> list:
    return [watch.check(now, parts, idle=idle) for now, parts, idle in ticks]


def test_a_waiting_partition_untouched_while_idle_is_stalled_after_stall_s() -> None:
    watch = StallWatch(STALL_S)
    seen = run(watch, [(t, {"p0": waiting()}, True) for t in (0.0, 15.0, 30.0, 45.0, 60.0)])
    assert seen == [[], [], [], [], ["p0"]]


def test_a_partition_whose_offset_moves_is_not_stalled() -> None:
    watch = StallWatch(STALL_S)
    seen = run(watch, [(t * 15.0, {"p0": waiting(committed=t)}, True) for t in range(1, 10)])
    assert seen == [[]] * 9


def test_a_message_entering_the_stream_counts_as_progress() -> None:
    watch = StallWatch(STALL_S)
    ticks = [(t * 15.0, {"p0": waiting(inbound=float(t))}, True) for t in range(10)]
    assert run(watch, ticks) == [[]] * 10


def test_a_busy_worker_is_never_stalled_and_the_clock_restarts_when_it_is_idle() -> None:
    watch = StallWatch(STALL_S)
    # Busy for 5 minutes (a long split, a result waiting for the stores), then idle.
    busy = [(t * 15.0, {"p0": waiting()}, False) for t in range(20)]
    idle = [(300.0 + t * 15.0, {"p0": waiting()}, True) for t in range(6)]
    seen = run(watch, busy + idle)
    assert seen[:23] == [[]] * 23
    assert seen[23] == ["p0"]  # at 345 s: 60 s after the last check that found it busy


def test_one_idle_moment_between_busy_ones_is_not_enough() -> None:
    watch = StallWatch(STALL_S)
    ticks = [(t * 15.0, {"p0": waiting()}, t % 2 == 0) for t in range(12)]
    assert run(watch, ticks) == [[]] * 12


def test_a_partition_with_nothing_waiting_or_unknown_is_never_stalled() -> None:
    watch = StallWatch(STALL_S)
    empty = PartitionState(highwater=14, committed=14, inbound_at=None)
    unknown = PartitionState(highwater=None, committed=None, inbound_at=None)
    ticks = [(t * 15.0, {"a": empty, "b": unknown}, True) for t in range(10)]
    assert run(watch, ticks) == [[]] * 10


def test_only_the_stuck_partition_is_named_and_a_revoked_one_is_forgotten() -> None:
    watch = StallWatch(STALL_S)
    ticks = [
        (t * 15.0, {"stuck": waiting(), "moving": waiting(committed=t, high=100)}, True)
        for t in range(5)
    ]
    assert run(watch, ticks)[-1] == ["stuck"]
    # Revoked, then assigned again: its clock starts afresh.
    assert watch.check(90.0, {}, idle=True) == []
    assert watch.check(105.0, {"stuck": waiting()}, idle=True) == []


# --- reading Faust ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TP:
    topic: str
    partition: int


@dataclass
class FakeConsumer:
    """Faust's consumer as the watchdog reads it: the broker's offsets are asked for (async);
    ``committed`` is what Faust keeps (the group's offsets, and its own commits)."""

    ends: dict[TP, int]
    committed: dict[TP, int]
    changelog: set[str] = field(default_factory=set)
    earliest: dict[TP, int] = field(default_factory=dict)

    def assignment(self) -> set[TP]:
        return set(self.ends)

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        return {tp: self.ends[tp] for tp in tps}

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        return {tp: self.earliest.get(tp, 0) for tp in tps}

    async def seek_wait(self, offsets: dict[TP, int]) -> None:
        self.sought.append(dict(offsets))

    sought: list[dict[TP, int]] = field(default_factory=list)

    @property
    def _committed_offset(self) -> dict[TP, int]:
        return self.committed

    def _is_changelog_tp(self, tp: TP) -> bool:
        return tp.topic in self.changelog


@dataclass
class FakeMonitor:
    events_active: int = 0
    stream_inbound_time: dict[TP, float] = field(default_factory=dict)


@dataclass
class FakeApp:
    consumer: FakeConsumer
    monitor: FakeMonitor = field(default_factory=FakeMonitor)
    rebalancing: bool = False
    in_recovery: bool = False


def stuck_app() -> FakeApp:
    manifests = TP("video-manifests", 0)
    changelog = TP("join-parts-changelog", 0)
    assignor = TP("video-analysis-join-__assignor-__leader", 0)
    return FakeApp(
        FakeConsumer(
            ends={manifests: 14, changelog: 40, assignor: 3},
            committed={manifests: 1, changelog: 0, assignor: 0},
            changelog={"join-parts-changelog"},
        )
    )


def tick(dog: Watchdog, checks: range) -> None:
    """Run the watchdog's check at each of ``checks`` (15 s apart, as the lag timer does)."""
    for t in checks:
        asyncio.run(dog.tick(t * 15.0))


@pytest.fixture
def never_killed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test fails if the watchdog stops the worker."""
    monkeypatch.setattr(wd.os, "kill", lambda pid, sig: pytest.fail("killed"))


def test_a_stalled_partition_is_read_again_then_the_worker_stops_itself(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    kills: list[tuple[int, int]] = []
    monkeypatch.setattr(wd.os, "kill", lambda pid, sig: kills.append((pid, sig)))
    app = stuck_app()
    dog = Watchdog(app, "join", STALL_S)
    tick(dog, range(5))
    # First the partition is sought back to its committed offset, and the worker goes on.
    manifests = TP("video-manifests", 0)
    assert app.consumer.sought == [{manifests: 1}]
    assert dog.exit_code is None and kills == []
    assert "video-manifests[0] committed 1 of 14" in caplog.text
    assert "reading them again" in caplog.text
    # Tables' changelogs and the leader assignor are not the role's input.
    assert "changelog" not in caplog.text and "assignor" not in caplog.text
    # Still stalled a full stall_s later: the worker stops itself, once.
    tick(dog, range(5, 9))
    assert dog.exit_code is None
    asyncio.run(dog.tick(9 * 15.0))
    assert dog.exit_code == wd.STALL_EXIT_CODE
    assert kills == [(wd.os.getpid(), signal.SIGTERM)]
    assert app.consumer.sought == [{manifests: 1}]
    asyncio.run(dog.tick(150.0))
    assert len(kills) == 1  # once


def test_a_partition_that_moves_after_the_seek_is_sought_again_at_its_next_stall(
    never_killed: None,
) -> None:
    app = stuck_app()
    manifests = TP("video-manifests", 0)
    dog = Watchdog(app, "join", STALL_S)
    tick(dog, range(5))
    assert app.consumer.sought == [{manifests: 1}]
    app.consumer.committed[manifests] = 6  # the seek helped: messages were taken
    tick(dog, range(5, 12))
    assert app.consumer.sought == [{manifests: 1}, {manifests: 6}]
    assert dog.exit_code is None


@pytest.mark.parametrize(
    "busy",
    [
        {"monitor": FakeMonitor(events_active=1)},
        {"rebalancing": True},
        {"in_recovery": True},
    ],
)
def test_a_worker_at_work_rebalancing_or_recovering_is_left_alone(
    never_killed: None, busy: dict[str, Any]
) -> None:
    app = stuck_app()
    for name, value in busy.items():
        setattr(app, name, value)
    dog = Watchdog(app, "join", STALL_S)
    tick(dog, range(10))
    assert dog.exit_code is None


def test_a_stall_setting_of_zero_turns_the_watch_off(never_killed: None) -> None:
    dog = Watchdog(stuck_app(), "join", 0.0)
    tick(dog, range(10))
    assert dog.exit_code is None


def test_a_partition_never_fetched_and_never_committed_is_still_watched(
    never_killed: None, caplog: pytest.LogCaptureFixture
) -> None:
    """Seen in the e2e test: a restarted join took no message at all from a partition. Its
    high-water mark comes from the broker (the consumer fetched none) and, with nothing
    committed by the group, reading starts at the earliest offset."""
    results = TP("analyzer-results", 1)
    app = FakeApp(FakeConsumer(ends={results: 211}, committed={}, earliest={results: 5}))
    dog = Watchdog(app, "join", STALL_S)
    tick(dog, range(6))
    assert app.consumer.sought == [{results: 5}]
    assert "analyzer-results[1] committed 5 of 211" in caplog.text


def test_a_partition_read_to_its_end_is_not_stalled(never_killed: None) -> None:
    results = TP("analyzer-results", 0)
    app = FakeApp(FakeConsumer(ends={results: 7}, committed={}, earliest={results: 7}))
    dog = Watchdog(app, "join", STALL_S)
    tick(dog, range(10))
    assert dog.exit_code is None


def test_a_broker_that_does_not_answer_is_no_stall(never_killed: None) -> None:
    """The offsets cannot be read (broker away): the watch waits for the next check."""

    class Unreachable(FakeConsumer):
        async def highwaters(self, *tps: TP) -> dict[TP, int]:
            raise ConnectionError("broker away")

    results = TP("analyzer-results", 0)
    dog = Watchdog(FakeApp(Unreachable(ends={results: 9}, committed={results: 1})), "join", 1.0)
    tick(dog, range(10))
    assert dog.exit_code is None
