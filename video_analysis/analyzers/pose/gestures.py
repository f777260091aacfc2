"""The ``gestures`` section: hand visibility, hand activity and face touching, from the hands
MediaPipe Hands finds on the frames of the body grid."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import timeseries as ts


def summarize(
    rows: list[ts.Row], expected: int, min_coverage: float, fps: float, body_fps: float
) -> dict[str, Any]:
    checked = [r for r in rows if r.get("body_checked")]
    # Hands run on a subset of frames by design; coverage is the share of the video's frames
    # that arrived and could be looked at.
    coverage = len(rows) / expected if expected else 0.0
    scores = [
        float(h["score"])
        for r in checked
        for h in r.get("hands") or []
        if h.get("score") is not None
    ]
    section: dict[str, Any] = {
        "coverage": round(coverage, 4),
        "confidence": round(coverage * (float(np.mean(scores)) if scores else 0.5), 4),
        "cannot_assess": ts.low_coverage("gestures", coverage, min_coverage, "frames"),
    }
    if section["cannot_assess"] is None and not checked:
        section["cannot_assess"] = "no frame was checked for hands"
    if section["cannot_assess"]:
        section["confidence"] = 0.0
        return section
    visible = [r for r in checked if r.get("hands")]
    section["hands_visible_ratio"] = round(len(visible) / len(checked), 4)
    # Hand activity: speed of each hand's centre between consecutive checked frames, in face
    # widths per second (matched by handedness label), averaged over frame pairs.
    speeds: list[float] = []
    step = 1.0 / min(body_fps, fps) if body_fps > 0 and fps > 0 else math.inf
    for a, b in zip(checked, checked[1:], strict=False):
        dt = float(b["t"]) - float(a["t"])
        scale = a.get("face_width") or b.get("face_width")
        if dt <= 0 or dt > ts.GAP_INTERVALS * step or not scale:
            continue
        before = {h.get("label"): h for h in a.get("hands") or []}
        for hand in b.get("hands") or []:
            prev = before.get(hand.get("label"))
            if prev is not None:
                dist = math.hypot(hand["x"] - prev["x"], hand["y"] - prev["y"])
                speeds.append(dist / float(scale) / dt)
    section["hand_activity"] = round(float(np.mean(speeds)), 4) if speeds else 0.0
    section["hand_activity_unit"] = "face widths per second"
    episodes: list[dict[str, float]] = []
    for run in ts.runs(checked, ts.GAP_INTERVALS * step):
        current: list[ts.Row] = []
        for row in [*run, None]:
            if row is not None and row.get("face_touch"):
                current.append(row)
                continue
            if current:
                tail = step if math.isfinite(step) else 0.0
                end = float(row["t"]) if row is not None else float(current[-1]["t"]) + tail
                episodes.append({"start": round(float(current[0]["t"]), 3), "end": round(end, 3)})
            current = []
    section["face_touching_episodes"] = episodes
    section["face_touching_count"] = len(episodes)
    return section
