"""The ``gaze`` section: eye contact with the camera and gaze-away episodes."""

from __future__ import annotations

from collections import Counter

from ...schemas.parts import PoseFrame
from ...schemas.reasons import reason
from ...schemas.vision import AwayEpisode, GazeSection
from .. import timeseries as ts

# "Looking at the camera": gaze within 15 degrees sideways and 20 up or down. A webcam sits
# above the screen, so a person reading the screen looks 10-15 degrees down and should still
# count; iris-based gaze from a webcam is itself only good to about 5-10 degrees.
EYE_CONTACT_MAX_YAW = 15.0
EYE_CONTACT_MAX_PITCH = 20.0


def looking_at_camera(gaze_yaw: float, gaze_pitch: float) -> bool:
    return abs(gaze_yaw) <= EYE_CONTACT_MAX_YAW and abs(gaze_pitch) <= EYE_CONTACT_MAX_PITCH


def gaze_direction(gaze_yaw: float, gaze_pitch: float) -> str:
    """Where the person looks, in their own left and right (see ``geometry``)."""
    if abs(gaze_yaw) / EYE_CONTACT_MAX_YAW >= abs(gaze_pitch) / EYE_CONTACT_MAX_PITCH:
        return "left" if gaze_yaw > 0 else "right"
    return "up" if gaze_pitch > 0 else "down"


def summarize(
    face_rows: list[PoseFrame],
    coverage: float,
    min_coverage: float,
    min_away_s: float,
    fps: float,
    gap: float,
) -> GazeSection:
    rows = [r for r in face_rows if r.looking is not None]
    section = GazeSection(
        coverage=round(coverage, 4),
        confidence=round(0.8 * coverage, 4),
        min_away_s=min_away_s,
        basis="iris position in the eye plus head pose; left/right are the person's own",
    )
    section.cannot(ts.low_coverage("gaze", coverage, min_coverage, "a face"))
    if section.cannot_assess is None and not rows:
        section.cannot(reason("no_gaze"))
    if section.cannot_assess:
        section.confidence = 0.0
        return section
    section.eye_contact_ratio = round(sum(bool(r.looking) for r in rows) / len(rows), 4)
    interval = 1.0 / fps if fps > 0 else 0.0
    for run in ts.runs(rows, gap):
        current: list[PoseFrame] = []
        for row in [*run, None]:
            if row is not None and not row.looking:
                current.append(row)
                continue
            if current:
                start = current[0].t
                end = current[-1].t + interval
                if end - start >= min_away_s:
                    directions = Counter(str(r.direction) for r in current)
                    section.away_episodes.append(
                        AwayEpisode(
                            start=round(start, 3),
                            end=round(end, 3),
                            direction=directions.most_common(1)[0][0],
                        )
                    )
                current = []
    return section
