"""The Faust app: topics, the splitter, the analyzer agents and the join, per worker role.

Thin by design: parsing is pydantic, splitting is ``media.splitter``, analysis is
``analyzers``, the result is ``assemble``; this module only moves messages and state.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import faust
from faust.types import StreamT
from pydantic import BaseModel, ValidationError

from .. import join
from ..analyzers.base import Analyzer, WordsHook
from ..analyzers.registry import get_analyzer, validate_plan
from ..analyzers.runner import failed_part, run_analyzer
from ..assemble import build_result, failed_result
from ..errors import VideoAnalysisError
from ..join import JoinState
from ..media.codec import decode_part
from ..media.splitter import split_video
from ..models.bundle import loaded_here
from ..retention import expire_uploads
from ..schemas import (
    AnalysisResult,
    AnalyzerPlan,
    AudioChunk,
    DeadLetter,
    ErrorInfo,
    FrameBatch,
    JoinDeadline,
    JoinDelete,
    MediaInfo,
    ModelLoad,
    PartialResult,
    PartialSegment,
    PartSource,
    SplitManifest,
    TranscriptPreview,
    VideoState,
    VideoStatus,
    VideoUploaded,
)
from ..settings import Settings
from ..store import Sources, create_result_store, create_status_store
from ..store.connect import StoreUnavailable
from ..store.results import ResultStore
from ..store.status import StatusStore
from . import metrics
from .admin import JOIN_TABLE, PARTS_TABLE
from .failures import dead_letter
from .tables import acked_table, wait_acked
from .topics import (
    ALL_TOPICS,
    ANALYSIS_RESULTS,
    ANALYZER_RESULTS,
    DLQ,
    VIDEO_AUDIO,
    VIDEO_FRAMES,
    VIDEO_MANIFESTS,
    VIDEO_UPLOADED,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
ANALYZER_ROLES = ("quality", "face", "pose", "speech")
_DONE = object()


def app_id_for_role(settings: Settings, role: str) -> str:
    """Each role is its own consumer group, so heavy analyzers scale on their own."""
    return f"{settings.topic_prefix}{settings.app_id}-{role}"


def analyzers_for_role(settings: Settings, role: str, source: PartSource) -> list[str]:
    names = settings.frame_analyzers if source is PartSource.FRAMES else settings.audio_analyzers
    return list(names) if role == "all" else [n for n in names if n == role]


#: Backoff between two tries of a store write that must not be lost (seconds).
STORE_RETRY_MIN_S = 0.5
STORE_RETRY_MAX_S = 10.0
#: A waiting write logs its first failure and then every this many.
STORE_RETRY_LOG_EVERY = 10


async def _started(store: ResultStore | StatusStore, what: str) -> None:
    """Start a store; not reaching it (after its own retries) is a ``StoreUnavailable``."""
    try:
        await store.start()
    except StoreUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - any client's connection error, named once
        raise StoreUnavailable(f"{what} unreachable: {exc}") from exc


class Services:
    """Stores and the CPU pool, started lazily inside the worker's event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool = ThreadPoolExecutor(settings.worker_threads, thread_name_prefix="analyze")
        self._results: ResultStore | None = None
        self._status: StatusStore | None = None
        self._lock = asyncio.Lock()

    async def results(self) -> ResultStore:
        async with self._lock:
            if self._results is None:
                results = create_result_store(self.settings)
                await _started(results, "result database")
                self._results = results
            return self._results

    async def status(self) -> StatusStore:
        async with self._lock:
            if self._status is None:
                status = create_status_store(self.settings)
                await _started(status, "status store")
                self._status = status
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
        delay = STORE_RETRY_MIN_S
        failures = 0
        while True:
            try:
                outcome = await write()
            except StoreUnavailable as exc:
                failures += 1
                metrics.STORE_WAITS.labels(what).inc()
                if failures == 1 or failures % STORE_RETRY_LOG_EVERY == 0:
                    log.warning(
                        "%s of video_id=%s waits for the store (try %d): %s",
                        what,
                        video_id,
                        failures,
                        exc,
                    )
                await asyncio.sleep(delay)
                delay = min(2 * delay, STORE_RETRY_MAX_S)
                continue
            if failures:
                log.info("%s of video_id=%s stored after %d failed tries", what, video_id, failures)
            return outcome

    async def close(self) -> None:
        # Open store connections (aiosqlite runs a non-daemon thread) would keep the
        # process alive after the worker stops.
        for store in (self._results, self._status):
            if store is not None:
                await store.close()
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
        fut = await self.topics[topic].send(
            key=key.encode() if key else None, value=message.model_dump_json().encode()
        )
        await fut

    async def reject(
        self, stage: str, message: Any, video_id: str | None, exc: BaseException
    ) -> DeadLetter:
        """Log the failure and put the message on the DLQ with its reason."""
        record = dead_letter(stage=stage, message=message, video_id=video_id, exc=exc)
        metrics.failed(self.role, stage, record.error.code)
        await self.publish(DLQ, video_id, record)
        return record


