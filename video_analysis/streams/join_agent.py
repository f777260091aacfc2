"""The join agent: manifests, parts, deadlines and deletes in, one result per video out.

Its decisions are ``join.apply``'s; this module moves messages, tables and stores around it."""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiokafka.errors import KafkaError
from faust.exceptions import ProducerSendError
from faust.types import StreamT

from .. import claim_check, heap
from .. import join as rules
from ..assemble import build_result, failed_result
from ..errors import SourceUnavailable, VideoAnalysisError
from ..join import JoinState
from ..schemas import (
    AnalysisResult,
    DeadLetter,
    ErrorInfo,
    JoinDeadline,
    JoinDelete,
    PartialResult,
    PartialSegment,
    ResultRef,
    SplitManifest,
    TranscriptPreview,
    VideoState,
)
from ..settings import Settings
from ..store.connect import StoreUnavailable
from . import metrics
from .delivery import deliver
from .names import JOIN_TABLE, PARTS_TABLE
from .tables import AckedTable, acked_table, packed, unpacked, wait_acked
from .topics import ANALYSIS_RESULTS, ANALYZER_RESULTS, DLQ, VIDEO_MANIFESTS, VIDEO_UPLOADED
from .wiring import Services, Wiring, message_key, message_value

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Least time between two progress writes of one video's status by the join.
STATUS_INTERVAL_S = 0.5


@dataclass
class Join:
    """One join process: its tables, the stores and topics it writes to (``wiring``), and
    what it keeps in memory only. ``handle`` is what its agent does with each message."""

    wiring: Wiring
    #: Each video's ``JoinState`` (as JSON), by video id; on a changelog topic.
    state_table: AckedTable
    #: Each part received (its JSON, compressed), by ``video_id|part_key``; on a changelog topic.
    parts_table: AckedTable
    #: When each video's progress was last written to its status (monotonic seconds).
    status_written: dict[str, float] = field(default_factory=dict)
    #: Each video's transcript so far, by audio chunk: kept in this process only (the state's
    #: changelog would carry it on every message) and rebuilt from the parts after a restart.
    heard: dict[str, dict[int, list[PartialSegment]]] = field(default_factory=dict)
    #: The pace of the videos this process finished lately (``join.pace``): how long it gives
    #: a video before it judges it stuck. In memory: after a restart the setting's default
    #: serves until videos are measured again.
    paces: deque[float] = field(default_factory=lambda: deque(maxlen=rules.MEASURED_VIDEOS))

    @property
    def settings(self) -> Settings:
        return self.wiring.settings

    def patience(self) -> rules.Patience:
        settings = self.settings
        return rules.Patience(
            floor_s=settings.join_deadline_s,
            per_media_s=rules.per_media_s(
                self.paces, settings.join_seconds_per_media_s, settings.join_pace_margin
            ),
            quiet_s=settings.join_quiet_s,
            heal_runs=settings.join_heal_runs,
        )

    @property
    def services(self) -> Services:
        return self.wiring.services


def add_join(wiring: Wiring) -> Any:
    """Register the join's agent and its deadline timer on ``wiring.app``; the agent."""
    app, settings = wiring.app, wiring.settings
    # Keys must be str: Faust writes bytes keys raw but reads changelog keys back as JSON, so
    # a bytes key breaks recovery after a restart ("Error in recovery Expecting value").
    join = Join(
        wiring,
        acked_table(app, JOIN_TABLE, settings.topic_partitions),
        acked_table(app, PARTS_TABLE, settings.topic_partitions),
    )
    join_topic = app.topic(
        settings.topic(VIDEO_MANIFESTS),
        settings.topic(ANALYZER_RESULTS),
        key_serializer="raw",
        value_serializer="raw",
    )

    @app.agent(join_topic, name="join")
    async def join_agent(stream: StreamT[Any]) -> None:
        async for event in stream.events():
            started = time.monotonic()
            await handle(join, event.message)
            # Only once the broker holds the state this message changed does it count as
            # processed (``streams/tables.py`` says why Faust's own commit is not enough).
            await wait_acked(join.state_table, join.parts_table)
            metrics.observe(wiring.role, "join", time.monotonic() - started)

    @app.timer(interval=settings.join_check_interval_s)  # type: ignore[untyped-decorator]
    async def check_deadlines() -> None:
        await ask_overdue(join)

    @app.timer(interval=settings.join_sweep_interval_s)  # type: ignore[untyped-decorator]
    async def sweep_in_flight() -> None:
        await sweep(join)

    return join_agent


