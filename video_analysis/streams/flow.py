"""Paused partitions resumed in the order they were paused.

A Faust stream's buffer (``stream_buffer_maxsize``; ``VA_ANALYSIS_PREFETCH`` for the analyzer
roles) pauses a topic partition when it is nearly full, and keeps the callback that resumes it
in a set (mode's ``FlowControlQueue``). Once the buffer has drained to 40%, each message taken
resumes one paused partition: the one ``set.pop`` returns, which is any of them. The partitions
resumed fill the buffer and are paused again before the others come up, so with a small buffer
some partitions went unread for over 5 minutes (the frames of a 30-minute interview at a buffer
of 4; the audio of a 60-minute one at 16, whose speech then missed the join's deadline).

Here the callbacks are kept in the order their partitions were paused and the partition paused
longest is resumed first: each paused partition comes up within as many messages taken as there
are partitions paused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

Callback = Callable[[], None]


class PausedInOrder:
    """The pending resume callbacks of a ``FlowControlQueue``, oldest first: the part of a
    set's interface the queue uses, with ``pop`` taking the oldest."""

    def __init__(self) -> None:
        self._callbacks: dict[Callback, None] = {}

    def add(self, callback: Callback) -> None:
        self._callbacks.setdefault(callback, None)

    def pop(self) -> Callback:
        if not self._callbacks:
            raise KeyError("pop from an empty set of paused partitions")
        oldest = next(iter(self._callbacks))
        del self._callbacks[oldest]
        return oldest

    def clear(self) -> None:
        self._callbacks.clear()

    def __contains__(self, callback: object) -> bool:
        return callback in self._callbacks

    def __iter__(self) -> Iterator[Callback]:
        return iter(list(self._callbacks))

    def __len__(self) -> int:
        return len(self._callbacks)


def resume_in_order() -> None:
    """Make every ``FlowControlQueue`` made from now on in this process (the streams' buffers)
    resume its paused partitions oldest first. Idempotent."""
    from mode.utils.queues import FlowControlQueue

    if getattr(FlowControlQueue, "_resumes_in_order", False):
        return
    made = FlowControlQueue.__init__

    def __init__(self: FlowControlQueue[object], *args: object, **kwargs: object) -> None:
        made(self, *args, **kwargs)  # type: ignore[arg-type]
        self._pending_pressure_drop_callbacks = PausedInOrder()  # type: ignore[assignment]

    FlowControlQueue.__init__ = __init__  # type: ignore[method-assign,assignment]
    FlowControlQueue._resumes_in_order = True  # type: ignore[attr-defined]
