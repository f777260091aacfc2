"""The multimodal timeline: what was said, by whom, and what the camera saw, second by second.

Pure functions over what the join already holds: the face and pose roles' per-frame rows (each
with its time ``t``) and the speech section's segments (words with times and speakers). The
timeline has one row for every second of the video, none skipped; a field no analyzer measured
in a second is null. Each word of the transcript is also given what the camera saw at its
midpoint (the sampled frame nearest to it, within one sampling interval).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Generic

import numpy as np

from .analyzers import timeseries as ts
from .analyzers.face import LABELS
from .schemas import Segment, TimelineRow, TimelineWord, Word
from .schemas.parts import FaceFrame, PoseFrame


def build(
    duration_s: float,
    face_rows: Sequence[FaceFrame],
    pose_rows: Sequence[PoseFrame],
    segments: Sequence[Segment],
) -> list[TimelineRow]:
    """One row per second of ``duration_s`` (rounded up; longer when data runs past it)."""
    words = [w for seg in segments for w in seg.words]
    ends = [r.t for r in (*face_rows, *pose_rows)] + [w.midpoint for w in words]
    seconds = max(math.ceil(duration_s), math.floor(max(ends)) + 1 if ends else 0)
    face_by_s = _by_second(face_rows)
    pose_by_s = _by_second(pose_rows)
    words_by_s: dict[int, list[Word]] = {}
    for word in sorted(words, key=lambda w: w.midpoint):
        words_by_s.setdefault(math.floor(word.midpoint), []).append(word)
    return [
        _row(second, face_by_s.get(second, []), pose_by_s.get(second, []), words_by_s)
        for second in range(seconds)
    ]


def annotate_words(
    segments: Sequence[Segment],
    face_rows: Sequence[FaceFrame],
    pose_rows: Sequence[PoseFrame],
    fps: float,
) -> None:
    """Give every word (in place) the apparent expression, eye contact and head yaw of the
    sampled frame nearest its midpoint, or null when no frame lies within one sampling
    interval (``1 / fps``) of it."""
    reach = 1.0 / fps if fps > 0 else 0.0
    face = _Nearest(face_rows, reach)
    pose = _Nearest(pose_rows, reach)
    for seg in segments:
        for word in seg.words:
            t = word.midpoint
            seen = face.at(t)
            looked = pose.at(t)
            scores = seen.scores if seen else None
            word.expression = max(scores, key=scores.__getitem__) if scores else None
            word.eye_contact = looked.looking if looked else None
            word.head_yaw = looked.yaw if looked else None


def _row(
    second: int,
    face: list[FaceFrame],
    pose: list[PoseFrame],
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
    if face:
        row.face_seen = any(f.faces > 0 for f in face)
    elif pose:
        row.face_seen = any(bool(p.face) for p in pose)
    scored = [f.scores for f in face if f.scores]
    if scored:
        mean = np.array([[s[label] for label in LABELS] for s in scored]).mean(axis=0)
        best = int(mean.argmax())
        row.expression, row.expression_score = LABELS[best], round(float(mean[best]), 4)
    looks = [p.looking for p in pose if p.looking is not None]
    if looks:
        row.eye_contact = sum(looks) * 2 > len(looks)
    yaws = [p.yaw for p in pose if p.yaw is not None]
    pitches = [p.pitch for p in pose if p.pitch is not None]
    row.head_yaw = round(float(np.mean(yaws)), 2) if yaws else None
    row.head_pitch = round(float(np.mean(pitches)), 2) if pitches else None
    checked = [p for p in pose if p.body_checked]
    if checked:
        row.hands_visible = max(len(p.hands or []) for p in checked)
    return row


def _by_second(rows: Sequence[ts.Row]) -> dict[int, list[ts.Row]]:
    ordered = sorted(rows, key=lambda r: r.t)
    groups = ts.by_second([r.t for r in ordered])
    return {second: [ordered[i] for i in positions] for second, positions in groups.items()}


class _Nearest(Generic[ts.Row]):
    """The row nearest a time, within ``reach`` seconds."""

    def __init__(self, rows: Sequence[ts.Row], reach: float) -> None:
        self._rows = sorted(rows, key=lambda r: r.t)
        self._times = [r.t for r in self._rows]
        self._reach = reach

    def at(self, t: float) -> ts.Row | None:
        i = bisect.bisect_left(self._times, t)
        near = [j for j in (i - 1, i) if 0 <= j < len(self._rows)]
        if not near:
            return None
        j = min(near, key=lambda k: abs(self._times[k] - t))
        return self._rows[j] if abs(self._times[j] - t) <= self._reach + 1e-6 else None
