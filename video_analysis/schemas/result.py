"""The consolidated result (contract v1, see DESIGN.md) and the status of a video."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.dataclasses import dataclass

from .events import SCHEMA_VERSION, ErrorInfo, Message, ModelInfo, VideoMetadata, utcnow
from .reasons import Reason
from .rows import RESULT_ROW
from .section import Section
from .speech import SpeakerFigures, SpeechSection
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
    #: Erased on request (DELETE /videos/{id}); the id stays taken, nothing else is kept.
    DELETED = "deleted"


#: A finding of the quality analyzer about the recording.
QualityVerdict = Literal[
    "too_dark",
    "too_bright",
    "low_contrast",
    "blurry",
    "black_frames",
    "frozen_video",
    "no_audio",
    "audio_too_quiet",
    "audio_clipping",
    "noisy_audio",
    "mostly_silent",
]


class MediaQuality(BaseModel):
    """Technical quality of the recording. Picture figures are null when no frame was
    measured, sound figures when no audio was; ``verdicts`` names what is wrong."""

    model_config = ConfigDict(extra="allow")

    verdicts: list[QualityVerdict] = Field(
        default_factory=list, description="Plain findings, e.g. too_dark, blurry, audio_clipping."
    )
    brightness: float | None = Field(None, description="Median luma of the frames, 0..255.")
    contrast: float | None = Field(
        None, description="Median standard deviation of luma within a frame."
    )
    blur: float | None = Field(
        None, description="Median variance of the Laplacian at 640 px: low is blurred."
    )
    lighting: Literal["too_dark", "ok", "too_bright"] | None = Field(
        None, description="too_dark, ok or too_bright."
    )
    black_frame_ratio: float | None = Field(
        None, ge=0, le=1, description="Share of the frames that are (nearly) black."
    )
    frozen_frame_ratio: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Share of the frames that repeat the one before (null: no two consecutive "
        "frames of a batch to compare).",
    )
    frames_measured: int | None = Field(None, ge=0, description="Frames the figures are over.")
    audio_level_dbfs: float | None = Field(
        None, description="RMS level of the audio, dBFS (mean energy over the chunks)."
    )
    audio_peak_dbfs: float | None = Field(None, description="Highest sample, dBFS.")
    clipping_ratio: float | None = Field(
        None, ge=0, le=1, description="Share of the samples at full scale."
    )
    silence_ratio: float | None = Field(
        None, ge=0, le=1, description="Share of 20 ms windows below the silence threshold."
    )
    noise_floor_dbfs: float | None = Field(
        None, description="Level of the quiet windows (10th percentile), dBFS."
    )
    speech_level_dbfs: float | None = Field(
        None, description="Level of the loud windows (90th percentile), dBFS."
    )
    snr_db: float | None = Field(None, description="speech_level_dbfs - noise_floor_dbfs.")
    audio_seconds: float | None = Field(None, ge=0, description="Seconds of audio measured.")


class MediaSection(Section):
    """The recording itself: its format, what was sampled, and its technical quality.
    ``coverage`` is the share of the expected parts that arrived."""

    duration_s: float = Field(0.0, ge=0, description="Length of the video, seconds.")
    width: int | None = Field(None, description="Frame width in pixels (null: no video).")
    height: int | None = Field(None, description="Frame height in pixels.")
    fps: float | None = Field(None, description="The video's own frame rate.")
    has_video: bool = Field(False, description="The file has a video stream.")
    has_audio: bool = Field(False, description="The file has an audio stream.")
    container: str | None = Field(None, description="Container format, e.g. 'mov,mp4,m4a'.")
    video_codec: str | None = Field(None, description="e.g. 'h264'.")
    audio_codec: str | None = Field(None, description="e.g. 'aac'.")
    frames_sampled: int = Field(0, ge=0, description="Frames sampled for the vision analyzers.")
    sample_fps: float = Field(0.0, ge=0, description="Frames sampled per second of video.")
    rotation: int = Field(
        0,
        ge=0,
        lt=360,
        description="The file's display rotation, degrees counter-clockwise (a phone held "
        "upright: 90 or 270); frames were turned upright before analysis, and width and "
        "height are as displayed.",
    )
    analysed_s: float | None = Field(
        None,
        ge=0,
        description="Seconds of the video that decoded and were analysed; less than "
        "duration_s when the file is truncated (null: it was not split).",
    )
    truncated: bool = Field(
        False,
        description="The video ends well before its declared duration (a cut-off upload); "
        "only analysed_s seconds were analysed, and reliability says so.",
    )
    quality: MediaQuality = Field(
        default_factory=MediaQuality, description="Lighting, blur, level and noise findings."
    )


@dataclass(slots=True, kw_only=True, config=RESULT_ROW)
class TimelineWord:
    """A word of the transcript in the timeline second that holds its midpoint."""

    word: str = Field(description="The word as Whisper writes it.")
    start: float = Field(description="Seconds from the start of the video.")
    end: float = Field(description="Seconds from the start of the video.")
    speaker: str | None = Field(default=None, description="Speaker label (S1, S2...), when known.")
    filler: bool = Field(
        default=False, description="A filler (um, uh, 'you know'), as the transcript marks it."
    )


@dataclass(slots=True, kw_only=True, config=RESULT_ROW)
class TimelineRow:
    """One second of the video: what was said and by whom, and what the camera saw meanwhile.

    A field is null when nothing measured it in that second (no frame sampled, no face found,
    the analyzer not enabled), never a guess; ``face_seen`` tells a second without a face
    (false) from one without a sampled frame (null).
    """

    t: float = Field(description="Start of the second, in seconds from the start of the video.")
    text: str = Field(default="", description="The words of this second, in order.")
    words: list[TimelineWord] = Field(
        default_factory=list, description="The words whose midpoint lies in this second."
    )
    speakers: list[str] = Field(default_factory=list, description="Who spoke in this second.")
    face_seen: bool | None = Field(
        default=None, description="A face in any frame sampled this second."
    )
    expression: str | None = Field(
        default=None,
        description="Dominant apparent facial expression (mean of this second's frames).",
    )
    expression_score: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Mean score of the dominant expression in this second.",
    )
    eye_contact: bool | None = Field(
        default=None, description="Looking at the camera in most of this second's measured frames."
    )
    head_yaw: float | None = Field(default=None, description="Mean head yaw, degrees.")
    head_pitch: float | None = Field(default=None, description="Mean head pitch, degrees.")
    hands_visible: int | None = Field(
        default=None,
        ge=0,
        description="Most hands seen in a frame of this second checked for hands.",
    )


class Answer(BaseModel):
    """A stretch of the candidate's speech that no other speaker's word interrupts."""

    start: float = Field(description="The answer's first word starts, seconds.")
    end: float = Field(description="Its last word ends, seconds.")
    duration_s: float = Field(ge=0, description="end - start, pauses included.")
    words: int = Field(ge=0, description="Words in the answer.")
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

    at: float = Field(description="When the interrupting turn began, seconds.")
    by: str = Field(description="The speaker who took the floor.")
    of: str = Field(description="The speaker who was talking.")
    overlap_s: float = Field(ge=0, description="Length of the overlap it began in.")


class AnswerLengths(BaseModel):
    """The candidate's answer lengths, seconds."""

    mean_s: float = Field(description="Mean answer length.")
    median_s: float = Field(description="Median answer length.")
    longest_s: float = Field(description="Longest answer.")


