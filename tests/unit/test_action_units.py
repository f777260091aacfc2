"""Facial action units: the geometry of one frame's landmarks, the summary against the
person's neutral face, the disgust the expression model misses, and the join that puts them
in ``face.action_units``."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from numpy.typing import NDArray

from tests.vision_fixtures import face_frame, face_part, pose_frame, pose_part
from video_analysis.analyzers import action_units as au
from video_analysis.analyzers import geometry as geo
from video_analysis.analyzers.frame_columns import FaceColumns, PoseColumns
from video_analysis.assemble import build_result
from video_analysis.schemas import (
    ActionUnits,
    AnalyzerPlan,
    FaceSection,
    MediaInfo,
    ModelInfo,
    PartialResult,
    PartSource,
    SplitManifest,
)
from video_analysis.schemas.parts import ActionUnitMeasures, PartData
from video_analysis.settings import Settings

# A neutral face in pixels (x right, y down, z away from the camera), 90 px between the outer
# eye corners: only the points the measures and the face's frame are taken from.
NEUTRAL: dict[int, tuple[float, float, float]] = {
    33: (-45, 0, 0),
    133: (-15, 0, 0),
    362: (15, 0, 0),
    263: (45, 0, 0),
    168: (0, -5, -10),
    1: (0, 45, -30),
    2: (0, 50, -20),
    0: (0, 62, -20),
    37: (-6, 61, -20),
    267: (6, 61, -20),
    61: (-25, 70, -10),
    291: (25, 70, -10),
    152: (0, 110, -10),
    129: (-12, 40, -15),
    358: (12, 40, -15),
}
for k, i in enumerate((70, 63, 105, 66, 107, 46, 53, 52, 65, 55)):
    NEUTRAL[i] = (-45 + 7 * (k % 5), -25 + 4 * (k // 5), 0)
for k, i in enumerate((300, 293, 334, 296, 336, 276, 283, 282, 295, 285)):
    NEUTRAL[i] = (45 - 7 * (k % 5), -25 + 4 * (k // 5), 0)
for i in (159, 158, 160):
    NEUTRAL[i] = (-30, -6, 0)
for i in (386, 385, 387):
    NEUTRAL[i] = (30, -6, 0)


def mesh(**moves: tuple[tuple[int, ...], tuple[float, float]]) -> NDArray[np.float64]:
    """The neutral face's 478 points, with named groups of points moved by (dx, dy) pixels."""
    points = np.zeros((478, 3))
    for i, p in NEUTRAL.items():
        points[i] = p
    for indices, (dx, dy) in moves.values():
        for i in indices:
            points[i, :2] += (dx, dy)
    return points


def posed(points: NDArray[np.float64], scale: float, yaw_deg: float) -> NDArray[np.float64]:
    """The same face further from the camera and turned aside, somewhere else in the frame."""
    a = math.radians(yaw_deg)
    turn = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    moved: NDArray[np.float64] = points @ turn.T * scale + np.array([320.0, 180.0, 5.0])
    return moved


def measures(points: NDArray[np.float64]) -> dict[str, float]:
    found = geo.action_units(points)
    assert found is not None
    return found


# ------------------------------------------------------------------------------ one frame


def test_raised_brows_measure_higher_than_neutral_brows() -> None:
    raised = measures(mesh(brows=(geo.BROWS, (0, -6))))
    neutral = measures(mesh())

    # 6 px of 90 between the eye corners, along the nose ridge (which leans 22 degrees).
    assert raised["brow_raiser"] - neutral["brow_raiser"] == pytest.approx(6 / 90 * 50 / 2900**0.5)
    assert raised["brow_lowerer"] < neutral["brow_lowerer"]
    assert raised["jaw_drop"] == pytest.approx(neutral["jaw_drop"])


def test_the_measures_do_not_change_with_face_size_place_or_a_turned_head() -> None:
    face = mesh(smile=(geo.MOUTH_CORNERS, (0, -4)))

    here, there = measures(face), measures(posed(face, scale=0.4, yaw_deg=25))

    assert there == pytest.approx(here, abs=1e-9)


