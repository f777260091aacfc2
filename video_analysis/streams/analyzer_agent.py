"""The analyzer agents: a frame batch or audio chunk in, one part per analyzer out (and the
speech worker's transcript previews); and the model reports behind ``/models/status``."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from faust.types import StreamT

from ..analyzers.base import Analyzer, WordsHook
from ..analyzers.registry import get_analyzer
from ..analyzers.runner import failed_part, run_analyzer
from ..media.codec import decode_part
from ..models import loaded_here
from ..schemas import (
    AudioChunk,
    FrameBatch,
    ModelLoad,
    PartialSegment,
    PartSource,
    TranscriptPreview,
)
from . import metrics
from .topics import ANALYZER_RESULTS
from .wiring import Wiring, message_key, message_value

log = logging.getLogger(__name__)


#: How often a worker tells the status store which models it holds (for /models/status).
MODEL_REPORT_INTERVAL_S = 15.0


def add_model_reports(wiring: Wiring, worker: str) -> None:
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


def add_analyzer_agent(
    wiring: Wiring,
    source: PartSource,
    topic_name: str,
    names: list[str],
) -> None:
    app, settings, services, topics = wiring.app, wiring.settings, wiring.services, wiring.topics

    async def load(name: str) -> Analyzer:
        # get_analyzer keeps one loaded instance per process; loading runs off the loop.
        return await services.run(get_analyzer, name, settings)

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

    # Speech too takes several chunks at once (of one long video or of several): the speech
    # analyzer gives each its own CTranslate2 worker (see SpeechAnalyzer.load).
    concurrency = settings.analysis_threads

    @app.agent(topics[topic_name], name=f"analyze-{source.value}", concurrency=concurrency)
    async def analyze(stream: StreamT[Any]) -> None:
        async for event in stream.events():
            message = event.message
            video_id = message_key(message).split(":", 1)[0] or None
            try:
                batch: FrameBatch | AudioChunk = model.model_validate_json(message_value(message))
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


def _media_s(batch: FrameBatch | AudioChunk) -> float | None:
    """Seconds of media in a part, for the real-time factor."""
    if isinstance(batch, AudioChunk):
        return batch.end - batch.start
    times = [frame.t for frame in batch.frames]
    return max(times) - min(times) if len(times) > 1 else None
