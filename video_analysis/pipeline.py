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

from .analyzers.registry import get_analyzer, validate_plan
from .analyzers.runner import part_source, run_analyzer
from .assemble import build_result, failed_result
from .errors import error_info
from .media.codec import decode_part
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
            generator = split_video(
                path, video_id, settings, language=(metadata or VideoMetadata()).language
            )
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
    return build_result(manifest, parts, settings=settings)


def _analyze_message(message: FrameBatch | AudioChunk, plan: AnalyzerPlan) -> list[PartialResult]:
    # The JSON round trip keeps this path identical to what crosses the broker.
    message = type(message).model_validate_json(message.model_dump_json())
    source, _ = part_source(message)
    decoded = decode_part(message)
    parts = []
    for name in plan.frames if source is PartSource.FRAMES else plan.audio:
        part, failure = run_analyzer(get_analyzer(name), decoded, video_id=message.video_id)
        if failure is not None:
            log.error("analyzer %s failed video_id=%s", name, message.video_id, exc_info=failure)
        parts.append(part)
    return parts