def test_each_movement_shows_on_its_own_unit() -> None:
    neutral = measures(mesh())
    cases = {
        "brow_lowerer": {"inner": ((107, 55), (6, 4)), "inner_left": ((336, 285), (-6, 4))},
        "upper_lid_raiser": {"lids": ((159, 158, 160, 386, 385, 387), (0, -3))},
        "nose_wrinkler": {"alae": (geo.ALAE, (0, -3))},
        "upper_lip_raiser": {"lip": (geo.UPPER_LIP, (0, -4))},
        "lip_corner_puller": {"corners": (geo.MOUTH_CORNERS, (0, -5))},
        "lip_corner_depressor": {"corners": (geo.MOUTH_CORNERS, (0, 5))},
        "lip_stretcher": {"right": ((61,), (-5, 0)), "left": ((291,), (5, 0))},
        "jaw_drop": {"chin": ((geo.CHIN,), (0, 9))},
    }
    for unit, moves in cases.items():
        moved = measures(mesh(**moves))
        assert moved[unit] > neutral[unit] + 0.02, unit


def test_a_smile_is_not_a_lip_stretch() -> None:
    neutral = measures(mesh())
    smile = measures(mesh(right=((61,), (-4, -6)), left=((291,), (4, -6))))

    assert smile["lip_corner_puller"] > neutral["lip_corner_puller"]
    assert smile["lip_stretcher"] < neutral["lip_stretcher"]


def test_a_mesh_without_the_468_points_has_no_measures() -> None:
    assert geo.action_units(mesh()[:100]) is None


# ------------------------------------------------------------------------- over the video


def frames(upper_lip: list[float], **fields: float) -> list[ActionUnitMeasures]:
    """Per-frame measures that differ from a neutral face in the upper-lip raiser only."""
    base = {f.name: 0.0 for f in dataclasses.fields(ActionUnitMeasures)} | fields
    return [ActionUnitMeasures(**(base | {"upper_lip_raiser": v})) for v in upper_lip]


def test_movement_is_measured_from_the_frames_read_as_neutral() -> None:
    # Four frames at rest, then six with the upper lip raised by 0.04 inter-ocular distances:
    # the median of all frames would be the raised lip, the frames read neutral are at rest.
    measured = frames([0.0] * 4 + [0.04] * 6)
    pose = [pose_frame(i, action_units=m) for i, m in enumerate(measured)]
    face = [face_frame(i, "neutral" if i < 4 else "angry") for i in range(10)]

    section, moved = au.summarize(
        PoseColumns.of(pose), FaceColumns.of(face), expected=10, min_coverage=0.3
    )

    assert section.neutral == "frames the expression model reads as neutral"
    assert section.neutral_frames == 4
    lip = section.units["upper_lip_raiser"]
    assert (lip.au, lip.active_share, lip.peak) == ("AU10", 0.6, 0.04)
    assert section.units["brow_raiser"].active_share == 0.0
    ninth = moved.at(9)
    assert ninth is not None and ninth["upper_lip_raiser"] == pytest.approx(0.04)
    # One row per second (5 frames a second), the mean of its frames.
    assert [(s.t, s.frames) for s in section.timeline] == [(0.0, 5), (1.0, 5)]
    assert section.timeline[1].intensity["upper_lip_raiser"] == pytest.approx(0.04)


def test_without_frames_read_neutral_the_median_of_all_frames_is_the_neutral() -> None:
    pose = [pose_frame(i, action_units=m) for i, m in enumerate(frames([0.0] * 8 + [0.05] * 2))]

    section, _ = au.summarize(
        PoseColumns.of(pose), FaceColumns.of([]), expected=10, min_coverage=0.3
    )

    assert section.neutral == "all frames with measured landmarks"
    assert section.units["upper_lip_raiser"].active_share == 0.2


def test_too_few_measured_frames_cannot_be_judged() -> None:
    pose = [pose_frame(0, action_units=frames([0.0])[0])] + [pose_frame(i) for i in range(1, 10)]

    section, moved = au.summarize(
        PoseColumns.of(pose), FaceColumns.of([]), expected=10, min_coverage=0.3
    )

    assert section.cannot_assess is not None and section.confidence == 0.0
    assert section.units == {} and len(moved) == 0


