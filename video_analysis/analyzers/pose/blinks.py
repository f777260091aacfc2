"""The ``blinks`` section: blinks per minute from the eyes' aspect ratio, where the sampled
frame rate allows."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import timeseries as ts

# Blinks need at least 10 sampled frames a second: a blink lasts 100-400 ms.
BLINK_MIN_FPS = 10.0
# Eyes count as shut below 70% of the video's median eye aspect ratio (relative, so that
# narrow and wide eyes are treated alike); a shut run longer than 0.5 s is not a blink.
BLINK_EAR_RATIO = 0.7
BLINK_MAX_S = 0.5


def summarize(
    face_rows: list[ts.Row], coverage: float, min_coverage: float, fps: float, gap: float
) -> dict[str, Any]:
    rows = [r for r in face_rows if r.get("ear") is not None]
    section: dict[str, Any] = {
        "coverage": round(coverage, 4),
        "confidence": round(coverage * min(1.0, fps / 30.0), 4),
        "cannot_assess": ts.low_coverage("blinks", coverage, min_coverage, "a face"),
        "per_min": None,
        "count": None,
        "sample_fps": round(fps, 3),
    }
    if section["cannot_assess"] is None and fps < BLINK_MIN_FPS:
        section["cannot_assess"] = (
            f"frames sampled at {fps:g} fps; blinks need at least {BLINK_MIN_FPS:g} fps"
        )
    if section["cannot_assess"] or not rows:
        section["cannot_assess"] = section["cannot_assess"] or "no eye could be measured"
        section["confidence"] = 0.0
        return section
    baseline = float(np.median([float(r["ear"]) for r in rows]))
    threshold = BLINK_EAR_RATIO * baseline
    interval = 1.0 / fps
    count = 0
    for run in ts.runs(rows, gap):
        shut: list[ts.Row] = []
        for row in [*run, None]:
            if row is not None and float(row["ear"]) < threshold:
                shut.append(row)
                continue
            # A blink opens again inside the run; shut at the run's edge may be cut off.
            if shut and row is not None and shut[0] is not run[0]:
                if float(shut[-1]["t"]) - float(shut[0]["t"]) + interval <= BLINK_MAX_S:
                    count += 1
            shut = []
    seconds = ts.observed_s(rows, fps, gap)
    section.update(count=count, per_min=ts.per_min(count, seconds), ear_baseline=round(baseline, 4))
    return section
