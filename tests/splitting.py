"""A file split as the splitter agent splits it, for tests that analyse its messages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from video_analysis.media.splitter import SplitSummary, split_video
from video_analysis.schemas import AudioChunk, FrameBatch
from video_analysis.settings import Settings


@dataclass
class Split:
    """Every message ``split_video`` made of a file, and its summary (the generator's return)."""

    batches: list[FrameBatch]
    chunks: list[AudioChunk]
    summary: SplitSummary


def split_all(path: Path, video_id: str, settings: Settings, **languages: str | None) -> Split:
    """Drain ``split_video``: its frame batches and audio chunks in the order it made them."""
    batches: list[FrameBatch] = []
    chunks: list[AudioChunk] = []
    generator = split_video(path, video_id, settings, **languages)
    while True:
        try:
            message = next(generator)
        except StopIteration as stop:
            return Split(batches, chunks, stop.value)
        if isinstance(message, FrameBatch):
            batches.append(message)
        else:
            chunks.append(message)