async def handle(join: Join, message: Any) -> None:
    """One message of the join's input: a manifest, a part, a deadline or a delete."""
    item = await _read(join, message)
    if item is None:
        return
    video_id = item.video_id
    stored = join.state_table.get(video_id)
    before = JoinState.model_validate(stored) if stored else None
    if isinstance(item, TranscriptPreview):
        previewed = rules.add_preview(before, item, time.time())
        if previewed is not None:
            join.state_table[video_id] = previewed.model_dump(mode="json")
            await show_progress(join, video_id, previewed)
        return
    step = rules.apply(before, item, time.time(), join.patience())
    if step.action == rules.Action.IGNORE:
        log.debug("late %s for finalized video_id=%s ignored", item.kind, video_id)
        return
    if step.action == rules.Action.DELETE:
        await forget(join, video_id, before, step.state)
        return
    state = step.state
    new_part = step.new_part
    for key in step.dropped:  # a reprocess replaced the run these parts were of
        join.parts_table.pop(_part_table_key(video_id, key), None)
    if new_part is not None:
        _keep_part(join, state, new_part)
    action: rules.Action = step.action
    if action == rules.Action.HEAL:
        if await heal(join, video_id, state):
            return
        action = rules.given_up(state)
    if isinstance(item, JoinDeadline) and action != rules.Action.WAIT:
        metrics.HEALS.labels("given_up").inc()
        log.warning(
            "video_id=%s run %d stuck (%s) after %d runs started again: %s",
            video_id,
            state.run,
            state.stuck_on(),
            state.heals,
            "a partial result" if action == rules.Action.BUILD else "failed",
        )
    if action == rules.Action.BUILD:
        assert state.manifest is not None
        result = build_result(
            state.manifest, TableParts(join, video_id, state), settings=join.settings
        )
        await finalize(join, video_id, state, result)
        # What the build and the result took is free now: back to the system, not held
        # until the next long video (an hour's left 20 to 50 MiB in the heap's free pages).
        del result
        heap.trim()
        return
    if action == rules.Action.SPLIT_INCOMPLETE:
        error = ErrorInfo(
            code="split_incomplete",
            message="parts arrived but the splitter's manifest never did"
            + (f", in {state.heals + 1} runs" if state.heals else ""),
        )
        failed = failed_result(video_id, error).model_copy(update={"run": state.run})
        await finalize(join, video_id, state, failed)
        return
    join.state_table[video_id] = state.model_dump(mode="json")
    # Progress is written at most every STATUS_INTERVAL_S per video (readers poll about
    # that often); the manifest and new words at once.
    now = time.monotonic()
    news = isinstance(item, SplitManifest) or (
        new_part is not None and new_part.analyzer == "speech"
    )
    if news or (
        new_part is not None and now - join.status_written.get(video_id, 0.0) >= STATUS_INTERVAL_S
    ):
        join.status_written[video_id] = now
        await show_progress(join, video_id, state)


Item = SplitManifest | PartialResult | JoinDeadline | JoinDelete | TranscriptPreview
_KINDS: dict[str, type[Item]] = {
    "manifest": SplitManifest,
    "partial": PartialResult,
    "deadline": JoinDeadline,
    "delete": JoinDelete,
    "preview": TranscriptPreview,
}


