"""The multimodal timeline: what was said, by whom, and what the camera saw, second by second.

Pure functions over what the join already holds: the face and pose roles' per-frame rows as
columns (``analyzers/frame_columns.py``, each frame with its time ``t``) and the speech
section's segments (words with times and speakers). The timeline has one row for every second
of the video, none skipped; a field no analyzer measured in a second is null. Each word of the
transcript is also given what the camera saw at its midpoint (the sampled frame nearest to it,
within one sampling interval).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from .analyzers import timeseries as ts
from .analyzers.face import LABELS
from .analyzers.frame_columns import FaceColumns, PoseColumns
from .schemas import Segment, TimelineRow, TimelineWord, Word


def build(
    duration_s: float,
    face: FaceColumns,
    pose: PoseColumns,
    segments: Sequence[Segment],
) -> list[TimelineRow]:
    """One row per second of ``duration_s`` (rounded up; longer when data runs past it)."""
    words = [w for seg in segments for w in seg.words]
    ends = [*face.t.tolist(), *pose.t.tolist(), *(w.midpoint for w in words)]
    seconds = max(math.ceil(duration_s), math.floor(max(ends)) + 1 if ends else 0)
    face_by_s = ts.by_second(face.t.tolist())
    pose_by_s = ts.by_second(pose.t.tolist())
    words_by_s: dict[int, list[Word]] = {}
    for word in sorted(words, key=lambda w: w.midpoint):
        words_by_s.setdefault(math.floor(word.midpoint), []).append(word)
    return [
        _row(
            second,
            face,
            _positions(face_by_s, second),
            pose,
            _positions(pose_by_s, second),
            words_by_s,
        )
        for second in range(seconds)
    ]


def annotate_words(
    segments: Sequence[Segment],
    face: FaceColumns,
    pose: PoseColumns,
    fps: float,
) -> None:
    """Give every word (in place) the apparent expression, eye contact and head yaw of the
    sampled frame nearest its midpoint, or null when no frame lies within one sampling
    interval (``1 / fps``) of it."""
    reach = 1.0 / fps if fps > 0 else 0.0
    near_face = _Nearest(face.t, reach)
    near_pose = _Nearest(pose.t, reach)
    for seg in segments:
        for word in seg.words:
            t = word.midpoint
            seen = near_face.at(t)
            looked = near_pose.at(t)
            word.expression = face.top(seen) if seen is not None else None
            if looked is None:
                word.eye_contact = word.head_yaw = None
                continue
            looking, yaw = pose.looking[looked], pose.yaw[looked]
            word.eye_contact = None if np.isnan(looking) else bool(looking)
            word.head_yaw = None if np.isnan(yaw) else float(yaw)


def _row(
    second: int,
    face: FaceColumns,
    in_face: NDArray[np.intp],
    pose: PoseColumns,
    in_pose: NDArray[np.intp],
    words_by_s: dict[int, list[Word]],
) -> TimelineRow:
    words = words_by_s.get(second, [])
    row = TimelineRow(
        t=float(second),
        text="".join(w.word for w in words).strip(),
        words=[
            TimelineWord(
                word=w.word.strip(),
                start=w.start,
                end=w.end,
                speaker=w.speaker,
                filler=w.filler,
            )
            for w in words
        ],
        speakers=sorted({w.speaker for w in words if w.speaker}),
    )
    if in_face.size:
        row.face_seen = bool((face.faces[in_face] > 0).any())
    elif in_pose.size:
        row.face_seen = bool(pose.face[in_pose].any())
    scores = face.scores[in_face]
    scored = scores[~np.isnan(scores[:, 0])]
    if scored.size:
        mean = scored.mean(axis=0)
        best = int(mean.argmax())
        row.expression, row.expression_score = LABELS[best], round(float(mean[best]), 4)
    looks = _measured(pose.looking[in_pose])
    if looks.size:
        row.eye_contact = int(looks.sum()) * 2 > looks.size
    yaws = _measured(pose.yaw[in_pose])
    pitches = _measured(pose.pitch[in_pose])
    row.head_yaw = round(float(np.mean(yaws)), 2) if yaws.size else None
    row.head_pitch = round(float(np.mean(pitches)), 2) if pitches.size else None
    checked = in_pose[pose.body_checked[in_pose]]
    if checked.size:
        row.hands_visible = int(pose.hands[checked].max())
    return row


def _positions(by_second: dict[int, list[int]], second: int) -> NDArray[np.intp]:
    return np.asarray(by_second.get(second, []), dtype=np.intp)


def _measured(values: NDArray[np.float64]) -> NDArray[np.float64]:
    return values[~np.isnan(values)]


class _Nearest:
    """The position of the frame nearest a time, within ``reach`` seconds (the times are in
    order)."""

    def __init__(self, times: NDArray[np.float64], reach: float) -> None:
        self._times = times.tolist()
        self._reach = reach

    def at(self, t: float) -> int | None:
        i = bisect.bisect_left(self._times, t)
        near = [j for j in (i - 1, i) if 0 <= j < len(self._times)]
        if not near:
            return None
        j = min(near, key=lambda k: abs(self._times[k] - t))
        return j if abs(self._times[j] - t) <= self._reach + 1e-6 else None