class VisionFigures(BaseModel):
    """What the camera saw over some seconds of the timeline (null where nothing measured)."""

    seconds: int = Field(description="Timeline rows counted.")
    face_seen_ratio: float | None = Field(
        None, description="Share of the seconds with a sampled frame that showed a face."
    )
    eye_contact_ratio: float | None = Field(
        None, description="Share of the seconds with a measured gaze that had eye contact."
    )
    expression_distribution: dict[str, float] = Field(
        default_factory=dict, description="Share of seconds by dominant apparent expression."
    )


class QuestionFigures(BaseModel):
    """The speech and vision figures of one question's part of the video."""

    question_id: str = Field(description="The platform's id of the question.")
    start: float = Field(description="Start of the question's span, seconds.")
    end: float = Field(description="End of the question's span, seconds.")
    candidate_words: int = Field(ge=0, description="The candidate's words in the span.")
    candidate_talk_s: float = Field(
        ge=0, description="The candidate's talk time in the span, long pauses left out."
    )
    words_per_minute: float | None = Field(None, description="Over the candidate's talk time.")
    response_delay_s: float | None = Field(
        None,
        description="From the last word of someone else (or the span's start) to the "
        "candidate's first word in the span.",
    )
    speech: SpeakerFigures | None = Field(
        None,
        description="The candidate's rate, pauses, fillers, pitch and energy over the span "
        "(as speech.questions); null when they said no word there.",
    )
    vision: VisionFigures = Field(description="What the camera saw over the span.")


