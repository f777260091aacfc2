"""The pose/gaze analyzer: MediaPipe on real face photos, and summarize on synthetic rows."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from pydantic import ValidationError

from tests.vision_fixtures import astronaut, frame_batch, pose_frame, pose_part
from video_analysis.analyzers import geometry as geo
from video_analysis.analyzers import timeseries as ts
from video_analysis.analyzers.base import DecodedFrames, SummaryInput
from video_analysis.analyzers.pose import PoseAnalyzer
from video_analysis.analyzers.registry import analyzer_class
from video_analysis.schemas import (
    AwayEpisode,
    BlinksSection,
    FaceTouchEpisode,
    GazeSection,
    GesturesSection,
    HeadPoseSection,
    MediaInfo,
    PostureSection,
    Section,
    SplitManifest,
)
from video_analysis.schemas.parts import FrameRow, Hand, PartData, PoseFrame, PosePart
from video_analysis.settings import Settings

# Yaw of a frontal face within 10 degrees: the generic 3D face model and landmark noise
# give a few degrees of bias on a real face (measured: -1 on the astronaut, +5 mirrored).
FRONTAL_YAW_TOLERANCE = 10.0


def mirrored(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    return np.ascontiguousarray(image[:, ::-1])


def turned(image: NDArray[np.uint8], amount: float = 0.3) -> NDArray[np.uint8]:
    """A horizontal perspective warp: the image's left edge recedes, so the face turns
    towards the image's right, i.e. to the person's own left (yaw > 0)."""
    h, w = image.shape[:2]
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    d = amount * h
    dst = np.array([[0, d], [w, 0], [w, h], [0, h - d]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(image, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(warped, dtype=np.uint8)


def no_face() -> NDArray[np.uint8]:
    rng = np.random.default_rng(0)
    image = np.full((360, 640, 3), 120, np.uint8)
    image[:, 320:] = (40, 160, 60)
    return np.ascontiguousarray(image + rng.integers(0, 20, image.shape, dtype=np.uint8))


def batch(images: list[NDArray[np.uint8]], fps: float = 5.0, start: int = 0) -> DecodedFrames:
    return frame_batch(images, fps=fps, start=start, batch_index=start, video_id="vid-pose")


def manifest(frames: int, fps: float) -> SplitManifest:
    return SplitManifest(
        video_id="vid-pose",
        media=MediaInfo(duration_s=frames / fps, has_video=True),
        frames_sampled=frames,
        sample_fps=fps,
    )


#: The result's model of each section the pose role fills.
SECTION_MODELS: dict[str, type[Section]] = {
    "gaze": GazeSection,
    "head_pose": HeadPoseSection,
    "blinks": BlinksSection,
    "posture": PostureSection,
    "gestures": GesturesSection,
}


@dataclass
class Sections:
    """The pose role's sections of one video."""

    gaze: GazeSection
    head_pose: HeadPoseSection
    blinks: BlinksSection
    posture: PostureSection
    gestures: GesturesSection


def summarize(
    parts: list[PosePart], frames: int, fps: float, settings: Settings | None = None
) -> Sections:
    summary_input: SummaryInput[PosePart, PartData] = SummaryInput(
        manifest=manifest(frames, fps), settings=settings or Settings(), frames=parts
    )
    sections = PoseAnalyzer.summarize(summary_input)
    assert sections.keys() == SECTION_MODELS.keys()
    for name, section in sections.items():
        assert type(section) is SECTION_MODELS[name], name  # the result's typed section
    return Sections(**sections)


def analyse(analyzer: PoseAnalyzer, images: list[NDArray[np.uint8]], start: int = 0) -> PosePart:
    """The part of a batch as the join reads it back from its JSON message."""
    data = analyzer.analyze_frames(batch(images, start=start))
    return PosePart.model_validate_json(data.model_dump_json())


def one_row(analyzer: PoseAnalyzer, image: NDArray[np.uint8]) -> PoseFrame:
    (row,) = analyse(analyzer, [image]).frames
    return row