def create_app(settings: Settings, role: str) -> faust.App:
    validate_plan(settings.frame_analyzers, settings.audio_analyzers)
    app = faust.App(
        app_id_for_role(settings, role),
        broker=settings.broker_url,
        store="memory://",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        topic_allow_declare=True,
        broker_session_timeout=settings.broker_session_timeout_s,
        broker_heartbeat_interval=settings.broker_heartbeat_s,
        consumer_auto_offset_reset="earliest",
        producer_max_request_size=settings.max_message_bytes + 100_000,
        producer_acks=-1,
        datadir=str(settings.data_dir / "faust" / app_id_for_role(settings, role)),
        web_enabled=False,
    )
    services = Services(settings)

    @app.on_before_shutdown.connect
    async def _close_services(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        await services.close()

    topics = {
        name: app.topic(settings.topic(name), key_serializer="raw", value_serializer="raw")
        for name in ALL_TOPICS
    }

    wiring = Wiring(app, settings, services, topics, role)

    @app.timer(interval=LAG_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def report_lag() -> None:
        metrics.record_lag(role, app.consumer)

    if role in ANALYZER_ROLES or role == "all":
        _add_model_reports(wiring, f"{role}@{socket.gethostname()}:{os.getpid()}")
    if role in ("splitter", "all"):
        _add_splitter(wiring)
    for source, topic_name in ((PartSource.FRAMES, VIDEO_FRAMES), (PartSource.AUDIO, VIDEO_AUDIO)):
        names = analyzers_for_role(settings, role, source)
        if names and (role in ANALYZER_ROLES or role == "all"):
            _add_analyzer_agent(wiring, source, topic_name, names)
    if role in ("join", "all"):
        _add_join(wiring)
    return app


# --------------------------------------------------------------------------- splitter


def _add_splitter(wiring: Wiring) -> None:
    app, settings, services = wiring.app, wiring.settings, wiring.services
    sources = Sources(settings)
    plan = AnalyzerPlan(frames=list(settings.frame_analyzers), audio=list(settings.audio_analyzers))

    async def publish_manifest(manifest: SplitManifest) -> None:
        await wiring.publish(VIDEO_MANIFESTS, manifest.video_id, manifest)

    if settings.retention_days is not None:
        retention_days = settings.retention_days

        @app.timer(interval=settings.retention_check_interval_s)  # type: ignore[untyped-decorator]
        async def expire() -> None:
            try:
                await expire_uploads(
                    retention_days,
                    sources=sources,
                    status=await services.status(),
                    results=await services.results(),
                    now=datetime.now(UTC),
                )
            except Exception as exc:  # noqa: BLE001 - tried again at the next interval
                log.warning("retention check failed: %s", exc)

    @app.agent(wiring.topics[VIDEO_UPLOADED], name="splitter")
    async def splitter(stream: StreamT[Any]) -> None:
        async for event in stream.events():
            message = event.message
            video_id = _key(message)
            try:
                upload = VideoUploaded.model_validate_json(_value(message))
                video_id = upload.video_id
            except ValidationError as exc:
                record = await wiring.reject("splitter", message, video_id, exc)
                if video_id:
                    await publish_manifest(SplitManifest(video_id=video_id, error=record.error))
                continue
            started = time.monotonic()
            try:
                await services.show_status(
                    video_id, VideoState.PROCESSING, progress=0.0, run=upload.run
                )
                await _keep_event(sources, upload)
                summary = await _split_and_publish(wiring, sources, upload)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a failed result
                record = await wiring.reject("splitter", message, video_id, exc)
                # What the probe saw (a too-long or too-large video) still describes the file.
                media = getattr(exc, "media", None) or MediaInfo()
                await publish_manifest(
                    SplitManifest(
                        video_id=video_id,
                        run=upload.run,
                        uri=upload.uri,
                        metadata=upload.metadata,
                        media=media,
                        error=record.error,
                        submitted_at=upload.submitted_at,
                    )
                )
                continue
            manifest = SplitManifest(
                video_id=video_id,
                run=upload.run,
                uri=upload.uri,
                metadata=upload.metadata,
                media=summary.media,
                frame_batches=summary.frame_batches,
                audio_chunks=summary.audio_chunks,
                frames_sampled=summary.frames_sampled,
                sample_fps=summary.sample_fps,
                analysed_s=summary.analysed_s,
                truncated=summary.truncated,
                analyzers=plan,
                split_s=time.monotonic() - started,
                submitted_at=upload.submitted_at,
            )
            await publish_manifest(manifest)
            metrics.observe(wiring.role, "split", manifest.split_s)
            log.info(
                "split video_id=%s frames=%d batches=%d audio_chunks=%d in %.1fs",
                video_id,
                summary.frames_sampled,
                summary.frame_batches,
                summary.audio_chunks,
                manifest.split_s,
            )


async def _keep_event(sources: Sources, upload: VideoUploaded) -> None:
    """Keep the event beside the upload (the API does so for its own uploads) when none is
    kept yet: ``reprocess`` and the reconciliation after a restart publish it again."""
    try:
        if await asyncio.to_thread(sources.kept_event, upload.video_id) is None:
            await asyncio.to_thread(sources.keep_event, upload.model_copy(update={"run": 0}))
    except Exception as exc:  # noqa: BLE001 - only reprocess needs it; the split goes on
        log.warning("could not keep the event of video_id=%s: %s", upload.video_id, exc)


async def _split_and_publish(wiring: Wiring, sources: Sources, upload: VideoUploaded) -> Any:
    """Fetch and decode in a thread and publish each batch as it is ready; wait for every ack.
    A downloaded copy (s3://, https://) is removed when the split is done."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=4)
    video_id = upload.video_id

    def produce() -> Any:
        try:
            with sources.local_copy(upload.uri) as path:
                generator = split_video(
                    path, video_id, wiring.settings, language=upload.metadata.language
                )
                while True:
                    try:
                        item = next(generator)
                    except StopIteration as stop:
                        return stop.value
                    asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()
        finally:
            asyncio.run_coroutine_threadsafe(queue.put(_DONE), loop).result()

    producing = loop.run_in_executor(wiring.services.pool, produce)
    pending = []
    while (item := await queue.get()) is not _DONE:
        item.run = upload.run
        if isinstance(item, FrameBatch):
            topic, key = wiring.topics[VIDEO_FRAMES], f"{video_id}:{item.batch_index}"
        else:
            topic, key = wiring.topics[VIDEO_AUDIO], f"{video_id}:{item.chunk_index}"
        # Keyed per batch, not per video, so the batches of one long video spread over
        # partitions and several analyzer workers share them.
        pending.append(await topic.send(key=key.encode(), value=item.model_dump_json().encode()))
    summary = await producing
    # Offsets are committed only after the output is produced: wait for every ack before
    # this event counts as processed.
    await asyncio.gather(*pending)
    return summary


# --------------------------------------------------------------------------- analyzers


#: How often a worker tells the status store which models it holds (for /models/status).
MODEL_REPORT_INTERVAL_S = 15.0


def _add_model_reports(wiring: Wiring, worker: str) -> None:
    @wiring.app.timer(interval=MODEL_REPORT_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def report_models() -> None:
        loads = [
            ModelLoad(name=name, worker=worker, load_time_s=round(seconds, 3), device=device)
            for name, (seconds, device) in loaded_here().items()
        ]
        if not loads:
            return
        try:
            await (await wiring.services.status()).report_model_loads(loads)
        except Exception as exc:  # noqa: BLE001 - a report is informational; try again later
            log.warning("could not report loaded models: %s", exc)


def _add_analyzer_agent(
    wiring: Wiring,
    source: PartSource,
    topic_name: str,
    names: list[str],
) -> None:
    app, settings, services, topics = wiring.app, wiring.settings, wiring.services, wiring.topics

    async def load(name: str) -> Analyzer:
        # get_analyzer keeps one loaded instance per process; loading runs off the loop.
        return await services.run(get_analyzer, name)

    @app.task  # type: ignore[untyped-decorator]
    async def warm_up() -> None:
        # Load weights at start (TensorFlow alone takes ~45 s to import), not on the first
        # video. A model that cannot load is logged here and reported on every part it fails.
        for name in names:
            try:
                await load(name)
            except Exception:
                log.exception("analyzer %s could not be loaded", name)

    model = FrameBatch if source is PartSource.FRAMES else AudioChunk

    # Speech runs one chunk at a time: CTranslate2 already spreads one chunk over the cores,
    # and in order the first chunk's words are out before the second chunk starts.
    concurrency = 1 if "speech" in names else settings.worker_threads

    @app.agent(topics[topic_name], name=f"analyze-{source.value}", concurrency=concurrency)
    async def analyze(stream: StreamT[Any]) -> None:
        async for event in stream.events():
            message = event.message
            video_id = _key(message).split(":", 1)[0] or None
            try:
                batch: FrameBatch | AudioChunk = model.model_validate_json(_value(message))
                video_id = batch.video_id
                decoded = await services.run(decode_part, batch)
            except Exception as exc:  # noqa: BLE001 - a bad part must not stop the worker
                await wiring.reject(f"analyze-{source.value}", message, video_id, exc)
                continue
            for name in names:
                try:
                    analyzer = await load(name)
                except Exception as exc:  # noqa: BLE001 - a missing model fails its parts
                    record = await wiring.reject(f"analyze-{name}", message, video_id, exc)
                    part = failed_part(
                        batch, video_id=batch.video_id, analyzer=name, error=record.error
                    )
                else:
                    hook = None
                    if name == "speech" and isinstance(batch, AudioChunk):
                        hook = _preview_hook(wiring, batch)
                    part, failure = await services.run(
                        functools.partial(
                            run_analyzer, analyzer, decoded, video_id=batch.video_id, on_words=hook
                        )
                    )
                    if failure is not None:
                        await wiring.reject(f"analyze-{name}", message, video_id, failure)
                metrics.observe(wiring.role, f"analyze-{name}", part.elapsed_s, _media_s(batch))
                part.run = batch.run
                await wiring.publish(ANALYZER_RESULTS, batch.video_id, part)


def _preview_hook(wiring: Wiring, chunk: AudioChunk) -> WordsHook:
    """Publishes a chunk's words from the analyzer's thread, while it goes on with the rest."""
    loop = asyncio.get_running_loop()
    video_id = chunk.video_id

    def send(segments: list[PartialSegment]) -> None:
        if not segments:
            return
        preview = TranscriptPreview(
            video_id=video_id, run=chunk.run, chunk_index=chunk.chunk_index, segments=segments
        )
        sent = asyncio.run_coroutine_threadsafe(
            wiring.publish(ANALYZER_RESULTS, video_id, preview), loop
        )
        # Only a preview: the part carries the same words, so a lost one is just logged.
        sent.add_done_callback(lambda done: _log_lost_preview(done, video_id))

    return send


def _log_lost_preview(done: Any, video_id: str) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.warning("preview of video_id=%s lost: %s", video_id, done.exception())


# --------------------------------------------------------------------------- join


def _add_join(wiring: Wiring) -> None:
    app, settings, services = wiring.app, wiring.settings, wiring.services
    # Keys must be str: Faust writes bytes keys raw but reads changelog keys back as JSON, so
    # a bytes key breaks recovery after a restart ("Error in recovery Expecting value").
    state_table = acked_table(app, JOIN_TABLE, settings.topic_partitions)
    parts_table = acked_table(app, PARTS_TABLE, settings.topic_partitions)
    join_topic = app.topic(
        settings.topic(VIDEO_MANIFESTS),
        settings.topic(ANALYZER_RESULTS),
        key_serializer="raw",
        value_serializer="raw",
    )

    async def save(result: AnalysisResult) -> None:
        await (await services.results()).save_result(result)

    async def finalize(video_id: str, state: JoinState, result: AnalysisResult) -> None:
        await services.until_stored("result", video_id, lambda: save(result))
        progress = 1.0 if result.status != "failed" else state.progress()
        await services.until_stored(
            "final status",
            video_id,
            lambda: services.set_status(
                video_id,
                VideoState(result.status.value),
                run=state.run,
                progress=progress,
                stages=state.final_stages(),
                transcript=state.live_transcript(),
                error=result.error,
            ),
        )
        await wiring.publish(ANALYSIS_RESULTS, video_id, result)
        status_written.pop(video_id, None)
        # Marked only after the result is out: a crash before this line re-emits the same
        # result on replay (consumers dedupe by video_id) rather than losing it.
        for key in state.received:
            parts_table.pop(_part_table_key(video_id, key), None)
        done = join.finalized(state, result.status.value, time.time())
        state_table[video_id] = done.model_dump(mode="json")
        log.info(
            "final result video_id=%s status=%s missing=%s",
            video_id,
            result.status.value,
            result.missing,
        )

    status_written: dict[str, float] = {}

    async def show_progress(video_id: str, state: JoinState) -> None:
        """The video's status while it is processed: progress, stages and the words so far."""
        await services.show_status(
            video_id,
            VideoState.PROCESSING,
            run=state.run,
            progress=state.progress(),
            stages=state.stages(),
            transcript=state.live_transcript(),
        )

    async def forget(video_id: str, before: JoinState | None, marker: JoinState) -> None:
        """A deleted video: its parts, result and status go; a tombstone on the results topic
        tells consumers to drop theirs. (The API did the same; this covers a result the join
        was finishing meanwhile.)"""
        if before is not None:
            for key in before.received:
                parts_table.pop(_part_table_key(video_id, key), None)
        state_table[video_id] = marker.model_dump(mode="json")
        status_written.pop(video_id, None)

        async def delete_result() -> None:
            await (await services.results()).delete_result(video_id)

        await services.until_stored("deletion", video_id, delete_result)
        await services.until_stored(
            "deleted status",
            video_id,
            lambda: services.set_status(video_id, VideoState.DELETED),
        )
        fut = await wiring.topics[ANALYSIS_RESULTS].send(key=video_id.encode(), value=None)
        await fut
        log.info("deleted video_id=%s: its parts, result and status", video_id)

    def load_parts(
        video_id: str, state: JoinState, analyzer: str | None = None
    ) -> list[PartialResult]:
        """The parts received for ``video_id`` (only ``analyzer``'s, when given)."""
        parts = []
        for key in state.received:
            if analyzer is not None and not key.startswith(f"{analyzer}:"):
                continue
            raw_part = parts_table.get(_part_table_key(video_id, key))
            if raw_part is not None:
                parts.append(PartialResult.model_validate(raw_part))
        return parts

    async def handle(message: Any) -> None:
        """One message of the join's input: a manifest, a part, a deadline or a delete."""
        video_id = _key(message)
        try:
            payload = json.loads(_value(message))
            kind = payload.get("kind") if isinstance(payload, dict) else None
            item: SplitManifest | PartialResult | JoinDeadline | JoinDelete | TranscriptPreview
            if kind == "manifest":
                item = SplitManifest.model_validate(payload)
            elif kind == "partial":
                item = PartialResult.model_validate(payload)
            elif kind == "deadline":
                item = JoinDeadline.model_validate(payload)
            elif kind == "delete":
                item = JoinDelete.model_validate(payload)
            elif kind == "preview":
                item = TranscriptPreview.model_validate(payload)
            else:
                raise VideoAnalysisError(f"unknown message kind {kind!r}", code="invalid_event")
        except Exception as exc:  # noqa: BLE001 - malformed input goes to the DLQ
            await wiring.reject("join", message, video_id or None, exc)
            return
        video_id = item.video_id
        stored = state_table.get(video_id)
        before = JoinState.model_validate(stored) if stored else None
        if isinstance(item, TranscriptPreview):
            previewed = join.add_preview(before, item, time.time())
            if previewed is not None:
                state_table[video_id] = previewed.model_dump(mode="json")
                await show_progress(video_id, previewed)
            return
        step = join.apply(before, item, time.time(), settings.join_deadline_s)
        if step.action == join.Action.IGNORE:
            log.debug("late %s for finalized video_id=%s ignored", item.kind, video_id)
            return
        if step.action == join.Action.DELETE:
            await forget(video_id, before, step.state)
            return
        state = step.state
        new_part = step.new_part
        for key in step.dropped:  # a reprocess replaced the run these parts were of
            parts_table.pop(_part_table_key(video_id, key), None)
        if new_part is not None:
            key = _part_table_key(video_id, new_part.part_key)
            parts_table[key] = new_part.model_dump(mode="json")
            if new_part.analyzer == "speech" and new_part.error is None:
                # The transcript as it forms: shown in the status before the result.
                transcript = join.partial_transcript(
                    load_parts(video_id, state, "speech"),
                    settings.speech_max_compression_ratio,
                )
                state = state.model_copy(update={"transcript": transcript})
        if step.action == join.Action.BUILD:
            assert state.manifest is not None
            result = build_result(state.manifest, load_parts(video_id, state), settings=settings)
            await finalize(video_id, state, result)
            return
        if step.action == join.Action.SPLIT_INCOMPLETE:
            error = ErrorInfo(
                code="split_incomplete",
                message="parts arrived but the splitter never finished this video",
            )
            failed = failed_result(video_id, error).model_copy(update={"run": state.run})
            await finalize(video_id, state, failed)
            return
        state_table[video_id] = state.model_dump(mode="json")
        # Progress is written at most every STATUS_INTERVAL_S per video (readers poll about
        # that often); the manifest and new words at once.
        now = time.monotonic()
        news = isinstance(item, SplitManifest) or (
            new_part is not None and new_part.analyzer == "speech"
        )
        if news or (
            new_part is not None and now - status_written.get(video_id, 0.0) >= STATUS_INTERVAL_S
        ):
            status_written[video_id] = now
            await show_progress(video_id, state)

    @app.agent(join_topic, name="join")
    async def join_agent(stream: StreamT[Any]) -> None:
        async for event in stream.events():
            started = time.monotonic()
            await handle(event.message)
            # Only once the broker holds the state this message changed does it count as
            # processed (``streams/tables.py`` says why Faust's own commit is not enough).
            await wait_acked(state_table, parts_table)
            metrics.observe(wiring.role, "join", time.monotonic() - started)

    @app.timer(interval=settings.join_check_interval_s)  # type: ignore[untyped-decorator]
    async def check_deadlines() -> None:
        # Tables can only change inside stream iteration, so the timer asks the join agent
        # (through its own input topic, keyed like the video) to finalise overdue videos.
        now = time.time()
        states = [(key, JoinState.model_validate(value)) for key, value in state_table.items()]
        metrics.VIDEOS_IN_FLIGHT.set(sum(1 for _, state in states if not state.finalized))
        for table_key, state in states:
            if join.overdue(state, now, settings.join_deadline_s):
                video_id = str(table_key)
                # Not awaiting the ack: a lost tick is simply sent again next interval.
                await wiring.topics[ANALYZER_RESULTS].send(
                    key=video_id.encode(),
                    value=JoinDeadline(video_id=video_id).model_dump_json().encode(),
                )


#: How often a worker updates its consumer-lag gauges.
LAG_INTERVAL_S = 15.0
#: Least time between two progress writes of one video's status by the join.
STATUS_INTERVAL_S = 0.5


def _media_s(batch: FrameBatch | AudioChunk) -> float | None:
    """Seconds of media in a part, for the real-time factor."""
    if isinstance(batch, AudioChunk):
        return batch.end - batch.start
    times = [frame.t for frame in batch.frames]
    return max(times) - min(times) if len(times) > 1 else None


def _part_table_key(video_id: str, part_key: str) -> str:
    return f"{video_id}|{part_key}"


def _value(message: Any) -> bytes:
    """The raw value; a tombstone (None) is an empty, hence invalid, event."""
    value = message.value
    return value if isinstance(value, bytes) else b""


def _key(message: Any) -> str:
    key = message.key
    if isinstance(key, bytes):
        return key.decode("utf-8", errors="replace")
    return str(key) if key is not None else ""
