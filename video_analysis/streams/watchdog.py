"""A worker that stopped taking messages from one of its partitions exits, so that it is
restarted.

Faust (faust-streaming #629) can leave a partition assigned to a worker that never fetches
it again after a rebalance: the worker goes on with its other partitions, the partition's
messages wait for ever, and the videos in them never finish. Seen with the embedded broker
when a join was killed soon after it started. Nothing inside the worker brings the partition
back; a new consumer does (a restart rejoins the group and reads from the committed offset).

The watch is deliberately narrow, so that a slow worker is never taken for a stuck one. A
partition is stalled when, for ``stall_s``:
- messages wait in it (its high-water mark is past the committed offset),
- its committed offset did not move and no message of it entered the stream,
- and the worker was idle (no event in progress) at this check and the one before,
  outside a rebalance or table recovery.
A worker busy with a long item (a video being split, a result waiting for the stores) is
never idle, so it is never stalled.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

#: The exit status of a worker that stopped itself over a stalled partition
#: (EX_TEMPFAIL: try again; any supervisor restarts it).
STALL_EXIT_CODE = 75


@dataclass(frozen=True)
class PartitionState:
    """What the consumer knows of one assigned input partition."""

    highwater: int | None
    #: The group's committed offset; without one, where the fetcher reads next.
    committed: int | None
    #: Monotonic time a message of this partition last entered the stream, or None.
    inbound_at: float | None


@dataclass
class _Watch:
    committed: int | None
    inbound_at: float | None
    since: float


@dataclass
class StallWatch:
    """Decides, check after check, which partitions are stalled (pure: no Faust here)."""

    stall_s: float
    _watches: dict[Any, _Watch] = field(default_factory=dict)
    _idle_before: bool = False

    def check(
        self, now: float, partitions: Mapping[Any, PartitionState], *, idle: bool
    ) -> list[Any]:
        """The partitions stalled at ``now``; ``idle``: nothing in progress, no rebalance."""
        idle_twice = idle and self._idle_before
        self._idle_before = idle
        for tp in list(self._watches):
            if tp not in partitions:
                del self._watches[tp]  # revoked
        stalled = []
        for tp, state in partitions.items():
            watch = self._watches.get(tp)
            moved = (
                watch is None
                or state.committed != watch.committed
                or state.inbound_at != watch.inbound_at
            )
            waiting = (
                state.highwater is not None
                and state.committed is not None
                and state.highwater > state.committed
            )
            if moved or not waiting or not idle:
                self._watches[tp] = _Watch(state.committed, state.inbound_at, now)
                continue
            assert watch is not None
            if idle_twice and now - watch.since >= self.stall_s:
                stalled.append(tp)
        return stalled


@dataclass
class Watchdog:
    """Reads a Faust app's consumer for ``StallWatch`` and stops the worker on a stall."""

    app: Any
    role: str
    stall_s: float
    watch: StallWatch = field(init=False)
    exit_code: int | None = None

    def __post_init__(self) -> None:
        self.watch = StallWatch(self.stall_s)

    def tick(self, now: float) -> None:
        if self.stall_s <= 0 or self.exit_code is not None:
            return
        app = self.app
        try:
            partitions = self._partitions(app.consumer, app.monitor)
        except Exception:  # noqa: BLE001 - not started or rebalancing: try again next time
            return
        idle = app.monitor.events_active == 0 and not app.rebalancing and not app.in_recovery
        stalled = self.watch.check(now, partitions, idle=idle)
        if not stalled:
            return
        described = ", ".join(
            f"{tp.topic}[{tp.partition}] committed {partitions[tp].committed} "
            f"of {partitions[tp].highwater}"
            for tp in stalled
        )
        log.error(
            "%s worker: no message taken for %.0f s from %s while idle; stopping so that a "
            "restart rejoins the group and reads them (faust-streaming #629)",
            self.role,
            self.stall_s,
            described,
        )
        self.exit_code = STALL_EXIT_CODE
        os.kill(os.getpid(), signal.SIGTERM)  # Faust's worker stops cleanly on SIGTERM

    @staticmethod
    def _partitions(consumer: Any, monitor: Any) -> dict[Any, PartitionState]:
        inbound = monitor.stream_inbound_time or {}
        states = {}
        for tp in consumer.assignment():
            if consumer._is_changelog_tp(tp) or "__assignor" in tp.topic:  # noqa: SLF001
                continue  # tables and leader election are not the role's input
            high = consumer.highwater(tp)
            committed = consumer._committed_offset.get(tp)  # noqa: SLF001 - Faust keeps it here
            if committed is None:  # nothing committed yet: where the fetcher reads next
                committed = _fetch_position(consumer, tp)
            states[tp] = PartitionState(
                highwater=None if high is None else int(high),
                committed=None if committed is None else int(committed),
                inbound_at=inbound.get(tp),
            )
        return states


def _fetch_position(consumer: Any, tp: Any) -> int | None:
    """aiokafka's next fetch offset for ``tp`` (Faust reads it the same way), or None."""
    from aiokafka import TopicPartition

    aiokafka_consumer = consumer._thread._ensure_consumer()  # noqa: SLF001
    assignment = aiokafka_consumer._fetcher._subscriptions.subscription.assignment  # noqa: SLF001
    state = assignment.state_value(TopicPartition(tp.topic, tp.partition)) if assignment else None
    if state is None or not state.has_valid_position:
        return None
    return int(state.position)