def angle(value: float | None) -> float:
    assert value is not None
    return value


# --- MediaPipe on real images ------------------------------------------------------------


def test_astronaut_face_is_found_facing_the_camera(pose_analyzer: PoseAnalyzer) -> None:
    row = one_row(pose_analyzer, astronaut())
    assert row.face is True
    assert abs(angle(row.yaw)) < FRONTAL_YAW_TOLERANCE
    assert row.ear is not None and 0.2 < row.ear < 0.45  # eyes open
    assert row.body is True  # head and shoulders


def test_mirrored_astronaut_stays_frontal(pose_analyzer: PoseAnalyzer) -> None:
    original = one_row(pose_analyzer, astronaut())
    flipped = one_row(pose_analyzer, mirrored(astronaut()))
    assert flipped.face is True
    assert abs(angle(flipped.yaw)) < FRONTAL_YAW_TOLERANCE
    # Mirroring negates yaw and roll: what is left is the estimate's own noise.
    assert abs(angle(original.yaw) + angle(flipped.yaw)) < FRONTAL_YAW_TOLERANCE
    assert np.sign(angle(original.shoulder_tilt)) != np.sign(angle(flipped.shoulder_tilt))


def test_head_pose_signs_from_a_turned_mesh() -> None:
    # A perspective warp of the flat photo does not turn the face for Face Mesh (it still
    # fits a frontal face), so the sign convention is checked on mesh points turned in 3D.
    frontal = {
        geo.MESH_RIGHT_EYE_OUTER: (-45.0, -35.0, 25.0),
        geo.MESH_LEFT_EYE_OUTER: (45.0, -35.0, 25.0),
        geo.MESH_FOREHEAD: (0.0, -90.0, 15.0),
        geo.MESH_CHIN: (0.0, 65.0, 15.0),
    }
    for yaw, pitch, roll in (
        (20.0, 0.0, 0.0),
        (-20.0, 0.0, 0.0),
        (0.0, 15.0, 0.0),
        (0.0, 0.0, 10.0),
    ):
        # Turning to the person's own left rotates about the image's vertical axis (y, down)
        # so that the nose (towards -z) moves to the image's right; looking up about x;
        # tilting about z.
        rotation = (
            cv2.Rodrigues(np.array([0.0, 0.0, np.radians(roll)]))[0]
            @ cv2.Rodrigues(np.array([-np.radians(pitch), 0.0, 0.0]))[0]
            @ cv2.Rodrigues(np.array([0.0, -np.radians(yaw), 0.0]))[0]
        )
        mesh = np.zeros((478, 3))
        for index, point in frontal.items():
            mesh[index] = rotation @ np.array(point) + np.array([320.0, 180.0, 0.0])
        got = geo.head_pose(mesh)
        assert got is not None
        assert got == pytest.approx((yaw, pitch, roll), abs=1.0)


def test_frontal_face_reads_frontal_at_any_scale(pose_analyzer: PoseAnalyzer) -> None:
    # The same photo full size and scaled into a 640x360 frame: both near yaw 0.
    face = astronaut()
    canvas = np.full((360, 640, 3), 90, np.uint8)
    canvas[:, 140:500] = cv2.resize(face, (360, 360), interpolation=cv2.INTER_AREA)
    for image in (face, canvas):
        row = one_row(pose_analyzer, image)
        assert row.face is True
        assert abs(angle(row.yaw)) < 5.0


def test_image_without_face_cannot_be_assessed(pose_analyzer: PoseAnalyzer) -> None:
    data = analyse(pose_analyzer, [no_face()] * 4)
    assert all(row.face is False for row in data.frames)
    sections = summarize([data], frames=4, fps=5.0)
    for section in (sections.gaze, sections.head_pose, sections.blinks):
        assert section.coverage == 0.0 and section.confidence == 0.0
        assert section.cannot_assess


