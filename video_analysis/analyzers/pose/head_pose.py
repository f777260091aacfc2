"""The ``head_pose`` section: yaw, pitch and roll over the video, and large head movements."""

from __future__ import annotations

from collections.abc import Sequence

from ...schemas.parts import PoseFrame
from ...schemas.reasons import reason
from ...schemas.vision import HeadPoseSection, Stats
from .. import timeseries as ts

# A large head movement: yaw or pitch moves 15 degrees away from where the head was.
LARGE_HEAD_MOVE_DEG = 15.0


def summarize(
    face_rows: list[PoseFrame], coverage: float, min_coverage: float, gap: float
) -> HeadPoseSection:
    rows = [r for r in face_rows if r.yaw is not None]
    section = HeadPoseSection(
        coverage=round(coverage, 4),
        confidence=round(0.9 * coverage, 4),
        convention="degrees; yaw > 0 turned to the person's own left, pitch > 0 up, "
        "roll > 0 tilted towards their left shoulder",
        nods_shakes="not reported: not reliable at the sampled frame rates",
    )
    section.cannot(ts.low_coverage("head pose", coverage, min_coverage, "a face"))
    if section.cannot_assess is None and not rows:
        section.cannot(reason("no_head_pose"))
    if section.cannot_assess:
        section.confidence = 0.0
        return section
    section.yaw = stats([r.yaw for r in rows if r.yaw is not None])
    section.pitch = stats([r.pitch for r in rows if r.pitch is not None])
    section.roll = stats([r.roll for r in rows if r.roll is not None])
    moves = 0
    seconds = 0.0
    for run in ts.runs(rows, gap):
        seconds += run[-1].t - run[0].t
        anchor = run[0]
        for row in run[1:]:
            if _moved(anchor, row):
                moves += 1
                anchor = row
    section.large_movements = moves
    section.large_movements_per_min = ts.per_min(moves, seconds)
    return section


def stats(values: Sequence[float]) -> Stats | None:
    """Mean, standard deviation, minimum and maximum, to 2 decimals; None without values."""
    figures = ts.stats(values)
    return None if figures is None else Stats(**figures)


def _moved(before: PoseFrame, after: PoseFrame) -> bool:
    """Yaw or pitch moved more than ``LARGE_HEAD_MOVE_DEG`` from one row to the other."""
    return any(
        a is not None and b is not None and abs(b - a) > LARGE_HEAD_MOVE_DEG
        for a, b in ((before.yaw, after.yaw), (before.pitch, after.pitch))
    )
