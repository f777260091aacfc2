"""Paused partitions come up in the order they were paused (streams/flow.py), on mode's own
stream buffer: a partition pausing again goes to the back, none waits behind the others."""

from __future__ import annotations

from mode.utils.queues import FlowControlEvent, FlowControlQueue

from video_analysis.streams.flow import PausedInOrder, resume_in_order


def _buffer(maxsize: int) -> FlowControlQueue[int]:
    resume_in_order()
    return FlowControlQueue(maxsize, flow_control=FlowControlEvent())


def test_paused_partitions_are_resumed_oldest_first_and_each_in_turn() -> None:
    buffer = _buffer(10)  # paused from 8 messages held, resumed one by one from 4
    resumed: list[str] = []
    callbacks = {tp: (lambda tp=tp: resumed.append(tp)) for tp in ("p3", "p0", "p2", "p1")}
    assert isinstance(buffer._pending_pressure_drop_callbacks, PausedInOrder)

    def deliver(tp: str) -> None:
        buffer.put_nowait_enhanced(0, on_pressure_high=lambda: None, on_pressure_drop=callbacks[tp])

    for _ in range(8):
        deliver("p3")
    for tp in ("p3", "p0", "p2", "p1"):  # each partition delivers once more and is paused
        deliver(tp)
    while buffer.qsize() > 4:
        buffer.get_nowait()
    buffer.get_nowait()
    buffer.get_nowait()
    assert resumed == ["p3", "p0"]

    # p3 comes up, fills the buffer and is paused again: behind p2 and p1, not before them.
    for _ in range(8):
        deliver("p3")
    while buffer.qsize() > 4:
        buffer.get_nowait()
    for _ in range(3):
        buffer.get_nowait()
    assert resumed == ["p3", "p0", "p2", "p1", "p3"]


def test_a_buffer_run_empty_resumes_every_partition_still_paused() -> None:
    buffer = _buffer(10)
    resumed: list[int] = []
    callbacks = [(lambda tp=tp: resumed.append(tp)) for tp in range(10)]
    for tp in range(8):
        buffer.put_nowait_enhanced(tp, on_pressure_high=lambda: None, on_pressure_drop=callbacks[0])
    for tp in range(10):  # ten partitions paused
        buffer.put_nowait_enhanced(
            tp, on_pressure_high=lambda: None, on_pressure_drop=callbacks[tp]
        )
    while not buffer.empty():
        buffer.get_nowait()
    assert resumed == [0, 1, 2, 3]  # one per message taken from 4 held down
    buffer.maybe_endorse_pressure_drop()  # what taking from the empty buffer does first
    assert resumed == list(range(10))
    assert len(buffer._pending_pressure_drop_callbacks) == 0


def test_the_order_keeps_a_set_interface() -> None:
    paused = PausedInOrder()
    first, second = (lambda: None), (lambda: None)
    paused.add(first)
    paused.add(second)
    paused.add(first)  # already waiting: keeps its place
    assert len(paused) == 2 and first in paused and list(paused) == [first, second]
    assert paused.pop() is first and paused.pop() is second
    assert not paused
