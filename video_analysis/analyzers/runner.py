"""Running analyzers on one decoded part: the same code for the agents and ``analyze``."""

from __future__ import annotations

import logging
import time
from typing import Any

from ..errors import error_info
from ..schemas import AudioChunk, FrameBatch, PartialResult, PartSource
from .base import Analyzer, DecodedAudio, DecodedFrames

log = logging.getLogger(__name__)


def part_source(message: FrameBatch | AudioChunk) -> tuple[PartSource, int]:
    if isinstance(message, FrameBatch):
        return PartSource.FRAMES, message.batch_index
    return PartSource.AUDIO, message.chunk_index


def run_analyzer(
    analyzer: Analyzer,
    decoded: DecodedFrames | DecodedAudio,
    *,
    video_id: str,
) -> tuple[PartialResult, Exception | None]:
    """One analyzer on one part. A crash becomes a part with ``error`` (and is returned, so
    the caller can dead-letter it) instead of stopping the other parts of the video."""
    started = time.monotonic()
    data: dict[str, Any] = {}
    failure: Exception | None = None
    source, index = (
        (PartSource.FRAMES, decoded.batch_index)
        if isinstance(decoded, DecodedFrames)
        else (PartSource.AUDIO, decoded.chunk_index)
    )
    try:
        if isinstance(decoded, DecodedFrames):
            data = analyzer.analyze_frames(decoded)
        else:
            data = analyzer.analyze_audio(decoded)
    except Exception as exc:  # noqa: BLE001 - reported on the part and to the caller
        failure = exc
    part = PartialResult(
        video_id=video_id,
        analyzer=analyzer.name,
        source=source,
        index=index,
        model=analyzer.model_info,
        models=analyzer.models,
        data=data,
        error=error_info(failure) if failure is not None else None,
        elapsed_s=round(time.monotonic() - started, 4),
    )
    return part, failure
