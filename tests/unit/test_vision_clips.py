"""Vision on real-face clips made with ffmpeg, through the same path as `analyze`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.media_factory import _astronaut_png, run_ffmpeg
from video_analysis.pipeline import analyze_file
from video_analysis.settings import Settings

pytest.importorskip("mediapipe", reason="the vision extra is not installed")
pytest.importorskip("tensorflow", reason="the vision extra is not installed")
pytest.importorskip("skimage", reason="scikit-image (dev extra) gives the face photo")


def face_clip(path: Path, *, duration: float, x: str, enable: str) -> Path:
    """A 640x360 grey clip with the astronaut's face (300 px) overlaid at ``x`` while
    ``enable`` holds (ffmpeg expressions of t)."""
    face = _astronaut_png(path.parent)
    assert face is not None
    run_ffmpeg(
        [
            "-f", "lavfi", "-i", f"color=c=0x5a5a5a:s=640x360:r=10:d={duration}",
            "-loop", "1", "-i", str(face),
            "-filter_complex",
            f"[1:v]scale=300:300[f];[0:v][f]overlay=x='{x}':y=30:enable='{enable}',format=yuv420p",
            "-t", str(duration), "-c:v", "libx264", "-preset", "ultrafast", str(path),
        ]
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from video_analysis.models import install

    models = tmp_path_factory.mktemp("models")
    settings = Settings(models_dir=models, frame_analyzers=["quality", "face", "pose"])
    install(settings, ["fer-emotion"])
    return settings


def test_face_for_three_of_five_seconds_gives_coverage_of_six_tenths(
    tmp_path: Path, settings: Settings
) -> None:
    clip = face_clip(tmp_path / "share.mp4", duration=5.0, x="170", enable="lt(t,3)")
    result = analyze_file(clip, settings)
    assert result.status == "complete"
    face = result.face.model_dump()
    assert face["coverage"] == pytest.approx(0.6, abs=0.1)
    assert face["cannot_assess"] is None
    assert result.gaze.coverage == pytest.approx(0.6, abs=0.1)
    # The timeline only has seconds with a face.
    assert {row["t"] for row in face["expression"]["timeline"]} <= {0, 1, 2, 3}


def test_face_moved_off_centre_stays_found_and_frontal(tmp_path: Path, settings: Settings) -> None:
    # Centred for 2 s, then at the left edge for 2 s: a move, not a turn of the head.
    clip = face_clip(tmp_path / "moved.mp4", duration=4.0, x="if(lt(t,2),170,0)", enable="1")
    result = analyze_file(clip, settings)
    assert result.face.coverage == pytest.approx(1.0, abs=0.1)
    head = result.head_pose.model_dump()
    assert head["coverage"] == pytest.approx(1.0, abs=0.1)
    assert abs(head["yaw"]["mean"]) < 10.0


def test_clip_without_a_face_cannot_be_assessed(tmp_path: Path, settings: Settings) -> None:
    clip = face_clip(tmp_path / "empty.mp4", duration=3.0, x="170", enable="gt(t,100)")
    result = analyze_file(clip, settings)
    assert result.status == "complete"
    assert result.face.coverage == 0.0 and result.face.cannot_assess
    for section in (result.gaze, result.head_pose, result.blinks):
        assert section.cannot_assess


def test_close_up_face_is_covered_in_face_and_gaze_alike(
    tmp_path: Path, settings: Settings
) -> None:
    # The astronaut cut to brows and chin and enlarged, as a laptop close-up frames a face:
    # MediaPipe's full-range model, the face role's only detector before, found no face here.
    face = _astronaut_png(tmp_path)
    assert face is not None
    clip = tmp_path / "close-up.mp4"
    run_ffmpeg(
        [
            "-loop", "1", "-framerate", "10", "-t", "3", "-i", str(face),
            "-vf", "crop=100:100:176:74,scale=480:480,format=yuv420p",
            "-c:v", "libx264", "-preset", "ultrafast", str(clip),
        ]
    )  # fmt: skip
    result = analyze_file(clip, settings)
    assert result.status == "complete"
    assert result.face.coverage == pytest.approx(1.0, abs=0.05)
    assert result.face.cannot_assess is None
    assert result.gaze.coverage == result.face.coverage
    head = result.head_pose.model_dump()
    assert head["coverage"] == result.face.coverage
    assert abs(head["yaw"]["mean"]) < 10.0
