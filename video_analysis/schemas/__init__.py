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
    JoinDelete,
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
from .parts import (
    FacePart,
    PartData,
    PosePart,
    QualityAudioPart,
    QualityFramesPart,
    SpeechPart,
)
from .result import (
    AnalysisResult,
    MediaQuality,
    MediaSection,
    ModelLoad,
    PartialSegment,
    ReliabilityNote,
    ResultRef,
    ResultStatus,
    StructureSection,
    TimelineRow,
    TimelineWord,
    TranscriptPreview,
    VideoState,
    VideoStatus,
)
from .section import Section
from .speech import LanguageShare, Segment, Speakers, SpeechSection, Turn, Word
from .vision import (
    ActionUnit,
    ActionUnits,
    ActionUnitSecond,
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
    "ActionUnit",
    "ActionUnitSecond",
    "ActionUnits",
    "AnalysisResult",
    "AnalyzerPlan",
    "AudioChunk",
    "AwayEpisode",
    "BlinksSection",
    "DeadLetter",
    "ErrorInfo",
    "Expression",
    "ExpressionSecond",
    "FacePart",
    "FaceSection",
    "FaceTouchEpisode",
    "FrameBatch",
    "FrameImage",
    "GazeSection",
    "GesturesSection",
    "HeadPoseSection",
    "JoinDeadline",
    "JoinDelete",
    "Lean",
    "MediaInfo",
    "MediaQuality",
    "MediaSection",
    "ModelInfo",
    "ModelLoad",
    "PartialSegment",
    "TranscriptPreview",
    "Movement",
    "PartData",
    "PartSource",
    "PartialResult",
    "PosePart",
    "PostureSection",
    "QualityAudioPart",
    "QualityFramesPart",
    "ReliabilityNote",
    "ResultRef",
    "ResultStatus",
    "Section",
    "LanguageShare",
    "Segment",
    "Speakers",
    "SpeechPart",
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


#: Control messages the join reads from ``analyzer-results`` besides the parts (by ``kind``).
JOIN_CONTROL: dict[str, type[BaseModel]] = {
    "analyzer-results.join-deadline": JoinDeadline,
    "analyzer-results.join-delete": JoinDelete,
    "analyzer-results.transcript-preview": TranscriptPreview,
}


#: The ``data`` of an ``analyzer-results`` message, by ``{analyzer}.{source}``.
PART_DATA: dict[str, type[PartData]] = {
    "face.frames": FacePart,
    "pose.frames": PosePart,
    "quality.frames": QualityFramesPart,
    "quality.audio": QualityAudioPart,
    "speech.audio": SpeechPart,
}


def write_json_schemas(out_dir: Path) -> list[Path]:
    """The JSON Schema of every published message, and of each analyzer's part data."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    schemas: dict[str, type[BaseModel]] = {
        **{f"{name}.schema.json": model for name, model in PUBLISHED.items()},
        **{f"{name}.schema.json": model for name, model in JOIN_CONTROL.items()},
        **{f"analyzer-results.data.{key}.schema.json": m for key, m in PART_DATA.items()},
    }
    for filename, model in schemas.items():
        path = out_dir / filename
        path.write_text(json.dumps(model.model_json_schema(), indent=2) + "\n")
        written.append(path)
    return written