async def _read(join: Join, message: Any) -> Item | None:
    """The message as what it is; None (and a DLQ record) when it is none of them."""
    video_id = message_key(message)
    try:
        payload = json.loads(message_value(message))
        kind = payload.get("kind") if isinstance(payload, dict) else None
        model = _KINDS.get(kind) if isinstance(kind, str) else None
        if model is None:
            raise VideoAnalysisError(f"unknown message kind {kind!r}", code="invalid_event")
        return model.model_validate(payload)
    except Exception as exc:  # noqa: BLE001 - malformed input goes to the DLQ
        await join.wiring.reject("join", message, video_id or None, exc)
        return None


def _keep_part(join: Join, state: JoinState, part: PartialResult) -> None:
    video_id = part.video_id
    # As compressed JSON: an hour's parts take a fraction of the memory they take as dicts.
    join.parts_table[_part_table_key(video_id, part.part_key)] = packed(part.model_dump_json())
    if part.analyzer == "speech" and part.error is None:
        # The transcript as it forms, shown in the status before the result: this chunk's
        # words are added to the others' (no part is read again).
        heard_chunks(join, video_id, state)[part.index] = rules.partial_transcript(
            [part], join.settings.speech_max_compression_ratio
        )


async def ask_overdue(join: Join) -> None:
    """Ask the join agent to act on each stuck video (``Patience.stuck``). Tables can only
    change inside stream iteration, so the timer sends it a deadline through its own input
    topic, keyed like the video."""
    now = time.time()
    patience = join.patience()
    states = [(key, JoinState.model_validate(value)) for key, value in join.state_table.items()]
    metrics.VIDEOS_IN_FLIGHT.set(sum(1 for _, state in states if not state.finalized))
    for table_key, state in states:
        if patience.stuck(state, now):
            video_id = str(table_key)
            # Not awaiting the ack: a lost tick is simply sent again next interval.
            await join.wiring.topics[ANALYZER_RESULTS].send(
                key=video_id.encode(),
                value=JoinDeadline(video_id=video_id).model_dump_json().encode(),
            )


async def sweep(join: Join) -> list[str]:
    """Ask the join about each video the status store says is in flight, unchanged for longer
    than any video waits for its first message, that this join follows no run of (its upload
    event lost on the way to the splitter, say): a deadline with the run in flight, on the
    join's own input, keyed like the video, so that the join process that owns the video
    starts following it and heals it once it is stuck. The videos asked about."""
    patience = join.patience()
    try:
        in_flight = await (await join.services.status()).in_flight()
    except Exception as exc:  # noqa: BLE001 - a store outage, or its client's error mid-scan
        log.warning("sweep of videos in flight skipped (tried again later): %s", exc)
        return []
    now = datetime.now(UTC)
    asked = []
    for status in in_flight:
        stored = join.state_table.get(status.video_id)
        held = JoinState.model_validate(stored) if stored else None
        if held is not None and not held.finalized and held.run >= status.run:
            continue
        if (now - status.updated_at).total_seconds() < patience.floor_s + patience.quiet_s:
            continue
        deadline = JoinDeadline(video_id=status.video_id, run=status.run)
        await join.wiring.topics[ANALYZER_RESULTS].send(
            key=status.video_id.encode(), value=deadline.model_dump_json().encode()
        )
        asked.append(status.video_id)
    if asked:
        log.warning("sweep: %d video(s) in flight and quiet the join follows no run of", len(asked))
    return asked


async def heal(join: Join, video_id: str, state: JoinState) -> bool:
    """Publish a stuck video's kept event again as its next run, as ``reprocess`` would
    without a person: its status says ``queued`` with the new run, and what the join held of
    the old run goes (its late messages are ignored). False when its upload is no longer kept,
    so that there is nothing to analyse again.

    A crash midway repeats the step on replay (the deadline message is not committed): the
    same run is claimed and published again, and its parts count once."""
    services = join.services

    event = await services.until_stored(
        "kept event",
        video_id,
        lambda: _from_sources(services, services.sources.kept_event, video_id),
    )
    if event is None:
        return False
    run = state.run + 1
    await services.until_stored(
        "status", video_id, lambda: services.set_status(video_id, VideoState.QUEUED, run=run)
    )
    await join.wiring.publish(VIDEO_UPLOADED, video_id, event.model_copy(update={"run": run}))
    for key in state.received:
        join.parts_table.pop(_part_table_key(video_id, key), None)
    join.heard.pop(video_id, None)
    join.status_written.pop(video_id, None)
    join.state_table[video_id] = rules.healing(state, time.time()).model_dump(mode="json")
    metrics.HEALS.labels("healed").inc()
    log.warning(
        "video_id=%s run %d stuck (%s, %d of %d parts in): published again as run %d "
        "(%d of at most %d)",
        video_id,
        state.run,
        state.stuck_on(),
        len(state.received),
        len(state.manifest.expected_parts()) if state.manifest is not None else 0,
        run,
        state.heals + 1,
        join.settings.join_heal_runs,
    )
    return True


