"""The speech analyzer through `analyze`: no audio track, and the language override."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.media_factory import make_clip
from video_analysis.models import install
from video_analysis.pipeline import analyze_file
from video_analysis.schemas import VideoMetadata
from video_analysis.settings import Settings

pytest.importorskip("faster_whisper", reason="the speech extra is not installed")


@pytest.fixture(scope="module")
def settings() -> Settings:
    settings = Settings(frame_analyzers=["quality"], audio_analyzers=["quality", "speech"])
    install(settings, ["whisper-base"])
    return settings


def test_video_without_audio_track_gets_speech_cannot_assess_and_completes(
    tmp_path: Path, settings: Settings
) -> None:
    clip = make_clip(tmp_path / "mute.mp4", duration=2.0, audio=None)
    result = analyze_file(clip, settings)
    assert result.status == "complete"
    assert result.media.has_audio is False
    assert result.speech.cannot_assess and "audio" in result.speech.cannot_assess
    assert result.speech.model_dump().get("transcript") in (None, "")


def test_language_override_reaches_recognition(tmp_path: Path, settings: Settings) -> None:
    clip = make_clip(tmp_path / "talk.mp4", duration=6.0, audio="speech")
    result = analyze_file(clip, settings, metadata=VideoMetadata(language="en"))
    speech = result.speech.model_dump()
    assert result.status == "complete"
    assert speech["language"] == "en"
    assert speech["language_source"] == "metadata"
    assert "question" in speech["transcript"].lower()
