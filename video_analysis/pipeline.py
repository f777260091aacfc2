"""The whole analysis in one process, without a broker (``video-analysis analyze PATH``).

It runs exactly the code the agents run: ``split_video`` produces the same messages, each goes
through the same JSON round trip and decoding, the same analyzers, and ``build_result``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .analyzers.registry import get_analyzer, validate_plan
from .assemble import build_result, failed_result
from .media.codec import decode_audio_chunk, decode_frame_batch
from .media.splitter import split_video
from .schemas import (
    AnalysisResult,
    AnalyzerPlan,
    AudioChunk,
    FrameBatch,
    PartialResult,
    PartSource,
    SplitManifest,
    VideoMetadata,
)
from .settings import Settings
from .streams.failures import error_info

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]


def analyze_file(
    path: Path,
    settings: Settings,
    *,
    video_id: str | None = None,
    metadata: VideoMetadata | None = None,
    progress: Progress | None = None,
) -> AnalysisResult:
    """Analyse a local file; a file that cannot be analysed gives a ``failed`` result."""
    video_id = video_id or uuid.uuid4().hex
    submitted_at = datetime.now(UTC)
    validate_plan(settings.frame_analyzers, settings.audio_analyzers)
    plan = AnalyzerPlan(frames=list(settings.frame_analyzers), audio=list(settings.audio_analyzers))
    parts: list[PartialResult] = []
    started = time.monotonic()
    with ThreadPoolExecutor(settings.worker_threads, thread_name_prefix="analyze") as pool:
        futures = []
        try:
            generator = split_video(path, video_id, settings)
            while True:
                try:
                    message = next(generator)
                except StopIteration as stop:
                    summary = stop.value
                    break
                futures.append(pool.submit(_analyze_message, message, plan))
            split_s = time.monotonic() - started
        except Exception as exc:  # noqa: BLE001 - same decision as the splitter agent
            info = error_info(exc)
            if info.code == "internal_error":
                log.exception("analysis failed video_id=%s", video_id)
            return failed_result(video_id, info)
        for done, future in enumerate(futures, start=1):
            # Through JSON, as on the broker: data that would not survive Kafka fails here too.
            parts.extend(
                PartialResult.model_validate_json(p.model_dump_json()) for p in future.result()
            )
            if progress is not None:
                progress("analyze", done / len(futures))
    manifest = SplitManifest(
        video_id=video_id,
        uri=str(path),
        metadata=metadata or VideoMetadata(),
        media=summary.media,
        frame_batches=summary.frame_batches,
        audio_chunks=summary.audio_chunks,
        frames_sampled=summary.frames_sampled,
        sample_fps=summary.sample_fps,
        analyzers=plan,
        split_s=split_s,
        submitted_at=submitted_at,
    )
    return build_result(manifest, parts)


def _analyze_message(message: FrameBatch | AudioChunk, plan: AnalyzerPlan) -> list[PartialResult]:
    # The JSON round trip keeps this path identical to what crosses the broker.
    if isinstance(message, FrameBatch):
        source, names, index = PartSource.FRAMES, plan.frames, message.batch_index
        decoded: Any = decode_frame_batch(FrameBatch.model_validate_json(message.model_dump_json()))
    else:
        source, names, index = PartSource.AUDIO, plan.audio, message.chunk_index
        decoded = decode_audio_chunk(AudioChunk.model_validate_json(message.model_dump_json()))
    parts = []
    for name in names:
        analyzer = get_analyzer(name)
        started = time.monotonic()
        data: dict[str, Any] = {}
        error = None
        try:
            if source is PartSource.FRAMES:
                data = analyzer.analyze_frames(decoded)
            else:
                data = analyzer.analyze_audio(decoded)
        except Exception as exc:  # noqa: BLE001 - a failed analyzer gives a partial result
            log.exception("analyzer %s failed video_id=%s", name, message.video_id)
            error = error_info(exc)
        parts.append(
            PartialResult(
                video_id=message.video_id,
                analyzer=name,
                source=source,
                index=index,
                model=analyzer.model_info,
                data=data,
                error=error,
                elapsed_s=round(time.monotonic() - started, 4),
            )
        )
    return parts
