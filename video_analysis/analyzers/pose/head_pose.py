"""The ``head_pose`` section: yaw, pitch and roll over the video, and large head movements."""

from __future__ import annotations

from typing import Any

from .. import timeseries as ts

# A large head movement: yaw or pitch moves 15 degrees away from where the head was.
LARGE_HEAD_MOVE_DEG = 15.0


def summarize(
    face_rows: list[ts.Row], coverage: float, min_coverage: float, gap: float
) -> dict[str, Any]:
    rows = [r for r in face_rows if r.get("yaw") is not None]
    section: dict[str, Any] = {
        "coverage": round(coverage, 4),
        "confidence": round(0.9 * coverage, 4),
        "cannot_assess": ts.low_coverage("head pose", coverage, min_coverage, "a face"),
        "convention": "degrees; yaw > 0 turned to the person's own left, pitch > 0 up, "
        "roll > 0 tilted towards their left shoulder",
        "nods_shakes": "not reported: not reliable at the sampled frame rates",
    }
    if section["cannot_assess"] or not rows:
        section["cannot_assess"] = section["cannot_assess"] or "no head pose could be measured"
        section["confidence"] = 0.0
        return section
    for angle in ("yaw", "pitch", "roll"):
        section[angle] = ts.stats([float(r[angle]) for r in rows])
    moves = 0
    seconds = 0.0
    for run in ts.runs(rows, gap):
        seconds += float(run[-1]["t"]) - float(run[0]["t"])
        anchor = run[0]
        for row in run[1:]:
            if (
                abs(float(row["yaw"]) - float(anchor["yaw"])) > LARGE_HEAD_MOVE_DEG
                or abs(float(row["pitch"]) - float(anchor["pitch"])) > LARGE_HEAD_MOVE_DEG
            ):
                moves += 1
                anchor = row
    section["large_movements"] = moves
    section["large_movements_per_min"] = ts.per_min(moves, seconds)
    return section
