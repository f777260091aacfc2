"""The typed vision sections: contract v1 key paths survive validation, wrong types do not."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from video_analysis.schemas import (
    AnalysisResult,
    BlinksSection,
    FaceSection,
    GazeSection,
    GesturesSection,
    HeadPoseSection,
    MediaQuality,
    PostureSection,
    ResultStatus,
    Section,
)
from video_analysis.schemas.reasons import Reason, reason

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NOTE = "Apparent facial expression: what the face shows in the picture."


def scores(neutral: float) -> dict[str, float]:
    rest = round((1 - neutral) / (len(LABELS) - 1), 4)
    return {label: neutral if label == "neutral" else rest for label in LABELS}


# Values as a GRID talking-head clip gives them (the first three with a few figures added).
FACE: dict[str, Any] = {
    "coverage": 1.0,
    "confidence": 0.8921,
    "cannot_assess": None,
    "backend": "fer",
    "detector": "mediapipe-face-detection-short+full-range",
    "multi_face_ratio": 0.0,
    "frames_expected": 15,
    "frames_analysed": 15,
    "frames_with_face": 15,
    "min_coverage": 0.3,
    "detection_confidence": 0.9317,
    "expression": {
        "distribution": {label: 1.0 if label == "neutral" else 0.0 for label in LABELS},
        "mean_scores": scores(0.8921),
        "dominant": "neutral",
        "changes": 0,
        "changes_per_min": 0.0,
        "smoothing_window_s": 1.0,
        "timeline": [
            {"t": 0.0, "dominant": "neutral", "scores": scores(0.9111), "frames": 5},
            {"t": 1.0, "dominant": "neutral", "scores": scores(0.829), "frames": 5},
        ],
        "note": NOTE,
    },
}
GAZE: dict[str, Any] = {
    "coverage": 1.0,
    "confidence": 0.8,
    "cannot_assess": None,
    "eye_contact_ratio": 0.8,
    "away_episodes": [{"start": 2.0, "end": 3.2, "direction": "down"}],
    "min_away_s": 1.0,
    "basis": "iris position in the eye plus head pose; left/right are the person's own",
}
HEAD_POSE: dict[str, Any] = {
    "coverage": 1.0,
    "confidence": 0.9,
    "cannot_assess": None,
    "convention": "degrees; yaw > 0 turned to the person's own left, pitch > 0 up",
    "nods_shakes": "not reported: not reliable at the sampled frame rates",
    "yaw": {"mean": 2.15, "std": 0.42, "min": 1.26, "max": 2.74},
    "pitch": {"mean": -5.01, "std": 0.97, "min": -6.29, "max": -3.2},
    "roll": {"mean": 5.29, "std": 0.2, "min": 4.89, "max": 5.71},
    "large_movements": 0,
    "large_movements_per_min": 0.0,
}
BLINKS: dict[str, Any] = {
    "coverage": 1.0,
    "confidence": 0.5,
    "cannot_assess": None,
    "per_min": 14.5,
    "count": 29,
    "sample_fps": 15.0,
    "ear_baseline": 0.2811,
}
POSTURE: dict[str, Any] = {
    "coverage": 1.0,
    "confidence": 0.8416,
    "cannot_assess": None,
    "convention": "shoulder_tilt in degrees; movement in shoulder widths per second",
    "shoulder_tilt": {"mean": 2.48, "std": 0.58, "min": 1.45, "max": 3.0},
    "lean": {
        "toward_camera_share": 0.0,
        "away_share": 0.0,
        "width_ratio_std": 0.0165,
        "basis": "shoulder width against its median over the video",
    },
    "movement": {"mean_speed": 0.0215, "level": "still"},
    "posture_changes": 0,
    "posture_changes_per_min": 0.0,
}
GESTURES: dict[str, Any] = {
    "coverage": 1.0,
    "confidence": 0.5,
    "cannot_assess": None,
    "hands_visible_ratio": 0.25,
    "hand_activity": 0.31,
    "hand_activity_unit": "face widths per second",
    "face_touching_episodes": [{"start": 4.0, "end": 5.4}],
    "face_touching_count": 1,
}

# What each summarize emits when it cannot judge (the keys the code sets on that path).
FACE_CANNOT: dict[str, Any] = {
    "coverage": 0.0,
    "confidence": 0.0,
    "cannot_assess": "a face was visible in 0% of the sampled frames; at least 30% is needed",
    "backend": "fer",
    "detector": "mediapipe-face-detection-short+full-range",
    "multi_face_ratio": 0.0,
    "frames_expected": 3,
    "frames_analysed": 3,
    "frames_with_face": 0,
    "min_coverage": 0.3,
    "expression": {"note": NOTE},
}
GAZE_CANNOT: dict[str, Any] = {
    "coverage": 0.1,
    "confidence": 0.0,
    "cannot_assess": "a face found in 10% of sampled frames, below the 30% needed to judge gaze",
    "eye_contact_ratio": None,
    "away_episodes": [],
    "min_away_s": 1.0,
    "basis": "iris position in the eye plus head pose",
}
HEAD_POSE_CANNOT: dict[str, Any] = {
    "coverage": 0.0,
    "confidence": 0.0,
    "cannot_assess": "no head pose could be measured",
    "convention": "degrees",
    "nods_shakes": "not reported",
}
BLINKS_CANNOT: dict[str, Any] = {
    "coverage": 1.0,
    "confidence": 0.0,
    "cannot_assess": "frames sampled at 5 fps; blinks need at least 10 fps",
    "per_min": None,
    "count": None,
    "sample_fps": 5.0,
}
POSTURE_CANNOT: dict[str, Any] = {
    "coverage": 0.0,
    "confidence": 0.0,
    "cannot_assess": "shoulders found in 0% of sampled frames, below the 30% needed",
    "convention": "shoulder_tilt in degrees",
}
GESTURES_CANNOT: dict[str, Any] = {
    "coverage": 1.0,
    "confidence": 0.0,
    "cannot_assess": "no frame was checked for hands",
}

CASES: list[tuple[type[Section], dict[str, Any], dict[str, Any]]] = [
    (FaceSection, FACE, FACE_CANNOT),
    (GazeSection, GAZE, GAZE_CANNOT),
    (HeadPoseSection, HEAD_POSE, HEAD_POSE_CANNOT),
    (BlinksSection, BLINKS, BLINKS_CANNOT),
    (PostureSection, POSTURE, POSTURE_CANNOT),
    (GesturesSection, GESTURES, GESTURES_CANNOT),
]
IDS = [model.__name__ for model, _, _ in CASES]


def get(data: Any, path: str) -> Any:
    """The value at a key path such as ``expression.timeline[0].scores``."""
    for key in path.replace("[", ".[").split("."):
        data = data[int(key[1:-1])] if key.startswith("[") else data[key]
    return data


def leaves(data: Any, prefix: str = "") -> dict[str, Any]:
    """Every key path of a JSON-like value, with its value (lists indexed)."""
    if isinstance(data, dict) and data:
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(leaves(value, f"{prefix}.{key}" if prefix else key))
        return out
    if isinstance(data, list) and data:
        out = {}
        for i, value in enumerate(data):
            out.update(leaves(value, f"{prefix}[{i}]"))
        return out
    return {prefix: data}


@pytest.mark.parametrize(("model", "real", "cannot"), CASES, ids=IDS)
def test_every_emitted_key_path_survives_validation(
    model: type[Section], real: dict[str, Any], cannot: dict[str, Any]
) -> None:
    for data in (real, cannot):
        dumped = model.model_validate(copy.deepcopy(data)).model_dump()
        assert leaves(dumped).items() >= leaves(data).items()
        # Nothing is kept as an untyped extra: every emitted key has its own field.
        assert not model.model_validate(data).model_extra


@pytest.mark.parametrize(
    ("section", "path", "expected"),
    [
        ("face", "expression.distribution.neutral", 1.0),
        ("face", "expression.timeline[0].scores.neutral", 0.9111),
        ("face", "expression.timeline[1].frames", 5),
        ("face", "expression.dominant", "neutral"),
        ("gaze", "eye_contact_ratio", 0.8),
        ("gaze", "away_episodes[0].direction", "down"),
        ("head_pose", "yaw.mean", 2.15),
        ("head_pose", "roll.max", 5.71),
        ("blinks", "per_min", 14.5),
        ("posture", "shoulder_tilt.mean", 2.48),
        ("posture", "lean.toward_camera_share", 0.0),
        ("posture", "movement.level", "still"),
        ("gestures", "hands_visible_ratio", 0.25),
        ("gestures", "face_touching_episodes[0].end", 5.4),
    ],
)
def test_contract_key_paths_in_the_result(section: str, path: str, expected: Any) -> None:
    data = {
        "face": FACE,
        "gaze": GAZE,
        "head_pose": HEAD_POSE,
        "blinks": BLINKS,
        "posture": POSTURE,
        "gestures": GESTURES,
    }
    result = AnalysisResult(video_id="v", status=ResultStatus.COMPLETE, **data)
    again = AnalysisResult.model_validate_json(result.model_dump_json())
    assert get(again.model_dump(mode="json")[section], path) == expected


@pytest.mark.parametrize(("model", "real", "cannot"), CASES, ids=IDS)
def test_cannot_assess_leaves_figures_null_and_lists_empty(
    model: type[Section], real: dict[str, Any], cannot: dict[str, Any]
) -> None:
    section = model.model_validate(cannot)
    assert section.cannot_assess
    assert section.confidence == 0.0
    dumped = section.model_dump()
    for key in real.keys() - cannot.keys():
        assert dumped[key] in (None, []), key
    # Sections no analyzer filled are built the same way by the join.
    empty = model.not_assessed(reason("not_enabled", section="gaze"))
    assert (empty.cannot_assess, empty.confidence) == (
        "no analyzer for gaze is enabled in this deployment",
        0.0,
    )
    assert empty.cannot_assess_reason == Reason(code="not_enabled", params={"section": "gaze"})


def test_face_expression_without_figures_keeps_its_note() -> None:
    face = FaceSection.model_validate(FACE_CANNOT)
    assert face.expression is not None
    assert face.expression.note == NOTE
    assert face.expression.distribution is None
    assert face.expression.timeline == []


def test_later_figures_are_kept_as_extras() -> None:
    data = copy.deepcopy(GAZE)
    data["blink_adjusted"] = True
    data["away_episodes"][0]["confidence"] = 0.7
    dumped = GazeSection.model_validate(data).model_dump()
    assert dumped["blink_adjusted"] is True
    assert dumped["away_episodes"][0]["confidence"] == 0.7


@pytest.mark.parametrize(
    ("model", "base", "path", "value"),
    [
        (GazeSection, GAZE, "eye_contact_ratio", "high"),
        (GazeSection, GAZE, "eye_contact_ratio", 1.5),
        (GazeSection, GAZE, "away_episodes", [{"start": 1.0}]),
        (FaceSection, FACE, "expression.distribution", ["neutral"]),
        (FaceSection, FACE, "expression.timeline", [{"t": "soon", "dominant": "neutral"}]),
        (FaceSection, FACE, "frames_with_face", "all"),
        (HeadPoseSection, HEAD_POSE, "yaw", {"mean": 1.0}),
        (BlinksSection, BLINKS, "count", 2.5),
        (PostureSection, POSTURE, "lean.away_share", "some"),
        (PostureSection, POSTURE, "shoulder_tilt", 3.0),
        (GesturesSection, GESTURES, "hands_visible_ratio", "most"),
        (GesturesSection, GESTURES, "face_touching_episodes", [{"start": 1.0, "end": "x"}]),
    ],
)
def test_wrong_types_are_refused(
    model: type[Section], base: dict[str, Any], path: str, value: Any
) -> None:
    data = copy.deepcopy(base)
    *parents, last = path.split(".")
    target = data
    for key in parents:
        target = target[key]
    target[last] = value
    with pytest.raises(ValidationError):
        model.model_validate(data)


@pytest.mark.parametrize("model", [*(model for model, _, _ in CASES), MediaQuality])
def test_every_field_has_a_description(model: type[BaseModel]) -> None:
    schema = model.model_json_schema()
    objects = {model.__name__: schema, **schema.get("$defs", {})}
    undocumented = [
        f"{name}.{field}"
        for name, obj in objects.items()
        for field, spec in obj.get("properties", {}).items()
        if not spec.get("description")
    ]
    assert undocumented == []
