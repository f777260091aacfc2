"""Running analyzers on one decoded part: the same code for the agents and ``analyze``."""

from __future__ import annotations

import logging
import time

from ..errors import error_info
from ..schemas import AudioChunk, ErrorInfo, FrameBatch, ModelInfo, PartialResult, PartSource
from .base import Analyzer, DecodedAudio, DecodedFrames, WordsHook

log = logging.getLogger(__name__)


def part_source(
    message: FrameBatch | AudioChunk | DecodedFrames | DecodedAudio,
) -> tuple[PartSource, int]:
    """The part's source and index, for a message or what was decoded from it."""
    if isinstance(message, FrameBatch | DecodedFrames):
        return PartSource.FRAMES, message.batch_index
    return PartSource.AUDIO, message.chunk_index


def failed_part(
    message: FrameBatch | AudioChunk | DecodedFrames | DecodedAudio,
    *,
    video_id: str,
    analyzer: str,
    error: ErrorInfo,
    models: list[ModelInfo] | None = None,
    elapsed_s: float = 0.0,
) -> PartialResult:
    """The part an analyzer could not produce: it carries the error, so the join reports it
    instead of waiting for it. ``models`` is empty when the analyzer's model never loaded."""
    source, index = part_source(message)
    used = models or [ModelInfo(analyzer=analyzer, name="unavailable", version="none")]
    return PartialResult(
        video_id=video_id,
        analyzer=analyzer,
        source=source,
        index=index,
        model=used[0],
        models=used,
        error=error,
        elapsed_s=elapsed_s,
    )


def run_analyzer(
    analyzer: Analyzer,
    decoded: DecodedFrames | DecodedAudio,
    *,
    video_id: str,
    on_words: WordsHook | None = None,
) -> tuple[PartialResult, Exception | None]:
    """One analyzer on one part. A crash becomes a part with ``error`` (and is returned, so
    the caller can dead-letter it) instead of stopping the other parts of the video."""
    started = time.monotonic()
    try:
        if isinstance(decoded, DecodedFrames):
            data = analyzer.analyze_frames(decoded)
        else:
            data = analyzer.analyze_audio(decoded, on_words=on_words)
    except Exception as exc:  # noqa: BLE001 - reported on the part and to the caller
        elapsed_s = round(time.monotonic() - started, 4)
        part = failed_part(
            decoded,
            video_id=video_id,
            analyzer=analyzer.name,
            error=error_info(exc),
            models=analyzer.models,
            elapsed_s=elapsed_s,
        )
        return part, exc
    source, index = part_source(decoded)
    part = PartialResult(
        video_id=video_id,
        analyzer=analyzer.name,
        source=source,
        index=index,
        model=analyzer.model_info,
        models=analyzer.models,
        data=data.model_dump(mode="json"),
        elapsed_s=round(time.monotonic() - started, 4),
    )
    return part, None