class Baseline(BaseModel):
    """The candidate's own first seconds, and the rest of the video against them: a
    naturally serious face or a slow speaker is not read as a change."""

    window: tuple[float, float] = Field(description="The baseline seconds (start, end).")
    words_per_minute: float | None = Field(None, description="In the baseline seconds.")
    rest_words_per_minute: float | None = Field(None, description="In the rest of the video.")
    words_per_minute_change: float | None = Field(None, description="Rest minus baseline.")
    pitch_median_hz: float | None = Field(None, description="In the baseline seconds.")
    rest_pitch_median_hz: float | None = Field(None, description="In the rest of the video.")
    pitch_change_semitones: float | None = Field(None, description="Rest against baseline.")
    eye_contact_ratio: float | None = Field(None, description="In the baseline seconds.")
    rest_eye_contact_ratio: float | None = Field(None, description="In the rest of the video.")
    eye_contact_change: float | None = Field(None, description="Rest minus baseline.")
    expression_distribution: dict[str, float] = Field(
        default_factory=dict, description="Share of baseline seconds by apparent expression."
    )
    rest_expression_distribution: dict[str, float] = Field(
        default_factory=dict, description="The same over the rest of the video."
    )
    expression_change: dict[str, float] = Field(
        default_factory=dict, description="Rest minus baseline share, by apparent expression."
    )


class StructureSection(Section):
    """The interview's shape: who spoke when, the candidate's answers, per question."""

    candidate: str | None = Field(None, description="The candidate's speaker label.")
    candidate_source: str | None = Field(
        None, description="The rule that chose the candidate: metadata or most_talk."
    )
    speakers: int = Field(0, ge=0, description="Speakers found.")
    turn_count: int = Field(0, ge=0, description="Speaker turns.")
    turns_by_speaker: dict[str, int] = Field(
        default_factory=dict, description="Turns of each speaker."
    )
    talk_ratio: float | None = Field(None, description="The candidate's share of talk time.")
    answers: list[Answer] = Field(default_factory=list, description="The candidate's answers.")
    answer_count: int = Field(0, ge=0, description="How many answers.")
    answer_lengths: AnswerLengths | None = Field(None, description="Their lengths.")
    longest_monologue_s: float | None = Field(
        None, description="Longest stretch of the candidate's speech without a long pause."
    )
    response_delays_s: list[float] = Field(
        default_factory=list, description="After each other speaker's turn the candidate answered."
    )
    overlap_count: int = Field(0, ge=0, description="Stretches where two people spoke at once.")
    overlap_s: float = Field(0.0, ge=0, description="Their total length, seconds.")
    interruptions: list[Interruption] = Field(
        default_factory=list, description="Turns taken while another was still speaking."
    )
    questions: list[QuestionFigures] = Field(
        default_factory=list, description="Figures per question, when the upload gives them."
    )
    baseline: Baseline | None = Field(
        None, description="The candidate's first VA_BASELINE_S seconds against the rest."
    )


class ReliabilityNote(BaseModel):
    """Something the result could not judge, or judged on less than the whole video."""

    section: str = Field(description="Key path of the section, e.g. 'gaze', 'speech.speakers'.")
    reason: str = Field(description="Why, in plain (English) words.")
    code: str | None = Field(
        None,
        description="The reason's stable code (see Reason.code); null in results made before "
        "codes.",
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="The values its words need (see Reason.params)."
    )

    @classmethod
    def of(cls, section: str, why: Reason) -> ReliabilityNote:
        """The note for ``section`` with the reason ``why``, in English and by code."""
        return cls(section=section, reason=why.english, code=why.code, params=why.params)

    @property
    def why(self) -> Reason | None:
        """The note's reason by code, None for a note made before codes."""
        return None if self.code is None else Reason(code=self.code, params=self.params)


class ResultRef(BaseModel):
    """Where the full result of a compact result message is (the claim-check pattern): a
    result larger than one Kafka message is published as its key figures plus this."""

    api_path: str = Field(
        description="GET this path on the API (scope read) for the full result, e.g. "
        "/videos/iv-42/result."
    )
    url: str | None = Field(
        None, description="The same as an absolute URL, when VA_PUBLIC_BASE_URL is set."
    )
    object_uri: str | None = Field(
        None,
        description="s3://bucket/key of the full result as an object, when "
        "VA_RESULT_OBJECT_STORE is set (one object per run; it does not change).",
    )
    content_type: Literal["application/json"] = Field(
        "application/json", description="The full result is the result JSON, UTF-8."
    )
    size_bytes: int = Field(ge=0, description="Size of the full result's JSON, bytes.")
    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of the full result's JSON bytes (as the API serves them and the "
        "object holds them); a result of a newer run replaces it at api_path.",
    )


