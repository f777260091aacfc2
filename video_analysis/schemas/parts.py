"""What each analyzer sends for one batch of frames or one chunk of audio (``PartialResult.data``).

An analyzer returns one of these models; it travels as JSON on ``analyzer-results`` and the join
reads it back into the same model before ``summarize``, so a part that does not match its
analyzer's model is an error of that part, not a crash of the join. Times are seconds from the
start of the video; image coordinates are shares of the frame (0..1) unless a field says
otherwise. Models forbid unknown keys: a field added here is added on both ends at once.

The rows a part holds many of (a frame, a word, a speaker window) are slotted pydantic
dataclasses, not models: validated and serialised alike, but the join holds every row of a
video at once, and a model's per-instance ``__dict__`` and fields-set made a pose frame
3.2 KB in memory (an hour's parts took 255 MiB; ``benchmarks/join_build.py``).
"""

from __future__ import annotations

import math
import sys
from typing import Annotated, Any

import numpy as np
from numpy.typing import NDArray
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    TypeAdapter,
    WithJsonSchema,
)
from pydantic.dataclasses import dataclass

#: The configuration of a row type: like the models, it forbids unknown keys.
ROW = ConfigDict(extra="forbid")

_NUMBERS = TypeAdapter(list[float])
_OR_NULLS = TypeAdapter(list[float | None])


def _numeric_array(value: Any) -> bool:
    """An array of numbers, as an analyzer builds it: taken as it is, not checked item by item."""
    return isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "fiu"


def _numbers(value: Any) -> NDArray[np.float64]:
    if _numeric_array(value):
        return np.asarray(value, dtype=np.float64)
    return np.asarray(_NUMBERS.validate_python(value), dtype=np.float64)


def _numbers_or_nan(value: Any) -> NDArray[np.float64]:
    if _numeric_array(value):
        return np.asarray(value, dtype=np.float64)
    numbers = _OR_NULLS.validate_python(value)
    return np.asarray([math.nan if v is None else v for v in numbers], dtype=np.float64)


def _listed(values: NDArray[np.float64]) -> list[float | None]:
    return [None if math.isnan(v) else v for v in values.tolist()]


def _float32s(value: Any) -> NDArray[np.float32]:
    if _numeric_array(value):
        return np.asarray(value, dtype=np.float32)
    return np.asarray(_NUMBERS.validate_python(value), dtype=np.float32)


def _shortest(values: NDArray[np.float32]) -> list[float]:
    # Each number as the shortest decimal that reads back as the same float32 (numpy's str
    # of a float32): a value rounded to 4 decimals is written as those 4 decimals, as its
    # float64 was, not as the float32's binary expansion (0.12340000271797180 for 0.1234).
    return [float(str(v)) for v in values]


#: A long list of numbers (a level track) held as one float64 array:
#: 8 bytes a number instead of a float object and a list slot (32). JSON: a list of numbers.
Numbers = Annotated[
    NDArray[np.float64],
    PlainValidator(_numbers),
    PlainSerializer(lambda values: values.tolist(), return_type=list[float]),
    WithJsonSchema({"type": "array", "items": {"type": "number"}}),
]
#: Numbers held as float32 (4 bytes a number), for what is computed in float32 anyway (a
#: speaker embedding: CAM++'s output, clustered in float32). An hour's embeddings took 7 MiB
#: as float64 in the join, and a float32 copy of them more. JSON: a list of numbers.
Float32s = Annotated[
    NDArray[np.float32],
    PlainValidator(_float32s),
    PlainSerializer(_shortest, return_type=list[float]),
    WithJsonSchema({"type": "array", "items": {"type": "number"}}),
]
#: The same with gaps (an unvoiced frame's pitch): NaN in the array, null in JSON.
NumbersOrNull = Annotated[
    NDArray[np.float64],
    PlainValidator(_numbers_or_nan),
    PlainSerializer(_listed, return_type=list[float | None]),
    WithJsonSchema({"type": "array", "items": {"anyOf": [{"type": "number"}, {"type": "null"}]}}),
]


#: The expression labels, in the output order of both expression models (fer's
#: ``_get_labels``, DeepFace's ``labels``).
EXPRESSION_LABELS: tuple[str, ...] = (
    "angry",
    "disgust",
    "fear",
    "happy",
    "sad",
    "surprise",
    "neutral",
)


