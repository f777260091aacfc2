"""The ``blinks`` section: blinks per minute from the eyes' aspect ratio, where the sampled
frame rate allows."""

from __future__ import annotations

import numpy as np

from ...schemas.parts import PoseFrame
from ...schemas.reasons import reason
from ...schemas.vision import BlinksSection
from .. import timeseries as ts

# Blinks need at least 10 sampled frames a second: a blink lasts 100-400 ms.
BLINK_MIN_FPS = 10.0
# Eyes count as shut below 70% of the video's median eye aspect ratio (relative, so that
# narrow and wide eyes are treated alike); a shut run longer than 0.5 s is not a blink.
BLINK_EAR_RATIO = 0.7
BLINK_MAX_S = 0.5


def summarize(
    face_rows: list[PoseFrame], coverage: float, min_coverage: float, fps: float, gap: float
) -> BlinksSection:
    rows = [r for r in face_rows if r.ear is not None]
    section = BlinksSection(
        coverage=round(coverage, 4),
        confidence=round(coverage * min(1.0, fps / 30.0), 4),
        sample_fps=round(fps, 3) if fps > 0 else None,
    )
    section.cannot(ts.low_coverage("blinks", coverage, min_coverage, "a face"))
    if section.cannot_assess is None and fps < BLINK_MIN_FPS:
        section.cannot(reason("blinks_fps", fps=round(fps, 3), minimum=BLINK_MIN_FPS))
    if section.cannot_assess is None and not rows:
        section.cannot(reason("no_eye"))
    if section.cannot_assess:
        section.confidence = 0.0
        return section
    baseline = float(np.median([r.ear for r in rows if r.ear is not None]))
    threshold = BLINK_EAR_RATIO * baseline
    interval = 1.0 / fps
    count = 0
    for run in ts.runs(rows, gap):
        shut: list[PoseFrame] = []
        for row in [*run, None]:
            if row is not None and row.ear is not None and row.ear < threshold:
                shut.append(row)
                continue
            # A blink opens again inside the run; shut at the run's edge may be cut off.
            if shut and row is not None and shut[0] is not run[0]:
                if shut[-1].t - shut[0].t + interval <= BLINK_MAX_S:
                    count += 1
            shut = []
    section.count = count
    section.per_min = ts.per_min(count, ts.observed_s(rows, fps, gap))
    section.ear_baseline = round(baseline, 4)
    return section
