"""The ``posture`` section: lean, shoulder tilt, torso movement and posture changes, from the
shoulders (and hips) MediaPipe Pose finds on the frames of the body grid."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic.dataclasses import dataclass

from ...schemas.parts import ROW, FrameRow, PoseFrame
from ...schemas.reasons import reason
from ...schemas.vision import Lean, Movement, PostureSection
from .. import timeseries as ts
from .head_pose import stats

# Posture: shoulder width 10% above or below its median over the video is leaning towards or
# away from the camera.
LEAN_RATIO = 0.10
# A posture change: the (0.5 s median-smoothed) shoulder midpoint moves 0.5 shoulder widths,
# the shoulder width changes by 15% or the shoulder line turns by 8 degrees from the posture
# held before.
POSTURE_SHIFT_WIDTHS = 0.5
POSTURE_WIDTH_CHANGE = 0.15
POSTURE_TILT_CHANGE_DEG = 8.0
POSTURE_SMOOTH_S = 0.5
#: Slack for finding the smoothing window by bisection; the window itself is exact.
WINDOW_EPS = 1e-6
# Torso movement in shoulder widths per second: under 0.05 is still, over 0.15 restless.
MOVEMENT_STILL = 0.05
MOVEMENT_RESTLESS = 0.15


def summarize(rows: list[PoseFrame], min_coverage: float, gap: float) -> PostureSection:
    checked = [r for r in rows if r.body_checked]
    found = [s for r in checked if r.body and (s := _Shoulders.of(r)) is not None]
    coverage = len(found) / len(checked) if checked else 0.0
    visibility = float(np.mean([b.visibility for b in found])) if found else 0.0
    section = PostureSection(
        coverage=round(coverage, 4),
        confidence=round(coverage * visibility, 4),
        convention="shoulder_tilt in degrees, > 0 when the person's left shoulder is lower; "
        "movement in shoulder widths per second",
    )
    section.cannot(ts.low_coverage("posture", coverage, min_coverage, "shoulders"))
    if section.cannot_assess is None and not found:
        section.cannot(reason("no_shoulders"))
    if section.cannot_assess:
        section.confidence = 0.0
        return section
    widths = np.array([b.width for b in found])
    median_width = float(np.median(widths))
    ratios = widths / median_width if median_width > 0 else np.ones_like(widths)
    section.shoulder_tilt = stats([b.tilt for b in found])
    section.lean = Lean(
        toward_camera_share=round(float(np.mean(ratios > 1 + LEAN_RATIO)), 4),
        away_share=round(float(np.mean(ratios < 1 - LEAN_RATIO)), 4),
        width_ratio_std=round(float(ratios.std()), 4),
        basis="shoulder width against its median over the video",
    )
    # Torso movement: shoulder (and hip) midpoint speed between consecutive body frames.
    speeds: list[float] = []
    body_gap = gap * 2  # body frames are picked on a coarser grid
    runs = ts.runs(found, body_gap)
    for run in runs:
        for a, b in zip(run, run[1:], strict=False):
            dt = b.t - a.t
            width = (a.width + b.width) / 2
            if dt <= 0 or width <= 0:
                continue
            step = float(np.linalg.norm(np.subtract(b.mid, a.mid)))
            if a.hip is not None and b.hip is not None:
                hip = float(np.linalg.norm(np.subtract(b.hip, a.hip)))
                step = (step + hip) / 2
            speeds.append(step / width / dt)
    movement = float(np.mean(speeds)) if speeds else None
    section.movement = Movement(
        mean_speed=None if movement is None else round(movement, 4),
        level=None if movement is None else _level(movement),
    )
    changes, seconds = _posture_changes(runs)
    section.posture_changes = changes
    section.posture_changes_per_min = ts.per_min(changes, seconds)
    return section


@dataclass(slots=True, kw_only=True, config=ROW)
class _Shoulders(FrameRow):
    """A body frame's shoulder measures, all present (and its hips', when found)."""

    tilt: float
    width: float
    mid: list[float]
    hip: list[float] | None
    visibility: float

    @classmethod
    def of(cls, row: PoseFrame) -> _Shoulders | None:
        if row.shoulder_tilt is None or row.shoulder_width is None or row.shoulder_mid is None:
            return None
        visibility = 1.0 if row.body_visibility is None else row.body_visibility
        return cls(
            index=row.index,
            t=row.t,
            tilt=row.shoulder_tilt,
            width=row.shoulder_width,
            mid=row.shoulder_mid,
            hip=row.hip_mid,
            visibility=visibility,
        )


def _level(speed: float) -> Literal["still", "moderate", "restless"]:
    if speed < MOVEMENT_STILL:
        return "still"
    return "restless" if speed > MOVEMENT_RESTLESS else "moderate"


def _posture_changes(runs: list[list[_Shoulders]]) -> tuple[int, float]:
    changes = 0
    seconds = 0.0
    for run in runs:
        seconds += run[-1].t - run[0].t
        times = np.array([r.t for r in run])
        mids = np.array([r.mid for r in run], dtype=np.float64)
        widths = np.array([r.width for r in run], dtype=np.float64)
        tilts = np.array([r.tilt for r in run], dtype=np.float64)
        # The rows within POSTURE_SMOOTH_S of each row: a window found by bisection in the
        # (time-ordered) run, not a scan of the whole run per row, which made an hour's
        # uninterrupted run quadratic (18 s of the join's work at 60 minutes).
        starts = np.searchsorted(times, times - POSTURE_SMOOTH_S - WINDOW_EPS, side="left")
        ends = np.searchsorted(times, times + POSTURE_SMOOTH_S + WINDOW_EPS, side="right")
        smooth = []
        for t, lo, hi in zip(times, starts, ends, strict=True):
            near = lo + np.flatnonzero(np.abs(times[lo:hi] - t) <= POSTURE_SMOOTH_S)
            smooth.append(
                (
                    np.median(mids[near], axis=0),
                    float(np.median(widths[near])),
                    float(np.median(tilts[near])),
                )
            )
        anchor = smooth[0]
        for state in smooth[1:]:
            width = anchor[1]
            if width <= 0:
                continue
            shifted = float(np.linalg.norm(state[0] - anchor[0])) / width > POSTURE_SHIFT_WIDTHS
            resized = abs(state[1] / width - 1) > POSTURE_WIDTH_CHANGE
            turned = abs(state[2] - anchor[2]) > POSTURE_TILT_CHANGE_DEG
            if shifted or resized or turned:
                changes += 1
                anchor = state
    return changes, seconds
