"""The consolidated result (contract v1, see DESIGN.md) and the status of a video."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .events import SCHEMA_VERSION, ErrorInfo, ModelInfo, VideoMetadata, utcnow
from .section import Section
from .speech import SpeechSection
from .vision import (
    BlinksSection,
    FaceSection,
    GazeSection,
    GesturesSection,
    HeadPoseSection,
    PostureSection,
)


class ResultStatus(StrEnum):
    COMPLETE = "complete"
    PARTIAL = "partial"
    FAILED = "failed"


class VideoState(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETE = "complete"
    PARTIAL = "partial"
    FAILED = "failed"


class MediaQuality(BaseModel):
    model_config = ConfigDict(extra="allow")

    verdicts: list[str] = Field(
        default_factory=list, description="Plain findings, e.g. too_dark, blurry, audio_clipping."
    )
    brightness: float | None = Field(None, description="Mean luma 0..255.")
    contrast: float | None = Field(None, description="Mean luma standard deviation.")
    blur: float | None = Field(None, description="Median variance of the Laplacian.")
    lighting: str | None = Field(None, description="too_dark, ok or too_bright.")
    black_frame_ratio: float | None = None
    frozen_frame_ratio: float | None = None
    audio_level_dbfs: float | None = None
    audio_peak_dbfs: float | None = None
    clipping_ratio: float | None = None
    silence_ratio: float | None = None
    noise_floor_dbfs: float | None = None
    snr_db: float | None = None


class MediaSection(Section):
    duration_s: float = 0.0
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    has_video: bool = False
    has_audio: bool = False
    container: str | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    frames_sampled: int = 0
    sample_fps: float = 0.0
    quality: MediaQuality = Field(default_factory=MediaQuality)


class TimelineWord(BaseModel):
    """A word of the transcript in the timeline second that holds its midpoint."""

    word: str
    start: float = Field(description="Seconds from the start of the video.")
    end: float
    speaker: str | None = Field(None, description="Speaker label (S1, S2...), when known.")


class TimelineRow(BaseModel):
    """One second of the video: what was said and by whom, and what the camera saw meanwhile.

    A field is null when nothing measured it in that second (no frame sampled, no face found,
    the analyzer not enabled), never a guess; ``face_seen`` tells a second without a face
    (false) from one without a sampled frame (null).
    """

    t: float = Field(description="Start of the second, in seconds from the start of the video.")
    text: str = Field("", description="The words of this second, in order.")
    words: list[TimelineWord] = Field(default_factory=list)
    speakers: list[str] = Field(default_factory=list, description="Who spoke in this second.")
    face_seen: bool | None = Field(None, description="A face in any frame sampled this second.")
    expression: str | None = Field(
        None, description="Dominant apparent facial expression (mean of this second's frames)."
    )
    expression_score: float | None = Field(None, ge=0, le=1)
    eye_contact: bool | None = Field(
        None, description="Looking at the camera in most of this second's measured frames."
    )
    head_yaw: float | None = Field(None, description="Mean head yaw, degrees.")
    head_pitch: float | None = Field(None, description="Mean head pitch, degrees.")
    hands_visible: int | None = Field(
        None, ge=0, description="Most hands seen in a frame of this second checked for hands."
    )


class Answer(BaseModel):
    """A stretch of the candidate's speech that no other speaker's word interrupts."""

    start: float
    end: float
    duration_s: float
    words: int
    question_id: str | None = Field(None, description="The question span holding its start.")
    after_speaker: str | None = Field(
        None, description="Who spoke just before (null: nobody, e.g. the video's start)."
    )
    response_delay_s: float | None = Field(
        None,
        description="From that speaker's last word to the answer's first; negative when the "
        "candidate started before they had finished.",
    )


class Interruption(BaseModel):
    """Someone taking the floor while another was still speaking."""

    at: float
    by: str
    of: str
    overlap_s: float


class AnswerLengths(BaseModel):
    mean_s: float
    median_s: float
    longest_s: float


class VisionFigures(BaseModel):
    """What the camera saw over some seconds of the timeline (null where nothing measured)."""

    seconds: int = Field(description="Timeline rows counted.")
    face_seen_ratio: float | None = None
    eye_contact_ratio: float | None = None
    expression_distribution: dict[str, float] = Field(
        default_factory=dict, description="Share of seconds by dominant apparent expression."
    )


class QuestionFigures(BaseModel):
    """The speech and vision figures of one question's part of the video."""

    question_id: str
    start: float
    end: float
    candidate_words: int
    candidate_talk_s: float
    words_per_minute: float | None = Field(None, description="Over the candidate's talk time.")
    response_delay_s: float | None = Field(
        None,
        description="From the last word of someone else (or the span's start) to the "
        "candidate's first word in the span.",
    )
    vision: VisionFigures


