"""The analyzer interface: what agents and the in-process pipeline call.

An analyzer is pure: decoded frames or audio in, its typed per-part data out (a ``PartData``
model of ``schemas.parts``, which travels as JSON). It never touches Kafka or HTTP.
``summarize`` runs in the join over every part of one video and builds the video-wide typed
section(s) from the per-part data, using timestamps, so that parts of one video can be analysed
by different workers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from ..schemas import ModelInfo, PartialSegment, PartSource, SplitManifest
from ..schemas.parts import PartData
from ..settings import Settings

FramesData = TypeVar("FramesData", bound=PartData)
AudioData = TypeVar("AudioData", bound=PartData)

#: Called by a transcribing analyzer with a chunk's segments before its other work is done.
WordsHook = Callable[[list[PartialSegment]], None]


@dataclass(frozen=True)
class DecodedFrame:
    index: int
    t: float
    image: NDArray[np.uint8]  # BGR, H x W x 3


@dataclass(frozen=True)
class DecodedFrames:
    video_id: str
    batch_index: int
    sample_fps: float
    frames: list[DecodedFrame]


@dataclass(frozen=True)
class DecodedAudio:
    video_id: str
    chunk_index: int
    start: float
    end: float
    sample_rate: int
    samples: NDArray[np.float32]  # mono in [-1, 1]
    language: str | None = None  # the upload's spoken-language override
    interview_language: str | None = None  # that of the interview's earlier answers


@dataclass
class SummaryInput(Generic[FramesData, AudioData]):
    """What the join hands to ``summarize``: the manifest, the settings (thresholds) and this
    analyzer's parts' data, read back into its ``frames_data`` and ``audio_data`` models."""

    manifest: SplitManifest
    settings: Settings
    frames: list[FramesData] = field(default_factory=list)  # data of each frame part
    audio: list[AudioData] = field(default_factory=list)  # data of each audio part


class Analyzer(ABC):
    """One analyzer kind. ``load`` once per process; ``analyze_*`` per batch or chunk."""

    name: ClassVar[str]
    sources: ClassVar[tuple[PartSource, ...]]
    #: Result sections this analyzer fills, named in ``missing`` when its parts do not arrive.
    sections: ClassVar[tuple[str, ...]]
    #: The models of its per-part data, by source (None: it does not read that source).
    frames_data: ClassVar[type[PartData] | None] = None
    audio_data: ClassVar[type[PartData] | None] = None

    def __init__(self, settings: Settings) -> None:
        #: The settings it runs under: the caller's (``analyze_file``'s, the worker's).
        self._settings = settings

    def load(self) -> None:  # noqa: B027 - analyzers without weights need no loading
        """Read weights from the model bundle. Heavy imports go here, not at module level."""

    @property
    @abstractmethod
    def model_info(self) -> ModelInfo: ...

    @property
    def models(self) -> list[ModelInfo]:
        """Every model behind this analyzer's parts, the main one (``model_info``) first."""
        return [self.model_info]

    def analyze_frames(self, batch: DecodedFrames) -> PartData:
        raise NotImplementedError(f"{self.name} does not analyse frames")

    def analyze_audio(self, chunk: DecodedAudio, *, on_words: WordsHook | None = None) -> PartData:
        """The part's data. An analyzer that transcribes calls ``on_words`` with the chunk's
        segments as soon as it has them, before the rest of its work (a preview)."""
        raise NotImplementedError(f"{self.name} does not analyse audio")

    @classmethod
    def part_data(cls, source: PartSource) -> type[PartData]:
        """The model of this analyzer's data for parts of ``source``."""
        model = cls.frames_data if source == PartSource.FRAMES else cls.audio_data
        if model is None:
            raise ValueError(f"{cls.name} does not analyse {source.value}")
        return model

    @staticmethod
    @abstractmethod
    def summarize(parts: SummaryInput[Any, Any]) -> dict[str, BaseModel]:
        """Build result sections from all parts of one video: ``{section_path: section}``.

        ``section_path`` is a top-level section name (``"face"``) or a dotted path into one
        (``"media.quality"``). Parts may be missing (partial results); use timestamps, never
        the count of parts, for time-based figures.
        """
