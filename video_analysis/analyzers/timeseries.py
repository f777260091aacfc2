"""The per-frame rows of the vision analyzers as a time series over the whole video.

A frame analyzer returns one row per sampled frame (a ``FrameRow``: its frame ``index`` and
time ``t``); the join hands ``summarize`` every part of a video, in any order and possibly twice
(at-least-once delivery). These helpers turn those parts into one sorted series and measure
it: its sampling rate, its runs of consecutive frames, rates per minute and per second.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TypeVar

import numpy as np

from ..schemas.parts import FrameRow
from ..schemas.reasons import Reason, reason

Row = TypeVar("Row", bound=FrameRow)

# Frames more than 2.5 sampling intervals apart are not consecutive (a missing batch or
# frames without the input): episodes and movements do not span such gaps.
GAP_INTERVALS = 2.5


def unique_rows(rows: Iterable[Row]) -> list[Row]:
    """``rows`` once each, sorted by time: keyed by frame index, so that a part delivered
    twice counts once."""
    unique = {row.index: row for row in rows}
    return sorted(unique.values(), key=lambda r: r.t)


def sample_fps(declared: float, rows: Sequence[FrameRow], part_fps: Iterable[float] = ()) -> float:
    """Frames sampled per second: the manifest's figure, else the largest the parts give,
    else one over the median step between the rows' times (0.0 when none can be told)."""
    fps = float(declared or 0.0)
    if fps <= 0:
        fps = max((float(f or 0.0) for f in part_fps), default=0.0)
    if fps <= 0 and len(rows) > 1:
        steps = np.diff([r.t for r in rows])
        steps = steps[steps > 0]
        fps = 1.0 / float(np.median(steps)) if steps.size else 0.0
    return fps


def gap_s(fps: float) -> float:
    """Seconds between two rows beyond which they are not consecutive."""
    return GAP_INTERVALS / fps if fps > 0 else math.inf


def runs(rows: Sequence[Row], gap: float) -> list[list[Row]]:
    """Split time-sorted rows where consecutive ones are more than ``gap`` seconds apart."""
    split: list[list[Row]] = []
    for row in rows:
        if split and row.t - split[-1][-1].t <= gap:
            split[-1].append(row)
        else:
            split.append([row])
    return split


def observed_s(rows: Sequence[FrameRow], fps: float, gap: float) -> float:
    """Seconds of video the rows stand for: each frame for one sampling interval."""
    if fps > 0:
        return len(rows) / fps
    return sum(run[-1].t - run[0].t for run in runs(rows, gap))


def per_min(count: int, seconds: float) -> float | None:
    return round(count * 60.0 / seconds, 2) if seconds > 0 else None


def stats(values: Sequence[float]) -> dict[str, float] | None:
    """Mean, standard deviation, minimum and maximum, to 2 decimals; None without values."""
    if not values:
        return None
    a = np.asarray(values, dtype=np.float64)
    return {
        "mean": round(float(a.mean()), 2),
        "std": round(float(a.std()), 2),
        "min": round(float(a.min()), 2),
        "max": round(float(a.max()), 2),
    }


def by_second(times: Sequence[float]) -> dict[int, list[int]]:
    """Positions of ``times`` grouped by the whole second they fall in, seconds in order."""
    groups: dict[int, list[int]] = defaultdict(list)
    for i, t in enumerate(times):
        groups[math.floor(t)].append(i)
    return {second: groups[second] for second in sorted(groups)}


def low_coverage(name: str, coverage: float, minimum: float, what: str) -> Reason | None:
    """Why ``name`` cannot be judged when ``what`` was found in too few sampled frames."""
    if coverage < minimum:
        return reason(
            "too_few_frames", what=what, share=round(coverage, 4), minimum=minimum, name=name
        )
    return None
