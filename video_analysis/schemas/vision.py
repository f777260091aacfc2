"""The vision sections of the result: face, gaze, head_pose, blinks, posture and gestures.

Contract v1 key paths are kept (see DESIGN.md); every model allows extra fields, so figures
added later do not break older readers. A section that could not be judged (``cannot_assess``
set) has confidence 0.0, its figures null and its lists empty; a figure that could not be
measured is null, never 0. Times are seconds from the start of the video; left and right are
the person's own.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.dataclasses import dataclass

from .rows import RESULT_ROW
from .section import Section


class Stats(BaseModel):
    """Mean, standard deviation, minimum and maximum of a measure over the video."""

    model_config = ConfigDict(extra="allow")

    mean: float = Field(description="Mean over the measured frames.")
    std: float = Field(description="Standard deviation over the measured frames.")
    min: float = Field(description="Smallest value measured.")
    max: float = Field(description="Largest value measured.")


# --- face -----------------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True, config=RESULT_ROW)
class ExpressionSecond:
    """One whole second of the video with a face: the mean expression scores of its frames."""

    t: float = Field(description="Start of the second, in seconds from the start of the video.")
    dominant: str = Field(description="The label with the highest mean score in this second.")
    scores: dict[str, float] = Field(
        default_factory=dict, description="Mean score by apparent expression label."
    )
    frames: int = Field(default=0, ge=0, description="Frames with a scored face in this second.")


class Expression(BaseModel):
    """Apparent facial expression over the video: what the face shows, not what the person
    feels. Only ``note`` is there when the section could not be judged."""

    model_config = ConfigDict(extra="allow")

    distribution: dict[str, float] | None = Field(
        None, description="Share of frames with a face by top-scoring apparent expression."
    )
    mean_scores: dict[str, float] | None = Field(
        None, description="Mean score by apparent expression label over frames with a face."
    )
    dominant: str | None = Field(
        None, description="The label of most frames (ties: the higher mean score)."
    )
    changes: int | None = Field(
        None, ge=0, description="Changes of the smoothed (majority over the window) label."
    )
    changes_per_min: float | None = Field(
        None, description="Changes per minute of analysed video (null when it cannot be timed)."
    )
    smoothing_window_s: float | None = Field(
        None, description="Width of the majority window the changes are counted on."
    )
    timeline: list[ExpressionSecond] = Field(
        default_factory=list, description="One row per whole second that has a scored face."
    )
    action_unit_frames: dict[str, int] | None = Field(
        None,
        description="Frames whose label the facial action units changed, by the label given "
        "(the expression model barely ever reads disgust); null when no frame changed.",
    )
    note: str | None = Field(None, description="How to read the labels.")


class ActionUnit(BaseModel):
    """One facial action unit over the video: how far its landmarks moved from where they
    sit on the person's neutral face, in inter-ocular distances (0.01 is about 1 mm)."""

    model_config = ConfigDict(extra="allow")

    au: str = Field(description="Its FACS action unit(s), e.g. 'AU12'.")
    name: str = Field(description="Its FACS name, e.g. 'lip corner puller'.")
    mean: float = Field(ge=0, description="Mean movement over the measured frames.")
    peak: float = Field(ge=0, description="95th percentile of the movement over the frames.")
    active_share: float = Field(
        ge=0,
        le=1,
        description="Share of the measured frames with the movement at or above active_threshold.",
    )
    active_threshold: float = Field(
        description="The movement that counts as active: above what talking with a neutral "
        "face moves it."
    )


@dataclass(slots=True, kw_only=True, config=RESULT_ROW)
class ActionUnitSecond:
    """One whole second of the video with measured landmarks: each action unit's mean movement
    over its frames."""

    t: float = Field(description="Start of the second, in seconds from the start of the video.")
    intensity: dict[str, float] = Field(
        default_factory=dict, description="Mean movement by action unit (the keys of units)."
    )
    frames: int = Field(
        default=0, ge=0, description="Frames with measured landmarks in this second."
    )


class ActionUnits(Section):
    """Facial action units as OpenFace or py-feat name them, estimated from the geometry of
    Face Mesh's landmarks against the person's own neutral face: apparent movement of the
    brows, lids, nose, lips and jaw, not a feeling. ``coverage`` is the share of sampled frames
    with measured landmarks."""

    unit: str | None = Field(None, description="The unit of every movement.")
    neutral: str | None = Field(
        None, description="Which of the person's frames the neutral face is the median of."
    )
    neutral_frames: int | None = Field(
        None, ge=0, description="How many frames the neutral face is taken from."
    )
    frames_measured: int | None = Field(
        None, ge=0, description="Frames with the face's landmarks measured."
    )
    units: dict[str, ActionUnit] = Field(
        default_factory=dict,
        description="By action unit: brow_raiser, brow_lowerer, upper_lid_raiser, "
        "nose_wrinkler, upper_lip_raiser, lip_corner_puller, lip_corner_depressor, "
        "lip_stretcher, jaw_drop.",
    )
    timeline: list[ActionUnitSecond] = Field(
        default_factory=list, description="One row per whole second with measured landmarks."
    )
    note: str | None = Field(None, description="How to read the figures.")