def test_angry_or_sad_with_the_upper_lip_raised_reads_as_disgust() -> None:
    raised = {u.key: 0.0 for u in au.UNITS} | {"upper_lip_raiser": 0.03}
    frowning = raised | {"brow_lowerer": 0.05}
    rows = [
        face_frame(0, "angry"),
        face_frame(1, "sad"),
        face_frame(2, "happy"),
        face_frame(3, "angry"),
        face_frame(4, "angry"),
    ]
    still = {u.key: 0.0 for u in au.UNITS}
    moved = au.Movements(
        index=np.arange(5),
        values=np.array(
            [[m[u.key] for u in au.UNITS] for m in (raised, raised, raised, frowning, still)]
        ),
    )

    changed = au.read_disgust(FaceColumns.of(rows), moved)

    assert sorted(changed) == [0, 1]
    scores = changed[0]
    assert rows[0].scores is not None
    assert max(scores, key=scores.__getitem__) == "disgust"
    assert scores["disgust"] == rows[0].scores["angry"]
    assert sum(scores.values()) == pytest.approx(1.0)


# ------------------------------------------------------------------------------- the join

MODEL = ModelInfo(analyzer="face", name="m", version="1")


def part(analyzer: str, data: PartData) -> PartialResult:
    return PartialResult(
        video_id="v1",
        analyzer=analyzer,
        source=PartSource.FRAMES,
        index=0,
        model=MODEL.model_copy(update={"analyzer": analyzer}),
        data=data.model_dump(mode="json"),
    )


def disgusted_video(analyzers: list[str]) -> tuple[SplitManifest, list[PartialResult]]:
    """Ten frames: three the model reads neutral, seven angry with the upper lip raised."""
    manifest = SplitManifest(
        video_id="v1",
        media=MediaInfo(duration_s=2.0, has_video=True),
        frame_batches=1,
        frames_sampled=10,
        sample_fps=5.0,
        analyzers=AnalyzerPlan(frames=analyzers, audio=[]),
    )
    labels = ["neutral"] * 3 + ["angry"] * 7
    parts = [part("face", face_part([face_frame(i, labels[i]) for i in range(10)]))]
    if "pose" in analyzers:
        measured = frames([0.0] * 3 + [0.04] * 7)
        rows = [pose_frame(i, action_units=m) for i, m in enumerate(measured)]
        parts.append(part("pose", pose_part(rows)))
    return manifest, parts


def test_the_join_puts_action_units_in_the_face_section_and_reads_disgust() -> None:
    manifest, parts = disgusted_video(["face", "pose"])

    result = build_result(manifest, parts, settings=Settings())

    units = result.face.action_units
    assert units is not None and units.cannot_assess is None
    assert units.units["upper_lip_raiser"].active_share == 0.7
    expression = result.face.expression
    assert expression is not None
    assert expression.dominant == "disgust"
    assert expression.action_unit_frames == {"disgust": 7}
    # The timeline reads the same frames.
    assert [row.expression for row in result.timeline] == ["neutral", "disgust"]
    FaceSection.model_validate(result.face.model_dump())


def test_with_the_rule_off_the_expression_is_the_models_alone() -> None:
    manifest, parts = disgusted_video(["face", "pose"])

    result = build_result(manifest, parts, settings=Settings(face_action_unit_rule=False))

    assert result.face.expression is not None
    assert result.face.expression.dominant == "angry"
    assert result.face.expression.action_unit_frames is None
    assert result.face.action_units is not None and result.face.action_units.units


def test_a_face_part_whose_scores_lack_a_label_is_a_failed_part_not_a_crash() -> None:
    # An analyzer of another version, or a corrupted message: every reader of a frame's
    # scores reads all seven labels.
    manifest, parts = disgusted_video(["face", "pose"])
    parts[0].data["frames"][0]["scores"] = {"happy": 1.0}

    result = build_result(manifest, parts, settings=Settings())

    assert result.status == "partial"
    failed = (result.model_extra or {})["failed_parts"]
    assert failed["face:frames:0"]["code"] == "invalid_part_data"
    assert result.face.cannot_assess is not None


def test_without_the_pose_role_the_face_section_says_why_it_has_no_action_units() -> None:
    manifest, parts = disgusted_video(["face"])

    result = build_result(manifest, parts, settings=Settings())

    units = result.face.action_units
    assert isinstance(units, ActionUnits)
    assert units.cannot_assess is not None and "pose" in units.cannot_assess
    assert result.face.expression is not None and result.face.expression.dominant == "angry"
    FaceSection.model_validate(result.face.model_dump())