class Baseline(BaseModel):
    """The candidate's own first seconds, and the rest of the video against them: a
    naturally serious face or a slow speaker is not read as a change."""

    window: tuple[float, float] = Field(description="The baseline seconds (start, end).")
    words_per_minute: float | None = None
    rest_words_per_minute: float | None = None
    words_per_minute_change: float | None = Field(None, description="Rest minus baseline.")
    pitch_median_hz: float | None = None
    rest_pitch_median_hz: float | None = None
    pitch_change_semitones: float | None = Field(None, description="Rest against baseline.")
    eye_contact_ratio: float | None = None
    rest_eye_contact_ratio: float | None = None
    eye_contact_change: float | None = None
    expression_distribution: dict[str, float] = Field(default_factory=dict)
    rest_expression_distribution: dict[str, float] = Field(default_factory=dict)
    expression_change: dict[str, float] = Field(
        default_factory=dict, description="Rest minus baseline share, by apparent expression."
    )


class StructureSection(Section):
    """The interview's shape: who spoke when, the candidate's answers, per question."""

    candidate: str | None = None
    candidate_source: str | None = None
    speakers: int = 0
    turn_count: int = 0
    turns_by_speaker: dict[str, int] = Field(default_factory=dict)
    talk_ratio: float | None = Field(None, description="The candidate's share of talk time.")
    answers: list[Answer] = Field(default_factory=list)
    answer_count: int = 0
    answer_lengths: AnswerLengths | None = None
    longest_monologue_s: float | None = None
    response_delays_s: list[float] = Field(
        default_factory=list, description="After each other speaker's turn the candidate answered."
    )
    overlap_count: int = 0
    overlap_s: float = 0.0
    interruptions: list[Interruption] = Field(default_factory=list)
    questions: list[QuestionFigures] = Field(default_factory=list)
    baseline: Baseline | None = None


class ReliabilityNote(BaseModel):
    """Something the result could not judge, or judged on less than the whole video."""

    section: str = Field(description="Key path of the section, e.g. 'gaze', 'speech.speakers'.")
    reason: str = Field(description="Why, in plain words.")


class AnalysisResult(BaseModel):
    """Published on ``analysis-results`` and stored: one per video."""

    model_config = ConfigDict(extra="allow")

    schema_version: Literal[1] = SCHEMA_VERSION
    video_id: str
    status: ResultStatus
    error: ErrorInfo | None = None
    missing: list[str] = Field(default_factory=list)
    metadata: VideoMetadata = Field(default_factory=VideoMetadata)
    media: MediaSection = Field(default_factory=MediaSection)
    face: FaceSection = Field(default_factory=FaceSection)
    gaze: GazeSection = Field(default_factory=GazeSection)
    head_pose: HeadPoseSection = Field(default_factory=HeadPoseSection)
    blinks: BlinksSection = Field(default_factory=BlinksSection)
    posture: PostureSection = Field(default_factory=PostureSection)
    gestures: GesturesSection = Field(default_factory=GesturesSection)
    speech: SpeechSection = Field(default_factory=SpeechSection)
    structure: StructureSection = Field(default_factory=StructureSection)
    reliability: list[ReliabilityNote] = Field(
        default_factory=list,
        description="Every section that could not be judged, or only on part of the video.",
    )
    timeline: list[TimelineRow] = Field(
        default_factory=list, description="One row per second of the video, none skipped."
    )
    models: list[ModelInfo] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)


class ModelLoad(BaseModel):
    """A worker's report that it holds a model in memory (``/models/status`` shows it)."""

    name: str = Field(description="The model's name in the bundle, e.g. whisper-base.")
    worker: str = Field(description="Which worker: role@host:pid.")
    load_time_s: float | None = None
    device: str | None = None
    reported_at: datetime = Field(default_factory=utcnow)


class VideoStatus(BaseModel):
    """What ``GET /videos/{id}`` answers and what Redis caches."""

    video_id: str
    state: VideoState
    progress: float = Field(0.0, ge=0, le=1, description="Share of expected parts received.")
    error: ErrorInfo | None = None
    updated_at: datetime = Field(default_factory=utcnow)
