"""An analyzer that crashes on one part yields a failed part, not a lost video."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel

from video_analysis.analyzers.base import (
    Analyzer,
    DecodedAudio,
    DecodedFrames,
    SummaryInput,
    WordsHook,
)
from video_analysis.analyzers.runner import failed_part, run_analyzer
from video_analysis.schemas import ErrorInfo, ModelInfo, PartData, PartSource
from video_analysis.settings import Settings


class Samples(PartData):
    n: int


class Exploding(Analyzer):
    name: ClassVar[str] = "exploding"
    sources: ClassVar[tuple[PartSource, ...]] = (PartSource.AUDIO,)
    sections: ClassVar[tuple[str, ...]] = ()

    @property
    def model_info(self) -> ModelInfo:
        return ModelInfo(analyzer=self.name, name="boom", version="1")

    audio_data: ClassVar[type[PartData] | None] = Samples

    def analyze_audio(self, chunk: DecodedAudio, *, on_words: WordsHook | None = None) -> Samples:
        if chunk.chunk_index == 1:
            raise ZeroDivisionError("bad chunk")
        return Samples(n=int(chunk.samples.size))

    @staticmethod
    def summarize(parts: SummaryInput[Any, Any]) -> dict[str, BaseModel]:
        return {}


def chunk(index: int) -> DecodedAudio:
    return DecodedAudio("v", index, index * 1.0, index + 1.0, 16_000, np.zeros(160, np.float32))


def test_good_part_carries_data_and_model() -> None:
    part, failure = run_analyzer(Exploding(Settings()), chunk(0), video_id="v")
    assert failure is None and part.error is None
    assert part.data == {"n": 160}
    assert (part.source, part.index, part.model.name) == (PartSource.AUDIO, 0, "boom")


def test_crash_becomes_failed_part_with_internal_error() -> None:
    part, failure = run_analyzer(Exploding(Settings()), chunk(1), video_id="v")
    assert isinstance(failure, ZeroDivisionError)
    assert part.error is not None and part.error.code == "internal_error"
    assert "bad chunk" in part.error.message
    assert part.data == {} and part.part_key == "exploding:audio:1"


def test_frames_sent_to_audio_only_analyzer_fail_cleanly() -> None:
    frames = DecodedFrames("v", 2, 5.0, [])
    part, failure = run_analyzer(Exploding(Settings()), frames, video_id="v")
    assert isinstance(failure, NotImplementedError)
    assert part.source is PartSource.FRAMES and part.error is not None


def test_a_part_whose_model_never_loaded_names_no_model_and_carries_the_error() -> None:

    chunk = DecodedAudio("v1", 3, 0.0, 1.0, 16_000, np.zeros(16_000, dtype=np.float32))
    error = ErrorInfo(code="model_not_available", message="run video-analysis models install")
    part = failed_part(chunk, video_id="v1", analyzer="speech", error=error)

    assert (part.source, part.index, part.part_key) == (PartSource.AUDIO, 3, "speech:audio:3")
    assert part.error == error and part.data == {}
    assert part.model.name == "unavailable" and part.models == [part.model]
