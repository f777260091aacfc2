"""The upload's language override reaches every audio chunk and the decoded audio."""

from __future__ import annotations

from pathlib import Path

from tests.media_factory import make_clip
from video_analysis.media.codec import decode_audio_chunk
from video_analysis.media.splitter import split_video
from video_analysis.schemas import AudioChunk
from video_analysis.settings import Settings


def chunks(path: Path, language: str | None) -> list[AudioChunk]:
    settings = Settings(audio_chunk_max_s=2.0)
    return [
        m for m in split_video(path, "v", settings, language=language) if isinstance(m, AudioChunk)
    ]


def test_language_travels_on_every_chunk(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "a.mp4", duration=5.0, audio="sine")
    found = chunks(clip, "ko")
    assert len(found) >= 3
    assert {c.language for c in found} == {"ko"}
    again = AudioChunk.model_validate_json(found[0].model_dump_json())
    assert decode_audio_chunk(again).language == "ko"


def test_no_override_leaves_language_unset(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "a.mp4", duration=2.0, audio="sine")
    assert {c.language for c in chunks(clip, None)} == {None}
