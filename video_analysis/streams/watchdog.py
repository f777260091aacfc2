"""A worker that stopped taking messages from one of its partitions reads them again, and
exits (to be restarted) when that does not help.

Faust (faust-streaming #629) can leave a partition assigned to a worker that never takes
another message from it after a rebalance. (One way, read in Faust's code: its fetcher drops
records it already took from the Kafka client when the group's generation changes or its flow
is suspended meanwhile, and the client, past them, never fetches them again.) The worker goes
on with its other partitions, the partition's messages wait for ever, and the videos in them
never finish. Seen with the embedded broker when a join restarted after a kill, in about one
restart in six.

The remedy is Faust's own, after a rebalance: seek the partition back to its committed offset,
so that the client fetches those messages again. A partition that is still stalled after that
(no message taken for another ``stall_s``) stops the worker with exit status 75; a supervisor
restarts it, and the new consumer rejoins the group and reads from the committed offset.

The watch is deliberately narrow, so that a slow worker is never taken for a stuck one. A
partition is stalled when, for ``stall_s``:
- messages wait in it (the broker's high-water mark is past the committed offset),
- its committed offset did not move and no message of it entered the stream,
- and the worker was idle (no event in progress) at this check and the one before,
  outside a rebalance or table recovery.
A worker busy with a long item (a video being split, a result waiting for the stores) is
never idle, so it is never stalled. Reading messages again is safe: they were not committed,
and every role handles a message it has seen before (the join drops duplicate parts).
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

    def restart(self, partitions: list[Any]) -> None:
        """Start the clock of ``partitions`` afresh (after they were sought back)."""
        for tp in partitions:
            self._watches.pop(tp, None)


@dataclass
class Watchdog:
    """Reads a Faust app's consumer for ``StallWatch``; on a stall, seeks the partition back
    to its committed offset, and stops the worker when it stalls again."""

    app: Any
    role: str
    stall_s: float
    watch: StallWatch = field(init=False)
    exit_code: int | None = None
    #: Partitions sought back to their committed offset, and that offset: one that stalls
    #: again before its committed offset moves stops the worker.
    sought: dict[Any, int | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.watch = StallWatch(self.stall_s)

    async def tick(self, now: float) -> None:
        if self.stall_s <= 0 or self.exit_code is not None:
            return
        app = self.app
        try:
            partitions = await self._partitions(app.consumer, app.monitor)
        except Exception:  # noqa: BLE001 - not started, rebalancing, broker away: next time
            log.debug("%s worker: offsets not readable for the stall watch", exc_info=True)
            return
        for tp, committed in list(self.sought.items()):
            if tp not in partitions or partitions[tp].committed != committed:
                del self.sought[tp]  # revoked, or it moved again: the seek helped
        idle = app.monitor.events_active == 0 and not app.rebalancing and not app.in_recovery
        stalled = self.watch.check(now, partitions, idle=idle)
        if not stalled:
            return
        described = ", ".join(
            f"{tp.topic}[{tp.partition}] committed {partitions[tp].committed} "
            f"of {partitions[tp].highwater}"
            for tp in stalled
        )
        if not any(tp in self.sought for tp in stalled):
            log.warning(
                "%s worker: no message taken for %.0f s from %s while idle; reading them again "
                "from the committed offset (faust-streaming #629)",
                self.role,
                self.stall_s,
                described,
            )
            offsets = {tp: partitions[tp].committed for tp in stalled}
            try:
                await app.consumer.seek_wait(offsets)
            except Exception:  # noqa: BLE001 - revoked meanwhile, broker away: watched on
                log.warning("%s worker: seeking back failed", self.role, exc_info=True)
            self.sought.update(offsets)
            self.watch.restart(stalled)
            return
        log.error(
            "%s worker: still no message taken from %s after reading again from the committed "
            "offset; stopping so that a restart rejoins the group and reads them "
            "(faust-streaming #629)",
            self.role,
            described,
        )
        self.exit_code = STALL_EXIT_CODE
        os.kill(os.getpid(), signal.SIGTERM)  # Faust's worker stops cleanly on SIGTERM

    @staticmethod
    async def _partitions(consumer: Any, monitor: Any) -> dict[Any, PartitionState]:
        """The role's input partitions as the broker and the consumer see them.

        Both offsets come from the broker, not from the consumer's fetches: a partition that
        was never fetched, or no longer is, has no fresh fetched high-water mark, and a fetch
        position runs ahead of what was processed. The committed offset is the group's (Faust
        reads it when partitions are assigned and keeps its own commits); where the group has
        none, reading starts at the partition's earliest offset
        (``consumer_auto_offset_reset="earliest"``).
        """
        inbound = monitor.stream_inbound_time or {}
        tps = [
            tp
            for tp in consumer.assignment()
            # Tables' changelogs and the leader election are not the role's input.
            if not consumer._is_changelog_tp(tp) and "__assignor" not in tp.topic  # noqa: SLF001
        ]
        if not tps:
            return {}
        ends = await consumer.highwaters(*tps)
        committed = {tp: consumer._committed_offset.get(tp) for tp in tps}  # noqa: SLF001
        unknown = [tp for tp, offset in committed.items() if offset is None]
        if unknown:
            committed.update(await consumer.earliest_offsets(*unknown))
        return {
            tp: PartitionState(
                highwater=_offset(ends.get(tp)),
                committed=_offset(committed.get(tp)),
                inbound_at=inbound.get(tp),
            )
            for tp in tps
        }


def _offset(value: Any) -> int | None:
    return None if value is None else int(value)
