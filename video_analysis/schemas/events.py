"""Messages on every topic. Times are seconds from the start of the video; ids are strings."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from ..languages import WHISPER_LANGUAGES, language_code

SCHEMA_VERSION: Literal[1] = 1
VIDEO_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_VIDEO_ID_RE = re.compile(VIDEO_ID_PATTERN)


def valid_video_id(value: str) -> bool:
    """Whether ``value`` is a whole video id. ``fullmatch``, not ``match``: Python's ``$`` also
    matches before a final newline, which the event model (Rust regex) then rejects."""
    return _VIDEO_ID_RE.fullmatch(value) is not None


def utcnow() -> datetime:
    return datetime.now(UTC)


class Message(BaseModel):
    # bytes hold raw bytes in Python and travel as base64 in JSON.
    model_config = ConfigDict(extra="forbid", ser_json_bytes="base64", val_json_bytes="base64")

    schema_version: Literal[1] = SCHEMA_VERSION


class ErrorInfo(BaseModel):
    code: str = Field(description="Stable machine code, e.g. unreadable_media, too_long.")
    message: str = Field(description="What went wrong, for people.")


class ModelInfo(BaseModel):
    """A model that produced part of the result."""

    analyzer: str = Field(description="The analyzer that ran it.")
    name: str = Field(description="The model's name, e.g. whisper-base.")
    version: str = Field(description="Its version.")
    sha256: str | None = Field(None, description="Checksum of its weights, when it has any.")


class QuestionSpan(BaseModel):
    """One question's part of the video: its question and the answer to it."""

    question_id: str = Field(min_length=1, description="The platform's id of the question.")
    start: float = Field(ge=0, description="Seconds from the start of the video.")
    end: float = Field(gt=0, description="Seconds from the start of the video; after start.")

    @model_validator(mode="after")
    def _ends_after_start(self) -> QuestionSpan:
        if self.end <= self.start:
            raise ValueError(f"question {self.question_id}: end {self.end} <= start {self.start}")
        return self


#: A language the platform may name: the canonical codes (the API also takes " EN " as "en").
_LANGUAGE_CODE: dict[str, Any] = {
    "anyOf": [{"type": "string", "enum": list(WHISPER_LANGUAGES)}, {"type": "null"}]
}


class VideoMetadata(BaseModel):
    """The platform's own metadata; unknown keys are kept and passed through."""

    model_config = ConfigDict(extra="allow")

    interview_id: str | None = Field(None, description="The platform's interview id.")
    question_id: str | None = Field(None, description="The question a one-answer video answers.")
    applicant_id: str | None = Field(None, description="The platform's applicant id.")
    language: Annotated[str | None, WithJsonSchema(_LANGUAGE_CODE)] = Field(
        None, description="Spoken language override, a code Whisper knows, e.g. 'en', 'ko'."
    )
    candidate_speaker: str | None = Field(
        None, description="Which speaker is the candidate, when the platform knows."
    )
    questions: list[QuestionSpan] = Field(
        default_factory=list,
        description="Where each interview question's part of the video lies, when the "
        "platform knows; figures are then also given per question.",
    )

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str | None) -> str | None:
        # Unknown here, it would fail every speech part later as an internal error.
        return language_code(value) if value else None


RUN_DESCRIPTION = "The analysis run this belongs to (see VideoUploaded.run)."


class VideoUploaded(Message):
    """Published on ``video-uploaded`` by the platform or the HTTP shim."""

    video_id: str = Field(pattern=VIDEO_ID_PATTERN)
    uri: str = Field(
        min_length=1,
        description="Where the video is: s3://bucket/key (the upload store's bucket or one of "
        "VA_SOURCE_BUCKETS), an https:// URL, or a path (or file:// URI) under the upload root.",
    )
    filename: str | None = None
    metadata: VideoMetadata = Field(default_factory=VideoMetadata)
    submitted_at: datetime = Field(default_factory=utcnow)
    run: int = Field(
        0,
        ge=0,
        description="Which analysis of the video this is: 0 for the upload, one more for each "
        "reprocess. Once a run has started, the messages of older runs are ignored.",
    )


class FrameImage(BaseModel):
    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    index: int = Field(ge=0, description="Index of the sampled frame within the video.")
    t: float = Field(ge=0, description="Presentation time in seconds.")
    width: int
    height: int
    jpeg: bytes


class FrameBatch(Message):
    """Published on ``video-frames``: consecutive sampled frames of one video."""

    video_id: str
    run: int = Field(0, ge=0, description=RUN_DESCRIPTION)
    batch_index: int = Field(ge=0)
    sample_fps: float
    frames: list[FrameImage]