async def finalize(join: Join, video_id: str, state: JoinState, result: AnalysisResult) -> None:
    """Store the result, write the final status, announce it, then mark the video done."""
    services, settings = join.services, join.settings
    body = claim_check.body_of(result)
    await services.until_stored("result", video_id, lambda: _save(join, result, body))
    object_uri = await services.until_stored(
        "result object", video_id, lambda: _keep_object(join, result, body)
    )
    await _final_status(join, video_id, state, result, result.error)
    ref = claim_check.reference(
        result, body, public_base_url=settings.public_base_url, object_uri=object_uri
    )
    undelivered = await announce(join, video_id, result, body, ref)
    if undelivered is not None:
        # The result is stored and served; its status says it never reached the topic.
        await _final_status(join, video_id, state, result, result.error or undelivered)
    join.status_written.pop(video_id, None)
    # Marked only after the result is out: a crash before this line re-emits the same
    # result on replay (consumers dedupe by video_id) rather than losing it.
    for key in state.received:
        join.parts_table.pop(_part_table_key(video_id, key), None)
    join.heard.pop(video_id, None)
    now = time.time()
    if result.status == "complete" and (pace := rules.pace(state, now)) is not None:
        join.paces.append(pace)
    done = rules.finalized(state, result.status.value, now)
    join.state_table[video_id] = done.model_dump(mode="json")
    log.info(
        "final result video_id=%s status=%s missing=%s",
        video_id,
        result.status.value,
        result.missing,
    )


async def announce(
    join: Join, video_id: str, result: AnalysisResult, body: bytes, ref: ResultRef
) -> ErrorInfo | None:
    """Publish the result, whole or as a claim check; why it did not go out, if it did not.
    One that cannot be published at all gets a DLQ record (when the broker takes that),
    never a crash."""
    wiring, settings = join.wiring, join.settings
    messages = claim_check.fitting(
        claim_check.forms(result, body, ref), settings.result_message_bytes
    )
    delivery = await deliver(
        lambda value: wiring.send_once(ANALYSIS_RESULTS, video_id, value),
        messages,
        video_id=video_id,
        patience_s=settings.result_send_timeout_s,
    )
    metrics.RESULTS.labels(delivery.form or "not_delivered").inc()
    if delivery.error is None:
        return None
    metrics.failed(wiring.role, "deliver", delivery.error.code)
    record = DeadLetter(
        stage="deliver",
        topic=settings.topic(ANALYSIS_RESULTS),
        video_id=video_id,
        error=delivery.error,
        payload=ref.model_dump_json(),
    )
    try:
        await wiring.publish(DLQ, video_id, record)
    except (ProducerSendError, KafkaError) as exc:
        log.error("DLQ record of video_id=%s not sent either: %r", video_id, exc)
    return delivery.error


async def forget(join: Join, video_id: str, before: JoinState | None, marker: JoinState) -> None:
    """A deleted video: its parts, result and status go; a tombstone on the results topic
    tells consumers to drop theirs. (The API did the same; this covers a result the join
    was finishing meanwhile.)"""
    services = join.services
    if before is not None:
        for key in before.received:
            join.parts_table.pop(_part_table_key(video_id, key), None)
    join.state_table[video_id] = marker.model_dump(mode="json")
    join.status_written.pop(video_id, None)
    join.heard.pop(video_id, None)

    async def delete_result() -> None:
        await (await services.results()).delete_result(video_id)

    await services.until_stored("deletion", video_id, delete_result)
    await services.until_stored(
        "deleted status",
        video_id,
        lambda: services.set_status(video_id, VideoState.DELETED),
    )
    await join.wiring.send(ANALYSIS_RESULTS, video_id, None)
    log.info("deleted video_id=%s: its parts, result and status", video_id)