class FaceSection(Section):
    """Face detection and apparent facial expression, on the largest face of each frame."""

    backend: str | None = Field(None, description="Expression model used: fer or deepface.")
    detector: str | None = Field(None, description="Face detector used.")
    multi_face_ratio: float | None = Field(
        None, ge=0, le=1, description="Share of expected frames with more than one face."
    )
    frames_expected: int | None = Field(None, ge=0, description="Frames sampled from the video.")
    frames_analysed: int | None = Field(None, ge=0, description="Frames that reached the model.")
    frames_with_face: int | None = Field(None, ge=0, description="Frames with a face found.")
    min_coverage: float | None = Field(
        None, description="Share of frames with a face needed to describe the expression."
    )
    detection_confidence: float | None = Field(
        None, ge=0, le=1, description="Mean face detector score over frames with a face."
    )
    expression: Expression | None = Field(
        None, description="Apparent expression over the video; only its note when not judged."
    )
    action_units: ActionUnits | None = Field(
        None,
        description="Facial action units (apparent movement of the face against the person's "
        "neutral, not a feeling), from the pose role's face landmarks; null without that role.",
    )


# --- gaze -----------------------------------------------------------------------------------


class AwayEpisode(BaseModel):
    """A stretch of looking away from the camera at least ``min_away_s`` long."""

    model_config = ConfigDict(extra="allow")

    start: float = Field(description="Seconds from the start of the video.")
    end: float = Field(description="Seconds from the start of the video.")
    direction: str = Field(
        description="Where the person mostly looked: left, right, up or down (their own)."
    )


class GazeSection(Section):
    """Eye contact with the camera and the episodes of looking away."""

    eye_contact_ratio: float | None = Field(
        None, ge=0, le=1, description="Share of measured frames looking at the camera."
    )
    away_episodes: list[AwayEpisode] = Field(
        default_factory=list, description="Looks away at least min_away_s long, in time order."
    )
    min_away_s: float | None = Field(
        None, description="Shortest look away that counts as an episode."
    )
    basis: str | None = Field(None, description="What the gaze is estimated from.")


# --- head pose ------------------------------------------------------------------------------


class HeadPoseSection(Section):
    """Head yaw, pitch and roll over the video, and large head movements."""

    convention: str | None = Field(None, description="Units and signs of the angles.")
    nods_shakes: str | None = Field(None, description="Why nods and shakes are not reported.")
    yaw: Stats | None = Field(None, description="Degrees, > 0 turned to the person's left.")
    pitch: Stats | None = Field(None, description="Degrees, > 0 up.")
    roll: Stats | None = Field(
        None, description="Degrees, > 0 tilted towards the person's left shoulder."
    )
    large_movements: int | None = Field(
        None, ge=0, description="Yaw or pitch moving 15 degrees away from where the head was."
    )
    large_movements_per_min: float | None = Field(
        None, description="Per minute of observed face (null when none could be timed)."
    )


# --- blinks ---------------------------------------------------------------------------------


class BlinksSection(Section):
    """Blinks from the eyes' aspect ratio, where the sampled frame rate allows (>= 10 fps)."""

    per_min: float | None = Field(None, description="Blinks per minute of observed eyes.")
    count: int | None = Field(None, ge=0, description="Blinks counted.")
    sample_fps: float | None = Field(None, description="Frame rate the blinks were sought at.")
    ear_baseline: float | None = Field(
        None, description="Median eye aspect ratio, the reference for shut eyes."
    )


# --- posture --------------------------------------------------------------------------------


class Lean(BaseModel):
    """Leaning towards or away from the camera, from the shoulder width against its median."""

    model_config = ConfigDict(extra="allow")

    toward_camera_share: float = Field(
        ge=0, le=1, description="Share of body frames with shoulders 10% wider than the median."
    )
    away_share: float = Field(
        ge=0, le=1, description="Share of body frames with shoulders 10% narrower than the median."
    )
    width_ratio_std: float = Field(
        description="Standard deviation of shoulder width over its median."
    )
    basis: str | None = Field(None, description="What the lean is measured from.")


class Movement(BaseModel):
    """Torso movement: the speed of the shoulder (and hip) midpoint."""

    model_config = ConfigDict(extra="allow")

    mean_speed: float | None = Field(None, description="Shoulder widths per second.")
    level: Literal["still", "moderate", "restless"] | None = Field(
        None, description="The mean speed read as still, moderate or restless."
    )


class PostureSection(Section):
    """Lean, shoulder tilt, torso movement and posture changes, from the shoulders."""

    convention: str | None = Field(None, description="Units and signs of the figures.")
    shoulder_tilt: Stats | None = Field(
        None, description="Degrees, > 0 when the person's left shoulder is lower."
    )
    lean: Lean | None = Field(None, description="Leaning towards or away from the camera.")
    movement: Movement | None = Field(None, description="How much the torso moved.")
    posture_changes: int | None = Field(
        None, ge=0, description="Shifts, turns or leans away from the posture held before."
    )
    posture_changes_per_min: float | None = Field(
        None, description="Per minute of observed shoulders (null when none could be timed)."
    )


# --- gestures -------------------------------------------------------------------------------


class FaceTouchEpisode(BaseModel):
    """A stretch of frames with a hand on the face."""

    model_config = ConfigDict(extra="allow")

    start: float = Field(description="Seconds from the start of the video.")
    end: float = Field(description="Seconds from the start of the video.")


class GesturesSection(Section):
    """Hand visibility, hand activity and face touching."""

    hands_visible_ratio: float | None = Field(
        None, ge=0, le=1, description="Share of frames checked for hands that show a hand."
    )
    hand_activity: float | None = Field(
        None,
        description="Mean speed of the hands, in hand_activity_unit (null when no hand was "
        "seen in two consecutive checked frames).",
    )
    hand_activity_unit: str | None = Field(None, description="The unit of hand_activity.")
    face_touching_episodes: list[FaceTouchEpisode] = Field(
        default_factory=list, description="Stretches with a hand on the face, in time order."
    )
    face_touching_count: int | None = Field(
        None, ge=0, description="How many face-touching episodes."
    )