def test_gaze_coverage_matches_share_of_frames_with_a_face(pose_analyzer: PoseAnalyzer) -> None:
    face = astronaut()
    empty = np.asarray(cv2.resize(no_face(), (512, 512)), dtype=np.uint8)
    images = [face if i % 10 < 6 else empty for i in range(20)]  # 60% with a face
    parts = [
        analyse(pose_analyzer, images[10:], start=10),  # out of order on purpose
        analyse(pose_analyzer, images[:10]),
    ]
    sections = summarize(parts, frames=20, fps=5.0)
    assert sections.gaze.coverage == pytest.approx(0.6, abs=0.1)
    assert sections.head_pose.cannot_assess is None
    assert sections.head_pose.yaw is not None
    assert sections.head_pose.yaw.mean == pytest.approx(0.0, abs=FRONTAL_YAW_TOLERANCE)


# --- summarize on synthetic rows ----------------------------------------------------------


def episode(start: float, end: float, direction: str) -> AwayEpisode:
    return AwayEpisode(start=start, end=end, direction=direction)


def test_short_away_glances_are_dropped_and_long_ones_reported() -> None:
    fps = 5.0
    rows = [pose_frame(i, fps) for i in range(50)]
    for i in range(10, 13):  # 0.6 s away: a glance
        rows[i] = pose_frame(i, fps, looking=False, direction="left")
    for i in range(20, 30):  # 2.0 s looking down
        rows[i] = pose_frame(i, fps, looking=False, direction="down")
    gaze = summarize([pose_part(rows)], frames=50, fps=fps).gaze
    assert gaze.cannot_assess is None
    assert gaze.eye_contact_ratio == pytest.approx(37 / 50)
    assert gaze.away_episodes == [episode(4.0, 6.0, "down")]


def test_blinks_cannot_be_assessed_at_5_fps() -> None:
    rows = [pose_frame(i, 5.0) for i in range(100)]
    blinks = summarize([pose_part(rows)], frames=100, fps=5.0).blinks
    assert blinks.per_min is None and blinks.count is None
    assert blinks.confidence == 0.0
    assert blinks.cannot_assess is not None and "5 fps" in blinks.cannot_assess


def test_blinks_are_counted_at_15_fps() -> None:
    fps = 15.0
    rows = [pose_frame(i, fps) for i in range(900)]  # one minute
    for start in range(30, 900, 75):  # a 2-frame dip every 5 s: 12 blinks
        for i in (start, start + 1):
            rows[i] = pose_frame(i, fps, ear=0.1)
    for i in range(440, 470):  # eyes shut for 2 s: not a blink
        rows[i] = pose_frame(i, fps, ear=0.1)
    blinks = summarize([pose_part(rows, fps)], frames=900, fps=fps).blinks
    assert blinks.cannot_assess is None
    assert blinks.count == 12
    assert blinks.per_min == pytest.approx(12.0, abs=0.5)


def test_batches_out_of_order_are_sorted_by_time() -> None:
    fps = 5.0
    rows = [pose_frame(i, fps) for i in range(30)]
    for i in range(5, 15):  # 2 s away across the batch boundary at frame 10
        rows[i] = pose_frame(i, fps, looking=False, direction="right")
    ordered = summarize([pose_part(rows[:10]), pose_part(rows[10:])], frames=30, fps=fps)
    shuffled = summarize(
        [
            pose_part(rows[20:]),
            pose_part(rows[10:20]),
            pose_part(rows[:10]),
            pose_part(rows[:10]),
        ],
        frames=30,
        fps=fps,
    )
    assert shuffled == ordered
    assert ordered.gaze.away_episodes == [episode(1.0, 3.0, "right")]


def test_missing_batch_is_a_gap_not_an_episode() -> None:
    fps = 5.0
    rows = [pose_frame(i, fps, looking=False, direction="left") for i in range(30)]
    # Frames 10-19 missing: two 2 s episodes, not one of 6 s.
    gaze = summarize([pose_part(rows[:10]), pose_part(rows[20:])], frames=30, fps=fps).gaze
    assert [(e.start, e.end) for e in gaze.away_episodes] == [(0.0, 2.0), (4.0, 6.0)]
    assert gaze.coverage == pytest.approx(20 / 30, abs=1e-3)