async def show_progress(join: Join, video_id: str, state: JoinState) -> None:
    """The video's status while it is processed: progress, stages and the words so far."""
    await join.services.show_status(
        video_id,
        VideoState.PROCESSING,
        run=state.run,
        progress=state.progress(),
        stages=state.stages(),
        transcript=state.live_transcript(heard_by(join, video_id, state)),
    )


def heard_chunks(join: Join, video_id: str, state: JoinState) -> dict[int, list[PartialSegment]]:
    """The words of each speech part in so far, by chunk (read from the parts once per
    process, after a restart)."""
    chunks = join.heard.get(video_id)
    if chunks is None:
        ratio = join.settings.speech_max_compression_ratio
        chunks = join.heard[video_id] = {
            part.index: rules.partial_transcript([part], ratio)
            for part in load_parts(join, video_id, state, "speech")
        }
    return chunks


def heard_by(join: Join, video_id: str, state: JoinState) -> list[PartialSegment]:
    """The transcript of the speech parts in so far, in time order."""
    return sorted(
        (
            segment
            for segments in heard_chunks(join, video_id, state).values()
            for segment in segments
        ),
        key=lambda s: (s.start, s.end),
    )


def load_parts(
    join: Join, video_id: str, state: JoinState, analyzer: str | None = None
) -> Iterator[PartialResult]:
    """The parts received for ``video_id`` (only ``analyzer``'s, when given), read from the
    table one at a time: ``build_result`` keeps only what it needs of each."""
    for key in state.received:
        if analyzer is not None and not key.startswith(f"{analyzer}:"):
            continue
        raw_part = unpacked(join.parts_table.get(_part_table_key(video_id, key)))
        if isinstance(raw_part, str):
            yield PartialResult.model_validate_json(raw_part)
        elif raw_part is not None:  # a dict, as parts were kept before
            yield PartialResult.model_validate(raw_part)


@dataclass(frozen=True)
class TableParts:
    """One video's parts in the join's table, read one analyzer's at a time by
    ``build_result``."""

    join: Join
    video_id: str
    state: JoinState

    def analyzers(self) -> set[str]:
        return {key.split(":", 1)[0] for key in self.state.received}

    def of(self, analyzer: str) -> Iterator[PartialResult]:
        return load_parts(self.join, self.video_id, self.state, analyzer)


async def _save(join: Join, result: AnalysisResult, body: bytes) -> None:
    await (await join.services.results()).save_result(result, body)


async def _keep_object(join: Join, result: AnalysisResult, body: bytes) -> str | None:
    services = join.services
    return await _from_sources(
        services, services.sources.keep_result, result.video_id, result.run, body
    )


async def _from_sources(services: Services, fn: Callable[..., T], *args: Any) -> T:
    """``fn`` of the upload/object store, in a thread; its outage is a store's
    (``StoreUnavailable``), which ``until_stored`` waits out."""
    try:
        return await services.run(fn, *args)
    except SourceUnavailable as exc:
        raise StoreUnavailable(str(exc)) from exc


async def _final_status(
    join: Join,
    video_id: str,
    state: JoinState,
    result: AnalysisResult,
    error: ErrorInfo | None,
) -> None:
    progress = 1.0 if result.status != "failed" else state.progress()
    await join.services.until_stored(
        "final status",
        video_id,
        lambda: join.services.set_status(
            video_id,
            VideoState(result.status.value),
            run=state.run,
            progress=progress,
            stages=state.final_stages(),
            transcript=state.live_transcript(heard_by(join, video_id, state)),
            error=error,
        ),
    )


def _part_table_key(video_id: str, part_key: str) -> str:
    return f"{video_id}|{part_key}"