def _labels_interned(scores: dict[str, float]) -> dict[str, float]:
    """``scores``, a score for each of ``EXPRESSION_LABELS`` (every reader of a frame's
    scores reads them all: a part with other labels is an error of that part, not a crash of
    the join), keyed by the one copy of each label: a frame row's expression scores held a
    string of their own per label, a third of the row (an hour has 18,000 rows)."""
    if scores.keys() != set(EXPRESSION_LABELS):
        raise ValueError(
            f"expression scores must give each of {', '.join(EXPRESSION_LABELS)}, "
            f"not {', '.join(sorted(scores)) or 'none'}"
        )
    return {sys.intern(label): value for label, value in scores.items()}


#: A score per expression label, the labels shared between rows.
LabelScores = Annotated[dict[str, float], AfterValidator(_labels_interned)]


class PartData(BaseModel):
    """The base of every analyzer's per-part data."""

    model_config = ConfigDict(extra="forbid")


@dataclass(slots=True, kw_only=True, config=ROW)
class FrameRow:
    """One sampled frame: where it sits in the video."""

    index: int = Field(ge=0, description="Frame number in the sampled series of the video.")
    t: float = Field(ge=0, description="Seconds from the start of the video.")


# --- face -----------------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True, config=ROW)
class FaceFrame(FrameRow):
    faces: int = Field(ge=0, description="Faces found in the frame.")
    box: list[float] | None = Field(
        default=None,
        min_length=4,
        max_length=4,
        description="The largest face: x, y, width, height as shares of the frame's size.",
    )
    detection_score: float | None = Field(default=None, description="The face detector's score.")
    scores: LabelScores | None = Field(
        default=None, description="Apparent expression scores of the largest face (sum 1)."
    )
    roll_deg: float | None = Field(
        default=None,
        description="The face's tilt in the image plane, degrees; it is turned upright.",
    )


class FacePart(PartData):
    backend: str = Field(description="The expression model family, e.g. 'fer'.")
    detector: str = Field(description="The face detector used.")
    model: str = Field(description="The expression model's name.")
    frames: list[FaceFrame] = Field(default_factory=list, description="One row per frame.")


# --- pose: head, gaze, blinks, body and hands -------------------------------------------------


@dataclass(slots=True, kw_only=True, config=ROW)
class Hand:
    x: float = Field(description="Centre of the hand's landmarks, share of the frame's long side.")
    y: float = Field(description="The same, vertically.")
    label: str | None = Field(default=None, description="MediaPipe's handedness label.")
    score: float | None = Field(default=None, description="MediaPipe's score for that label.")


@dataclass(slots=True, kw_only=True, config=ROW)
class ActionUnitMeasures:
    """Where the face's landmarks sit in one frame, one measure per facial action unit: in
    inter-ocular distances (outer eye corner to outer eye corner) in the face's own frame, so
    that neither the face's size in the picture nor a turned head changes them much; each
    oriented so that more of the action is larger. Positions, not intensities: the join
    measures each against the person's neutral."""

    brow_raiser: float = Field(description="AU1+2: height of the brows above the eye corners.")
    brow_lowerer: float = Field(
        description="AU4: minus the inner brows' height and minus the gap between them."
    )
    upper_lid_raiser: float = Field(
        description="AU5: height of the upper lids' middle above their eye's corners."
    )
    nose_wrinkler: float = Field(description="AU9: height of the alar creases (nostril wings).")
    upper_lip_raiser: float = Field(
        description="AU10: minus the philtrum (subnasale to the top of the upper lip)."
    )
    lip_corner_puller: float = Field(description="AU12: height of the mouth's corners.")
    lip_corner_depressor: float = Field(description="AU15: minus the mouth corners' height.")
    lip_stretcher: float = Field(
        description="AU20: half the mouth's width minus its corners' height."
    )
    jaw_drop: float = Field(description="AU26: depth of the chin below the eye corners.")