def test_large_head_movements_are_counted() -> None:
    fps = 5.0
    rows = [pose_frame(i, fps, yaw=30.0 if 20 <= i < 40 else 0.0) for i in range(60)]
    head = summarize([pose_part(rows)], frames=60, fps=fps).head_pose
    assert head.large_movements == 2
    assert head.yaw is not None and head.yaw.mean == pytest.approx(10.0)


def test_shortest_reported_away_episode_comes_from_the_settings_given() -> None:
    fps = 5.0
    rows = [pose_frame(i, fps) for i in range(30)]
    for i in range(10, 13):  # 0.6 s looking left
        rows[i] = pose_frame(i, fps, looking=False, direction="left")

    default = summarize([pose_part(rows)], frames=30, fps=fps).gaze
    shorter = summarize(
        [pose_part(rows)], frames=30, fps=fps, settings=Settings(pose_min_away_s=0.5)
    ).gaze

    assert default.away_episodes == [] and default.min_away_s == 1.0
    assert shorter.away_episodes == [episode(2.0, 2.6, "left")]


def body_frame(i: int, *, hands: list[Hand] | None = None, touch: bool = False) -> PoseFrame:
    """A frame of the body grid: shoulders found, and ``hands`` (none by default)."""
    return pose_frame(
        i,
        body_checked=True,
        body=True,
        shoulder_tilt=1.0,
        shoulder_width=0.3,
        shoulder_mid=[0.5, 0.6],
        body_visibility=0.9,
        hands=hands or [],
        face_touch=touch,
    )


def test_posture_and_gestures_from_the_body_grid() -> None:
    # A hand moving 0.01 of the frame (0.1 face widths) per frame, on the face for 1 s.
    rows = [
        body_frame(i, hands=[Hand(x=0.2 + 0.01 * i, y=0.5, label="Left", score=0.9)])
        for i in range(20)
    ]
    for i in range(10, 15):
        rows[i] = body_frame(i, hands=rows[i].hands, touch=True)

    sections = summarize([pose_part(rows)], frames=20, fps=5.0)

    posture, gestures = sections.posture, sections.gestures
    assert posture.cannot_assess is None and posture.confidence == 0.9
    assert posture.shoulder_tilt is not None and posture.shoulder_tilt.mean == 1.0
    assert posture.movement is not None and posture.movement.level == "still"
    assert posture.posture_changes == 0
    assert gestures.cannot_assess is None and gestures.hands_visible_ratio == 1.0
    assert gestures.hand_activity == pytest.approx(0.5)  # 0.1 face widths per 0.2 s
    assert gestures.face_touching_episodes == [FaceTouchEpisode(start=2.0, end=3.0)]
    assert gestures.face_touching_count == 1


def test_hand_activity_is_null_when_no_hand_was_seen_in_two_checked_frames() -> None:
    rows = [body_frame(i) for i in range(20)]

    gestures = summarize([pose_part(rows)], frames=20, fps=5.0).gestures

    assert gestures.cannot_assess is None and gestures.hands_visible_ratio == 0.0
    assert gestures.hand_activity is None  # not measured, not a still hand
    assert gestures.face_touching_episodes == [] and gestures.face_touching_count == 0


def test_sections_that_cannot_judge_have_zero_confidence_and_null_figures() -> None:
    # Faces without a mesh, never checked for the body: nothing could be measured.
    rows = [PoseFrame(index=i, t=i / 5.0, face=True, landmarks=False) for i in range(20)]

    sections = summarize([pose_part(rows)], frames=20, fps=5.0)

    for section in vars(sections).values():
        assert section.cannot_assess, section
        assert section.confidence == 0.0
    assert sections.gaze.eye_contact_ratio is None and sections.gaze.away_episodes == []
    assert sections.head_pose.yaw is None and sections.head_pose.large_movements is None
    assert sections.blinks.count is None and sections.blinks.per_min is None
    assert sections.posture.shoulder_tilt is None and sections.posture.movement is None
    assert sections.gestures.hand_activity is None
    assert sections.gestures.hands_visible_ratio is None