class AudioChunk(Message):
    """Published on ``video-audio``: 16 kHz mono audio, FLAC-encoded, cut at a quiet point."""

    video_id: str
    run: int = Field(0, ge=0, description=RUN_DESCRIPTION)
    chunk_index: int = Field(ge=0)
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    sample_rate: int = 16_000
    language: str | None = Field(
        None, description="The upload's spoken-language override (e.g. 'ko'), if it had one."
    )
    interview_language: str | None = Field(
        None,
        description="Without an override: the language the upload's interview (same "
        "interview_id) was spoken in over its answers analysed before, if any.",
    )
    encoding: Literal["flac"] = "flac"
    data: bytes


class MediaInfo(BaseModel):
    container: str | None = None
    duration_s: float = 0.0
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    has_video: bool = False
    has_audio: bool = False
    video_codec: str | None = None
    audio_codec: str | None = None
    audio_sample_rate: int | None = None
    audio_channels: int | None = None
    rotation: int = 0
    size_bytes: int | None = None


class AnalyzerPlan(BaseModel):
    """Which analyzers the join waits for, per source."""

    frames: list[str] = Field(default_factory=list)
    audio: list[str] = Field(default_factory=list)


class SplitManifest(Message):
    """Published on ``video-manifests`` after splitting: what parts the join should expect.

    A manifest with ``error`` set says the video could not be split; the join then finalises a
    ``failed`` result at once.
    """

    kind: Literal["manifest"] = "manifest"
    video_id: str
    run: int = Field(0, ge=0, description=RUN_DESCRIPTION)
    uri: str | None = None
    metadata: VideoMetadata = Field(default_factory=VideoMetadata)
    media: MediaInfo = Field(default_factory=MediaInfo)
    frame_batches: int = Field(0, ge=0)
    audio_chunks: int = Field(0, ge=0)
    frames_sampled: int = Field(0, ge=0)
    sample_fps: float = 0.0
    analysed_s: float | None = Field(None, ge=0, description="Seconds of video that decoded.")
    truncated: bool = Field(False, description="The video ends before its declared duration.")
    analyzers: AnalyzerPlan = Field(default_factory=AnalyzerPlan)
    error: ErrorInfo | None = None
    split_s: float = 0.0
    submitted_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)

    def expected_parts(self) -> set[str]:
        parts = {
            part_key(name, PartSource.FRAMES, i)
            for name in self.analyzers.frames
            for i in range(self.frame_batches)
        }
        parts |= {
            part_key(name, PartSource.AUDIO, i)
            for name in self.analyzers.audio
            for i in range(self.audio_chunks)
        }
        return parts


class PartSource(StrEnum):
    FRAMES = "frames"
    AUDIO = "audio"


def part_key(analyzer: str, source: PartSource | str, index: int) -> str:
    return f"{analyzer}:{PartSource(source).value}:{index}"


class PartialResult(Message):
    """Published on ``analyzer-results``: one analyzer's output for one batch or chunk."""

    kind: Literal["partial"] = "partial"
    video_id: str
    run: int = Field(0, ge=0, description=RUN_DESCRIPTION)
    analyzer: str
    source: PartSource
    index: int = Field(ge=0)
    model: ModelInfo
    models: list[ModelInfo] = Field(
        default_factory=list,
        description="Every model the part used (``model`` is the main one), e.g. Whisper and "
        "the speaker-embedding model of the speech analyzer.",
    )
    data: dict[str, Any] = Field(default_factory=dict)
    error: ErrorInfo | None = None
    elapsed_s: float = 0.0

    @property
    def part_key(self) -> str:
        return part_key(self.analyzer, self.source, self.index)


class JoinDeadline(Message):
    """A control message the join sends itself: a video it holds may be stuck (its own
    timer), or the status store says a video is in flight that the join may not know of
    (its sweep, with the run in flight)."""

    kind: Literal["deadline"] = "deadline"
    video_id: str
    run: int | None = Field(
        None,
        ge=0,
        description="The run the status store says is in flight (the sweep's); the join "
        "starts following it when it knows of no newer run. None from the join's own timer.",
    )


class JoinDelete(Message):
    """Sent to the join (on ``analyzer-results``, keyed by the video) when a video is deleted:
    the join drops what it holds of the video, and ignores its later parts."""

    kind: Literal["delete"] = "delete"
    video_id: str


class DeadLetter(Message):
    """Published on ``video-analysis-dlq``: a message that could not be processed, and why."""

    stage: str
    topic: str
    partition: int | None = None
    offset: int | None = None
    video_id: str | None = None
    error: ErrorInfo
    payload: str = Field("", description="The message value, truncated to 4 KB.")
    failed_at: datetime = Field(default_factory=utcnow)