@dataclass(slots=True, kw_only=True, config=ROW)
class PoseFrame(FrameRow):
    """One frame's face and, on the body grid, body and hand measures; null where not found."""

    face: bool | None = Field(default=None, description="A face was detected.")
    landmarks: bool | None = Field(default=None, description="Face Mesh placed its landmarks.")
    ear: float | None = Field(default=None, description="Mean eye aspect ratio of both eyes.")
    yaw: float | None = Field(
        default=None, description="Head yaw, degrees, the person's own left +."
    )
    pitch: float | None = Field(default=None, description="Head pitch, degrees, up +.")
    roll: float | None = Field(default=None, description="Head roll, degrees.")
    gaze_yaw: float | None = Field(default=None, description="Gaze yaw, degrees.")
    gaze_pitch: float | None = Field(default=None, description="Gaze pitch, degrees.")
    looking: bool | None = Field(default=None, description="Looking at the camera.")
    direction: str | None = Field(
        default=None, description="Where the person looks when not at it."
    )
    face_width: float | None = Field(
        default=None, description="Face width, share of the frame's long side (distance to camera)."
    )
    action_units: ActionUnitMeasures | None = Field(
        default=None, description="Face Mesh's geometric measure of each facial action unit."
    )
    body_checked: bool | None = Field(default=None, description="Body and hands were looked for.")
    body: bool | None = Field(default=None, description="Both shoulders were found.")
    shoulder_tilt: float | None = Field(default=None, description="Degrees.")
    shoulder_width: float | None = Field(
        default=None, description="Share of the frame's long side."
    )
    shoulder_mid: list[float] | None = Field(
        default=None, min_length=2, max_length=2, description="Midpoint of the shoulders, x and y."
    )
    body_visibility: float | None = Field(
        default=None, description="The lower of the two shoulders' visibility scores."
    )
    hip_mid: list[float] | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="Midpoint of the hips, when both are seen.",
    )
    hands: list[Hand] | None = Field(default=None, description="Hands found, on the body grid.")
    face_touch: bool | None = Field(default=None, description="A hand lies over the face.")


class PosePart(PartData):
    sample_fps: float = Field(ge=0, description="Frames sampled per second of video.")
    frames: list[PoseFrame] = Field(default_factory=list, description="One row per frame.")


# --- media quality ----------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True, config=ROW)
class QualityFrame(FrameRow):
    brightness: float = Field(description="Mean luma, 0..255.")
    contrast: float = Field(description="Standard deviation of luma.")
    blur: float = Field(description="Variance of the Laplacian: low is blurred.")
    black: bool = Field(description="The frame is (nearly) black.")
    diff_prev: float | None = Field(
        default=None, description="Mean absolute difference to the previous frame of the batch."
    )


class QualityFramesPart(PartData):
    frames: list[QualityFrame] = Field(default_factory=list, description="One row per frame.")


class QualityAudioPart(PartData):
    start: float = Field(ge=0, description="Start of the chunk, seconds.")
    end: float = Field(ge=0, description="End of the chunk, seconds.")
    duration_s: float = Field(ge=0, description="Seconds of samples in the chunk.")
    samples: int = Field(ge=0, description="Samples in the chunk.")
    rms_dbfs: float = Field(description="RMS level of the chunk, dBFS.")
    peak_dbfs: float = Field(description="Peak level, dBFS.")
    clipped_samples: int = Field(ge=0, description="Samples at full scale.")
    windows: int = Field(ge=0, description="Level windows measured.")
    silent_windows: int = Field(ge=0, description="Of those, windows under the silence level.")
    noise_floor_dbfs: float = Field(description="Level of the quiet windows (a low percentile).")
    speech_level_dbfs: float = Field(description="Level of the loud windows (a high percentile).")
    window_db_hist: list[int] = Field(description="Windows per 1 dB level bin from the floor.")


# --- speech -----------------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True, config=ROW)
class WordRow:
    """One recognised word of a segment."""

    start: float = Field(description="Start of the word, seconds.")
    end: float = Field(description="End of the word, seconds.")
    word: str = Field(description="As Whisper writes it: leading space, punctuation attached.")
    probability: float = Field(ge=0, le=1, description="Whisper's probability of the word.")


class SegmentRow(BaseModel):
    """One faster-whisper segment of the chunk, flagged when it looks invented."""

    model_config = ConfigDict(extra="forbid")

    start: float = Field(description="Start of the segment, seconds.")
    end: float = Field(description="End of the segment, seconds.")
    text: str = Field(description="The segment's text.")
    avg_logprob: float = Field(description="Whisper's mean token log-probability.")
    no_speech_prob: float = Field(description="Whisper's probability of no speech.")
    compression_ratio: float = Field(description="gzip compression ratio of the text.")
    words: list[WordRow] = Field(default_factory=list, description="Its words in time order.")
    flag: str | None = Field(default=None, description="Why the segment is left out, if it is.")
    language: str | None = Field(
        default=None, description="The language it was decoded in (null from older workers)."
    )
    words_after_speech: int = Field(
        default=0,
        ge=0,
        description="Words cut from its end: decoded after the chunk's last speech, with no "
        "speech heard under them.",
    )


class VoiceSignal(BaseModel):
    """Sample counts of the chunk, for the clipping and voiced shares."""

    model_config = ConfigDict(extra="forbid")

    samples: int = Field(ge=0, description="Samples of the chunk at 16 kHz.")
    clipped: int = Field(ge=0, description="Samples at full scale.")
    speech_frames: int = Field(default=0, ge=0, description="20 ms frames inside kept segments.")
    voiced_frames: int = Field(default=0, ge=0, description="Of those, frames with a pitch.")


