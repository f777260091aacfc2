"""The ``gestures`` section: hand visibility, hand activity and face touching, from the hands
MediaPipe Hands finds on the frames of the body grid."""

from __future__ import annotations

import math

import numpy as np

from ...schemas.parts import PoseFrame
from ...schemas.reasons import reason
from ...schemas.vision import FaceTouchEpisode, GesturesSection
from .. import timeseries as ts


def summarize(
    rows: list[PoseFrame], expected: int, min_coverage: float, fps: float, body_fps: float
) -> GesturesSection:
    checked = [r for r in rows if r.body_checked]
    # Hands run on a subset of frames by design; coverage is the share of the video's frames
    # that arrived and could be looked at.
    coverage = len(rows) / expected if expected else 0.0
    scores = [h.score for r in checked for h in r.hands or [] if h.score is not None]
    section = GesturesSection(
        coverage=round(coverage, 4),
        confidence=round(coverage * (float(np.mean(scores)) if scores else 0.5), 4),
    )
    section.cannot(ts.low_coverage("gestures", coverage, min_coverage, "frames"))
    if section.cannot_assess is None and not checked:
        section.cannot(reason("no_hands_checked"))
    if section.cannot_assess:
        section.confidence = 0.0
        return section
    visible = [r for r in checked if r.hands]
    section.hands_visible_ratio = round(len(visible) / len(checked), 4)
    # Hand activity: speed of each hand's centre between consecutive checked frames, in face
    # widths per second (matched by handedness label), averaged over frame pairs.
    speeds: list[float] = []
    step = 1.0 / min(body_fps, fps) if body_fps > 0 and fps > 0 else math.inf
    for a, b in zip(checked, checked[1:], strict=False):
        dt = b.t - a.t
        scale = a.face_width or b.face_width
        if dt <= 0 or dt > ts.GAP_INTERVALS * step or not scale:
            continue
        before = {h.label: h for h in a.hands or []}
        for hand in b.hands or []:
            prev = before.get(hand.label)
            if prev is not None:
                dist = math.hypot(hand.x - prev.x, hand.y - prev.y)
                speeds.append(dist / scale / dt)
    # Null when no hand was seen in two consecutive checked frames: not measured, not still.
    section.hand_activity = round(float(np.mean(speeds)), 4) if speeds else None
    section.hand_activity_unit = "face widths per second"
    for run in ts.runs(checked, ts.GAP_INTERVALS * step):
        current: list[PoseFrame] = []
        for row in [*run, None]:
            if row is not None and row.face_touch:
                current.append(row)
                continue
            if current:
                tail = step if math.isfinite(step) else 0.0
                end = row.t if row is not None else current[-1].t + tail
                section.face_touching_episodes.append(
                    FaceTouchEpisode(start=round(current[0].t, 3), end=round(end, 3))
                )
            current = []
    section.face_touching_count = len(section.face_touching_episodes)
    return section