def test_posture_without_shoulders_cannot_be_judged_even_at_no_minimum_coverage() -> None:
    rows = [pose_frame(i, body_checked=True, body=False, hands=[]) for i in range(10)]

    posture = summarize(
        [pose_part(rows)], frames=10, fps=5.0, settings=Settings(pose_min_coverage=0.0)
    ).posture

    assert posture.cannot_assess and posture.confidence == 0.0
    assert posture.lean is None and posture.shoulder_tilt is None


def test_a_pose_part_with_a_wrong_field_type_is_refused() -> None:
    good = pose_part([pose_frame(0)]).model_dump(mode="json")
    assert PosePart.model_validate(good) == pose_part([pose_frame(0)])

    for row in (
        {"yaw": "left"},
        {"looking": "sometimes"},
        {"hands": [{"x": 0.5}]},  # a hand without its y
        {"shoulder_mid": [0.5]},  # a point of one coordinate
        {"t": -1.0},
        {"smile": 0.9},  # a key the contract does not have
    ):
        bad = {**good, "frames": [good["frames"][0] | row]}
        with pytest.raises(ValidationError):
            PosePart.model_validate(bad)
    with pytest.raises(ValidationError):
        PosePart.model_validate({**good, "sample_fps": "five"})


def test_registry_entry_names_the_pose_package() -> None:
    assert analyzer_class("pose") is PoseAnalyzer
    assert PoseAnalyzer.__module__ == "video_analysis.analyzers.pose.analyzer"
    assert PoseAnalyzer.frames_data is PosePart and PoseAnalyzer.audio_data is None


# --- the shared time-series helpers --------------------------------------------------------


def test_rows_of_parts_are_deduplicated_by_index_and_sorted_by_time() -> None:
    late = pose_part([pose_frame(3, yaw=7.0), pose_frame(2)])
    early = pose_part([pose_frame(0), pose_frame(1)])

    rows = ts.unique_rows(row for part in (late, early, late) for row in part.frames)

    assert [r.t for r in rows] == [0.0, 0.2, 0.4, 0.6]
    assert rows[3].yaw == 7.0


def at(*times: float) -> list[FrameRow]:
    return [FrameRow(index=i, t=t) for i, t in enumerate(times)]


def test_sample_fps_prefers_the_manifest_then_the_parts_then_the_timestamps() -> None:
    rows = at(*(i * 0.25 for i in range(8)))

    assert ts.sample_fps(5.0, rows, [10.0]) == 5.0
    assert ts.sample_fps(0.0, rows, [0.0, 10.0]) == 10.0
    assert ts.sample_fps(0.0, rows) == 4.0
    assert ts.sample_fps(0.0, rows[:1]) == 0.0


def test_runs_split_at_gaps_and_rates_per_minute_and_second() -> None:
    times = [0.0, 0.2, 0.4, 1.4, 1.6, 2.2]
    rows = at(*times)

    split = ts.runs(rows, ts.gap_s(5.0))  # 0.5 s

    assert [[r.t for r in run] for run in split] == [[0.0, 0.2, 0.4], [1.4, 1.6], [2.2]]
    assert ts.observed_s(rows, 5.0, ts.gap_s(5.0)) == pytest.approx(1.2)
    assert ts.observed_s(rows, 0.0, 0.5) == pytest.approx(0.6)
    assert ts.per_min(3, 30.0) == 6.0 and ts.per_min(3, 0.0) is None
    assert ts.by_second(times) == {0: [0, 1, 2], 1: [3, 4], 2: [5]}
    assert ts.stats([1.0, 3.0]) == {"mean": 2.0, "std": 1.0, "min": 1.0, "max": 3.0}
    assert ts.stats([]) is None