class Track(BaseModel):
    """Pitch and harmonics-to-noise ratio (null where unvoiced) and level of the chunk on a
    fixed grid."""

    model_config = ConfigDict(extra="forbid")

    start: float = Field(description="Time of the first frame.")
    hop_s: float = Field(gt=0, description="Seconds between frames.")
    f0: NumbersOrNull = Field(description="Pitch in Hz per frame (Praat, autocorrelation).")
    db: Numbers = Field(description="Level in dBFS per frame.")
    hnr: NumbersOrNull = Field(
        default_factory=lambda: np.zeros(0),
        description="Harmonics-to-noise ratio in dB per frame, 10·log10(r/(1-r)) of the "
        "frame's autocorrelation peak r; null where unvoiced; empty from workers that did "
        "not measure it.",
    )


@dataclass(slots=True, kw_only=True, config=ROW)
class VoicedStretch:
    """A run of glottal pulses without a voice break, with its local jitter and shimmer
    (Praat); the join gives it to the speaker whose words cover its middle."""

    start: float = Field(description="Time of its first glottal pulse, seconds.")
    end: float = Field(description="Time of its last glottal pulse, seconds.")
    periods: int = Field(
        ge=2, description="Periods within Praat's voice report limits, which jitter compares."
    )
    jitter_percent: float = Field(
        ge=0,
        description="Jitter (local): mean absolute difference of consecutive periods over "
        "the mean period, percent.",
    )
    shimmer_percent: float = Field(
        ge=0,
        description="Shimmer (local): mean absolute difference of consecutive periods' peak "
        "amplitudes over the mean amplitude, percent.",
    )


@dataclass(slots=True, kw_only=True, config=ROW)
class SpeakerWindow:
    """A window of speech and its speaker embedding, clustered over the video in the join."""

    start: float = Field(description="Start of the window, seconds.")
    end: float = Field(description="End of the window, seconds.")
    clarity: float = Field(ge=0, le=1, description="Mean speech probability over the window.")
    embedding: Float32s = Field(description="The window's CAM++ speaker embedding.")


class SpeechPart(PartData):
    """One audio chunk's transcript, voice track and speaker windows."""

    start: float = Field(ge=0, description="Start of the chunk, seconds.")
    end: float = Field(ge=0, description="End of the chunk, seconds.")
    duration_s: float = Field(ge=0, description="Seconds of audio analysed.")
    language: str | None = Field(
        default=None, description="The chunk's language; null without speech."
    )
    language_probability: float | None = Field(
        default=None, description="Its share of probability among the candidate languages."
    )
    language_source: str | None = Field(
        default=None, description="metadata, setting, detected, default or interview."
    )
    language_scores: dict[str, float] = Field(
        default_factory=dict, description="The best detected candidates' shares."
    )
    filler_prompt: bool = Field(default=False, description="Whisper was prompted to keep fillers.")
    beam_size: int | None = Field(default=None, description="Beam size of the decode kept.")
    segments: list[SegmentRow] = Field(
        default_factory=list, description="Every decoded segment, flagged ones included."
    )
    voice: VoiceSignal = Field(description="Sample and frame counts of the chunk.")
    noise_db_hist: list[int] = Field(
        default_factory=list,
        description="Frames outside speech per 1 dB level bin from -100 dBFS.",
    )
    track: Track | None = Field(
        default=None,
        description="Pitch, harmonics-to-noise ratio and level; null without kept speech.",
    )
    voiced_stretches: list[VoicedStretch] = Field(
        default_factory=list,
        description="Voiced stretches inside kept speech, with their jitter and shimmer.",
    )
    speech_s: float = Field(default=0.0, ge=0, description="Seconds inside kept segments.")
    speech_regions: list[tuple[float, float]] = Field(
        default_factory=list, description="Where speech is heard, (start, end) seconds."
    )
    overlap_regions: list[tuple[float, float]] = Field(
        default_factory=list, description="Where two people speak at once, (start, end) seconds."
    )
    speaker_windows: list[SpeakerWindow] = Field(
        default_factory=list, description="Embedded windows of speech."
    )
    speaker_model: str | None = Field(
        default=None, description="Why there are no speaker windows when the model was unavailable."
    )
    timing: dict[str, float] = Field(
        default_factory=dict, description="Seconds spent per stage of the analysis."
    )
