"""What every agent of a worker shares: the stores and CPU pool (``Services``), the topics and
the two ways out of a handler (``Wiring.publish`` and ``Wiring.reject``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, TypeVar

import faust
from pydantic import BaseModel

from ..schemas import DeadLetter, VideoState, VideoStatus
from ..settings import Settings
from ..store import Sources, create_result_store, create_status_store
from ..store.connect import StoreUnavailable
from ..store.lifecycle import enter
from ..store.results import ResultStore
from ..store.status import StatusStore
from . import metrics
from .delivery import cause_of, transient
from .failures import dead_letter
from .topics import DLQ

log = logging.getLogger(__name__)

T = TypeVar("T")
S = TypeVar("S", ResultStore, StatusStore)


#: Backoff between two tries of a store write that must not be lost, or of a send the broker
#: failed for a passing reason (seconds).
RETRY_MIN_S = 0.5
RETRY_MAX_S = 10.0
#: A waiting write logs its first failure and then every this many.
RETRY_LOG_EVERY = 10


async def patiently(
    attempt: Callable[[], Awaitable[T]],
    *,
    passing: Callable[[Exception], bool],
    what: str,
    waits_for: str,
    done: str,
    counted: Callable[[Exception], None],
) -> T:
    """``attempt()`` until it succeeds, waiting with backoff after each failure that
    ``passing`` says is the store's or the broker's passing trouble (each ``counted``); any
    other failure raises. The first wait is logged, then every RETRY_LOG_EVERY-th."""
    delay = RETRY_MIN_S
    failures = 0
    while True:
        try:
            outcome = await attempt()
        except Exception as exc:
            if not passing(exc):
                raise
            failures += 1
            counted(exc)
            if failures == 1 or failures % RETRY_LOG_EVERY == 0:
                log.warning("%s waits for the %s (try %d): %s", what, waits_for, failures, exc)
            await asyncio.sleep(delay)
            delay = min(2 * delay, RETRY_MAX_S)
            continue
        if failures:
            log.info("%s %s after %d failed tries", what, done, failures)
        return outcome


async def _started(stack: AsyncExitStack, store: S, what: str) -> S:
    """A store, started and closed with ``stack``; not reaching it (after its own retries) is
    a ``StoreUnavailable``."""
    try:
        return await enter(stack, store)
    except StoreUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - any client's connection error, named once
        raise StoreUnavailable(f"{what} unreachable: {exc}") from exc


class Services:
    """Stores and the CPU pool, started lazily inside the worker's event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool = ThreadPoolExecutor(settings.analysis_threads, thread_name_prefix="analyze")
        self._results: ResultStore | None = None
        self._status: StatusStore | None = None
        #: Where results are kept as objects (``VA_RESULT_OBJECT_STORE``), besides uploads.
        self.sources = Sources(settings)
        self._lock = asyncio.Lock()
        #: Closes the stores started so far.
        self._opened = AsyncExitStack()

    async def results(self) -> ResultStore:
        async with self._lock:
            if self._results is None:
                self._results = await _started(
                    self._opened, create_result_store(self.settings), "result database"
                )
            return self._results

    async def status(self) -> StatusStore:
        async with self._lock:
            if self._status is None:
                self._status = await _started(
                    self._opened, create_status_store(self.settings), "status store"
                )
            return self._status

    async def set_status(self, video_id: str, state: VideoState, **fields: Any) -> None:
        store = await self.status()
        await store.set_status(VideoStatus(video_id=video_id, state=state, **fields))

    async def show_status(self, video_id: str, state: VideoState, **fields: Any) -> None:
        """A status that the next one replaces (progress): not worth waiting for, so an
        unreachable store only costs a warning."""
        try:
            await self.set_status(video_id, state, **fields)
        except StoreUnavailable as exc:
            log.warning("status of video_id=%s not shown: %s", video_id, exc)

    async def until_stored(self, what: str, video_id: str, write: Callable[[], Awaitable[T]]) -> T:
        """Run ``write`` until the store takes it: what must not be lost (a result, a final
        status, a deletion) waits out an outage of Redis or the database, with backoff. The
        message being handled stays uncommitted meanwhile, so a crash loses nothing either."""
        return await patiently(
            write,
            passing=lambda exc: isinstance(exc, StoreUnavailable),
            what=f"{what} of video_id={video_id}",
            waits_for="store",
            done="stored",
            counted=lambda _exc: metrics.STORE_WAITS.labels(what).inc(),
        )

    async def close(self) -> None:
        # Open store connections (aiosqlite runs a non-daemon thread) would keep the
        # process alive after the worker stops.
        await self._opened.aclose()
        self._results = self._status = None
        self.pool.shutdown(wait=False, cancel_futures=True)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """CPU-bound work off the event loop, so heartbeats keep flowing."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)


@dataclass
class Wiring:
    """What every agent of one app shares: its settings, services and topics."""

    app: faust.App
    settings: Settings
    services: Services
    topics: dict[str, Any]
    role: str

    async def publish(self, topic: str, key: str | None, message: BaseModel) -> None:
        """Send and wait for the broker's ack, so the input's offset is committed only after."""
        await self.send(topic, key, message.model_dump_json().encode())

    async def send(self, topic: str, key: str | None, value: bytes | None) -> None:
        """Send raw bytes (None: a tombstone) and wait for the broker's ack. A send the broker
        fails for a passing reason (``delivery.transient``: a lost connection, a leader moving,
        a topic a restarted broker lost) is tried again with backoff until it is taken: the
        message being handled stays uncommitted meanwhile, as with a store outage, instead of
        the agent crashing on it again and again. Any other failure raises."""
        await patiently(
            lambda: self.send_once(topic, key, value),
            passing=transient,
            what=f"send to {topic} (key {key})",
            waits_for="broker",
            done="taken",
            counted=lambda exc: metrics.failed(self.role, "publish", type(cause_of(exc)).__name__),
        )

    async def send_once(self, topic: str, key: str | None, value: bytes | None) -> None:
        """One try of :meth:`send`: its failure raises (the join's result delivery has its own
        retries, bounded, and a smaller form to fall back on)."""
        fut = await self.topics[topic].send(key=key.encode() if key else None, value=value)
        await fut

    async def reject(
        self, stage: str, message: Any, video_id: str | None, exc: BaseException
    ) -> DeadLetter:
        """Log the failure and put the message on the DLQ with its reason."""
        record = dead_letter(stage=stage, message=message, video_id=video_id, exc=exc)
        metrics.failed(self.role, stage, record.error.code)
        await self.publish(DLQ, video_id, record)
        return record


def message_value(message: Any) -> bytes:
    """The raw value; a tombstone (None) is an empty, hence invalid, event."""
    value = message.value
    return value if isinstance(value, bytes) else b""


def message_key(message: Any) -> str:
    key = message.key
    if isinstance(key, bytes):
        return key.decode("utf-8", errors="replace")
    return str(key) if key is not None else ""
