"""Live progress of one video as server-sent events (``GET /videos/{id}/events``).

The stream starts with the current state (a client that connects late misses nothing), then
sends what changes as the status store sees it, and ends with the final state:

- ``status``: state, overall progress, share done per stage (split, each analyzer, join);
- ``transcript``: segments of the transcript as audio chunks are transcribed, in order; with
  ``replace: true`` the list is the whole transcript so far (a chunk arrived out of order);
- ``final``: the last status (complete, partial or failed), after which the stream ends.

A comment line every ``heartbeat_s`` keeps proxies from closing a quiet stream.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from ..schemas import VideoStatus
from ..schemas.api import TranscriptUpdate
from ..schemas.result import PartialSegment
from ..store import TERMINAL_STATES, StoreUnavailable


def sse(event: str, data: dict[str, Any]) -> str:
    """One server-sent event: its name and a JSON payload on one data line."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def transcript_update(
    sent: list[PartialSegment], now: list[PartialSegment]
) -> tuple[list[PartialSegment], bool] | None:
    """What to send for the transcript: the new segments at its end, or the whole transcript
    (``True``) when earlier segments changed; None when nothing did."""
    if now == sent:
        return None
    if now[: len(sent)] == sent:
        return now[len(sent) :], False
    return now, True


async def status_events(
    get_status: Callable[[], Awaitable[VideoStatus | None]],
    first: VideoStatus,
    *,
    poll_s: float,
    heartbeat_s: float = 15.0,
    disconnected: Callable[[], Awaitable[bool]] | None = None,
) -> AsyncIterator[str]:
    """The events of one video, from ``first`` (its status now) until it is final."""
    status: VideoStatus | None = first
    last_status: dict[str, Any] | None = None
    sent: list[PartialSegment] = []
    quiet_since = time.monotonic()
    while True:
        if status is not None:
            update = transcript_update(sent, status.transcript)
            if update is not None:
                segments, replace = update
                payload = TranscriptUpdate(segments=segments, replace=replace)
                yield sse("transcript", payload.model_dump(mode="json"))
                sent = list(status.transcript)
                quiet_since = time.monotonic()
            summary = status.model_dump(mode="json", exclude={"transcript", "updated_at"})
            if status.state in TERMINAL_STATES:
                yield sse("final", summary)
                return
            if summary != last_status:
                yield sse("status", summary)
                last_status = summary
                quiet_since = time.monotonic()
        if time.monotonic() - quiet_since >= heartbeat_s:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()
        await asyncio.sleep(poll_s)
        if disconnected is not None and await disconnected():
            return
        try:
            status = await get_status()
        except StoreUnavailable:
            status = None  # asked again at the next poll; the client keeps its stream
