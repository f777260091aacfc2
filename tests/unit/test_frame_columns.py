"""The face and pose rows of a video as the columns the join keeps of them: each frame once, in
time order, a missing number as NaN, and the expression scores the action units change."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.vision_fixtures import face_frame, pose_frame
from video_analysis.analyzers.face import LABELS
from video_analysis.analyzers.frame_columns import UNIT_KEYS, FaceColumns, PoseColumns
from video_analysis.schemas.parts import ActionUnitMeasures, Hand, PoseFrame


def test_each_frame_is_kept_once_in_time_order() -> None:
    # Parts come in any order and a part may come twice (at-least-once delivery).
    rows = [face_frame(2, "sad"), face_frame(0, "happy"), face_frame(1, None), face_frame(2, "sad")]

    face = FaceColumns.of(rows)

    assert face.index.tolist() == [0, 1, 2]
    assert face.faces.tolist() == [1, 0, 1]
    assert [face.top(k) for k in range(len(face))] == ["happy", None, "sad"]
    assert np.isnan(face.scores[1]).all()
    assert face.scores[0, LABELS.index("happy")] == pytest.approx(0.8)


def test_changed_scores_replace_only_their_frames() -> None:
    face = FaceColumns.of([face_frame(0, "angry"), face_frame(1, "angry")])
    swapped = dict(face_frame(0, "disgust").scores or {})

    changed = face.with_scores({0: swapped})

    assert (changed.top(0), changed.top(1)) == ("disgust", "angry")
    assert face.top(0) == "angry"  # the columns given are left as they were
    assert face.with_scores({}) is face


def test_pose_fields_a_row_lacks_are_nan_and_hands_count_where_looked_for() -> None:
    units = ActionUnitMeasures(**{key: 0.1 * k for k, key in enumerate(UNIT_KEYS)})
    rows = [
        pose_frame(0, looking=True, yaw=4.0, action_units=units, body_checked=True, hands=[]),
        pose_frame(1, looking=False, yaw=-2.0, body_checked=True, hands=[Hand(x=0.1, y=0.2)]),
        PoseFrame(index=2, t=0.4, face=False),
    ]

    pose = PoseColumns.of(rows)

    assert pose.face.tolist() == [True, True, False]
    assert pose.looking[:2].tolist() == [1.0, 0.0] and math.isnan(pose.looking[2])
    assert pose.yaw[:2].tolist() == [4.0, -2.0] and math.isnan(pose.yaw[2])
    assert pose.body_checked.tolist() == [True, True, False]
    assert pose.hands.tolist() == [0, 1, 0]
    assert pose.measured().tolist() == [True, False, False]
    assert pose.units[0].tolist() == pytest.approx([0.1 * k for k in range(len(UNIT_KEYS))])


def test_no_rows_give_empty_columns() -> None:
    face, pose = FaceColumns.of([]), PoseColumns.of([])

    assert len(face) == 0 and face.scores.shape == (0, len(LABELS))
    assert len(pose) == 0 and pose.units.shape == (0, len(UNIT_KEYS))
    assert not pose.measured().any()
