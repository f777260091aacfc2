"""pydantic v2 models for every topic, the result and the API bodies. No I/O here."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from .events import (
    SCHEMA_VERSION,
    AnalyzerPlan,
    AudioChunk,
    DeadLetter,
    ErrorInfo,
    FrameBatch,
    FrameImage,
    JoinDeadline,
    MediaInfo,
    ModelInfo,
    PartialResult,
    PartSource,
    QuestionSpan,
    SplitManifest,
    VideoMetadata,
    VideoUploaded,
    part_key,
)
from .result import (
    AnalysisResult,
    MediaQuality,
    MediaSection,
    ModelLoad,
    ReliabilityNote,
    ResultStatus,
    StructureSection,
    TimelineRow,
    TimelineWord,
    VideoState,
    VideoStatus,
)
from .section import Section
from .speech import Segment, Speakers, SpeechSection, Turn, Word
from .vision import (
    AwayEpisode,
    BlinksSection,
    Expression,
    ExpressionSecond,
    FaceSection,
    FaceTouchEpisode,
    GazeSection,
    GesturesSection,
    HeadPoseSection,
    Lean,
    Movement,
    PostureSection,
    Stats,
)

__all__ = [
    "SCHEMA_VERSION",
    "AnalysisResult",
    "AnalyzerPlan",
    "AudioChunk",
    "AwayEpisode",
    "BlinksSection",
    "DeadLetter",
    "ErrorInfo",
    "Expression",
    "ExpressionSecond",
    "FaceSection",
    "FaceTouchEpisode",
    "FrameBatch",
    "FrameImage",
    "GazeSection",
    "GesturesSection",
    "HeadPoseSection",
    "JoinDeadline",
    "Lean",
    "MediaInfo",
    "MediaQuality",
    "MediaSection",
    "ModelInfo",
    "ModelLoad",
    "Movement",
    "PartSource",
    "PartialResult",
    "PostureSection",
    "ReliabilityNote",
    "ResultStatus",
    "Section",
    "Segment",
    "Speakers",
    "SpeechSection",
    "SplitManifest",
    "Stats",
    "Turn",
    "Word",
    "StructureSection",
    "QuestionSpan",
    "TimelineRow",
    "TimelineWord",
    "VideoMetadata",
    "VideoState",
    "VideoStatus",
    "VideoUploaded",
    "part_key",
    "write_json_schemas",
]

#: The published message types, by the file name their JSON Schema gets.
PUBLISHED: dict[str, type[BaseModel]] = {
    "video-uploaded": VideoUploaded,
    "video-frames": FrameBatch,
    "video-audio": AudioChunk,
    "video-manifests": SplitManifest,
    "analyzer-results": PartialResult,
    "analysis-results": AnalysisResult,
    "video-analysis-dlq": DeadLetter,
    "video-status": VideoStatus,
}


def write_json_schemas(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in PUBLISHED.items():
        path = out_dir / f"{name}.schema.json"
        path.write_text(json.dumps(model.model_json_schema(), indent=2) + "\n")
        written.append(path)
    return written