class AnalysisResult(BaseModel):
    """Published on ``analysis-results`` and stored: one per video."""

    model_config = ConfigDict(extra="allow")

    schema_version: Literal[1] = Field(SCHEMA_VERSION, description="Contract version.")
    video_id: str = Field(description="The upload's id.")
    status: ResultStatus = Field(
        description="complete; partial (some parts missing or failed); failed (no analysis)."
    )
    error: ErrorInfo | None = Field(None, description="Why the analysis failed, when it did.")
    missing: list[str] = Field(
        default_factory=list, description="Sections some of whose parts did not arrive."
    )
    metadata: VideoMetadata = Field(
        default_factory=VideoMetadata, description="The upload's metadata, passed through."
    )
    media: MediaSection = Field(default_factory=MediaSection, description="The recording.")
    face: FaceSection = Field(default_factory=FaceSection, description="Apparent expression.")
    gaze: GazeSection = Field(default_factory=GazeSection, description="Eye contact.")
    head_pose: HeadPoseSection = Field(default_factory=HeadPoseSection, description="Head.")
    blinks: BlinksSection = Field(default_factory=BlinksSection, description="Blink rate.")
    posture: PostureSection = Field(default_factory=PostureSection, description="Posture.")
    gestures: GesturesSection = Field(default_factory=GesturesSection, description="Hands.")
    speech: SpeechSection = Field(
        default_factory=SpeechSection, description="Transcript, speakers, fluency and voice."
    )
    structure: StructureSection = Field(
        default_factory=StructureSection, description="Turns, answers and per-question figures."
    )
    reliability: list[ReliabilityNote] = Field(
        default_factory=list,
        description="Every section that could not be judged, or only on part of the video.",
    )
    timeline: list[TimelineRow] = Field(
        default_factory=list, description="One row per second of the video, none skipped."
    )
    models: list[ModelInfo] = Field(
        default_factory=list, description="Every model that ran, with version and sha256."
    )
    timings: dict[str, float] = Field(
        default_factory=dict, description="Seconds per stage: split, analyze.<analyzer>, total."
    )
    run: int = Field(
        0,
        ge=0,
        description="Which analysis of the video this is: 0 for the upload, one more per "
        "reprocess. A newer run's result replaces an older one's.",
    )
    created_at: datetime = Field(default_factory=utcnow, description="When it was built (UTC).")
    result_ref: ResultRef | None = Field(
        None,
        description="Only on analysis-results, when the result was too large for one message: "
        "where the full result is. Null: this message is the whole result.",
    )
    omitted: list[str] = Field(
        default_factory=list,
        description="Key paths left out of this message (emptied lists, e.g. timeline, "
        "speech.segments); the full result at result_ref has them. Empty on a whole result.",
    )


class ModelLoad(BaseModel):
    """A worker's report that it holds a model in memory (``/models/status`` shows it)."""

    name: str = Field(description="The model's name in the bundle, e.g. whisper-base.")
    worker: str = Field(description="Which worker: role@host:pid.")
    load_time_s: float | None = None
    device: str | None = None
    reported_at: datetime = Field(default_factory=utcnow)


class PartialSegment(BaseModel):
    """A stretch of the transcript as it forms, before speakers are known."""

    start: float = Field(description="Seconds from the start of the video.")
    end: float = Field(description="Seconds from the start of the video.")
    text: str = Field(description="What was said.")


class TranscriptPreview(Message):
    """Published on ``analyzer-results`` by the speech worker as soon as a chunk is transcribed,
    before its part (pitch, speakers...) is done: the status shows the words sooner."""

    kind: Literal["preview"] = "preview"
    video_id: str
    run: int = Field(0, ge=0, description="The analysis run (see VideoUploaded.run).")
    chunk_index: int = Field(ge=0, description="The audio chunk the words are from.")
    segments: list[PartialSegment] = Field(description="The chunk's segments, in time order.")


class VideoStatus(BaseModel):
    """What ``GET /videos/{id}`` answers and what Redis caches."""

    video_id: str = Field(description="The upload's id.")
    state: VideoState = Field(description="queued, processing, complete, partial or failed.")
    progress: float = Field(0.0, ge=0, le=1, description="Share of expected parts received.")
    stages: dict[str, float] = Field(
        default_factory=dict,
        description="Share done per stage: split, analyze.<analyzer> (its parts received) "
        "and join; empty until the video has been split.",
    )
    transcript: list[PartialSegment] = Field(
        default_factory=list,
        description="The transcript so far, in time order, growing as each audio chunk is "
        "transcribed; the final result's segments replace it (with speakers).",
    )
    error: ErrorInfo | None = Field(None, description="Why the video failed, when it did.")
    run: int = Field(
        0,
        ge=0,
        description="Which analysis this status is of: 0 for the upload, one more per "
        "reprocess. While a run is processing, the previous run's result stays served.",
    )
    updated_at: datetime = Field(default_factory=utcnow, description="When this was written.")
