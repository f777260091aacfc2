"""The quality analyzer on generated clips, through the splitter and the wire codecs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from tests.media_factory import make_clip
from tests.splitting import split_all
from video_analysis import __version__
from video_analysis.analyzers.base import DecodedAudio, DecodedFrame, DecodedFrames, SummaryInput
from video_analysis.analyzers.quality import DB_FLOOR, QualityAnalyzer
from video_analysis.media.codec import decode_audio_chunk, decode_frame_batch
from video_analysis.schemas import MediaInfo, MediaQuality, SplitManifest
from video_analysis.schemas.parts import QualityAudioPart, QualityFramesPart
from video_analysis.settings import Settings

SETTINGS = Settings(frames_per_batch=6, audio_chunk_max_s=2.0)
IMAGE_VERDICTS = {"too_dark", "too_bright", "low_contrast", "blurry", "black_frames"}
AUDIO_VERDICTS = {"audio_clipping", "mostly_silent", "audio_too_quiet", "noisy_audio"}
AUDIO_FIGURES = (
    "audio_level_dbfs",
    "audio_peak_dbfs",
    "clipping_ratio",
    "silence_ratio",
    "noise_floor_dbfs",
    "speech_level_dbfs",
    "snr_db",
    "audio_seconds",
)


def summarize(
    manifest: SplitManifest,
    frames: list[QualityFramesPart],
    audio: list[QualityAudioPart] | None = None,
) -> MediaQuality:
    sections = QualityAnalyzer.summarize(
        SummaryInput(manifest=manifest, settings=Settings(), frames=frames, audio=audio or [])
    )
    assert list(sections) == ["media.quality"]
    quality = sections["media.quality"]
    assert isinstance(quality, MediaQuality)  # the result's typed section
    return quality


def analyse(path: Path) -> MediaQuality:
    """Split, decode and analyse every part as the agents would, then summarize."""
    analyzer = QualityAnalyzer(Settings())
    frames: list[QualityFramesPart] = []
    audio: list[QualityAudioPart] = []
    split = split_all(path, "vid-q", SETTINGS)
    for batch in split.batches:
        frames.append(
            QualityFramesPart.model_validate_json(
                analyzer.analyze_frames(decode_frame_batch(batch)).model_dump_json()
            )
        )
    for chunk in split.chunks:
        audio.append(
            QualityAudioPart.model_validate_json(
                analyzer.analyze_audio(decode_audio_chunk(chunk)).model_dump_json()
            )
        )
    return summarize(SplitManifest(video_id="vid-q", media=split.summary.media), frames, audio)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("quality")


@pytest.fixture(scope="module")
def normal(media: Path) -> MediaQuality:
    return analyse(make_clip(media / "normal.mp4", duration=4.0, audio="speech"))


def test_normal_clip_gets_no_problem_verdicts(normal: MediaQuality) -> None:
    assert normal.verdicts == []
    assert normal.lighting == "ok"
    assert normal.brightness is not None and 90 < normal.brightness < 160
    assert normal.blur is not None and normal.blur > 100
    assert normal.black_frame_ratio == 0.0
    assert normal.frozen_frame_ratio == 0.0
    assert normal.audio_level_dbfs is not None and -30 < normal.audio_level_dbfs < -10
    assert normal.clipping_ratio == 0.0
    assert normal.snr_db is not None and normal.snr_db > 30
    assert normal.silence_ratio is not None and 0.0 < normal.silence_ratio < 0.5
    assert normal.frames_measured and normal.audio_seconds == pytest.approx(4.0, abs=0.1)


def test_dark_clip_is_too_dark(media: Path, normal: MediaQuality) -> None:
    dark = analyse(make_clip(media / "dark.mp4", duration=2.0, brightness=0.15))
    assert "too_dark" in dark.verdicts
    assert dark.lighting == "too_dark"
    assert dark.brightness is not None and normal.brightness is not None
    assert dark.brightness < 50 < normal.brightness


def test_only_the_blurred_clip_is_blurry(media: Path) -> None:
    sharp = analyse(make_clip(media / "sharp.mp4", duration=2.0))
    blurred = analyse(make_clip(media / "blurred.mp4", duration=2.0, blur=6))
    assert "blurry" not in sharp.verdicts
    assert "blurry" in blurred.verdicts
    assert blurred.blur is not None and sharp.blur is not None
    assert blurred.blur * 10 < sharp.blur


def test_overdriven_audio_is_clipping(media: Path, normal: MediaQuality) -> None:
    loud = analyse(make_clip(media / "loud.mp4", duration=2.0, audio_gain_db=20))
    assert "audio_clipping" in loud.verdicts
    assert loud.clipping_ratio is not None and loud.clipping_ratio > 0.001
    assert loud.audio_peak_dbfs == pytest.approx(0.0, abs=0.1)
    assert "audio_clipping" not in normal.verdicts


def test_silence_is_mostly_silent_without_nan(media: Path) -> None:
    silent = analyse(make_clip(media / "silent.mp4", duration=2.0, audio="silence"))
    assert "mostly_silent" in silent.verdicts
    assert silent.silence_ratio == 1.0
    for key in ("audio_level_dbfs", "audio_peak_dbfs", "noise_floor_dbfs", "snr_db"):
        value = getattr(silent, key)
        assert value is not None and math.isfinite(value), key
    assert silent.audio_level_dbfs == DB_FLOOR
    assert silent.audio_peak_dbfs == DB_FLOOR


def test_static_picture_is_frozen_video(media: Path) -> None:
    frozen = analyse(make_clip(media / "bars.mp4", duration=2.0, pattern="smptebars"))
    assert "frozen_video" in frozen.verdicts
    assert frozen.frozen_frame_ratio is not None and frozen.frozen_frame_ratio > 0.75


def test_video_without_audio_says_no_audio_and_leaves_its_figures_null(media: Path) -> None:
    mute = analyse(make_clip(media / "mute.mp4", duration=1.0, audio=None))
    assert "no_audio" in mute.verdicts
    assert not AUDIO_VERDICTS & set(mute.verdicts)
    dumped = mute.model_dump()
    for key in AUDIO_FIGURES:
        assert dumped[key] is None, key  # present and null, as on the path with audio
    assert mute.brightness is not None


def test_black_frames_are_detected() -> None:
    analyzer = QualityAnalyzer(Settings())
    black = np.zeros((120, 160, 3), np.uint8)
    frames = [DecodedFrame(index=i, t=i / 5, image=black) for i in range(5)]
    data = analyzer.analyze_frames(DecodedFrames("v", 0, 5.0, frames))
    assert all(f.black for f in data.frames)
    assert data.frames[0].diff_prev is None
    assert data.frames[1].diff_prev == 0.0
    manifest = SplitManifest(video_id="v", media=MediaInfo(has_video=True))
    quality = summarize(manifest, [data])
    assert quality.black_frame_ratio == 1.0
    assert "black_frames" in quality.verdicts
    assert "blurry" not in quality.verdicts


def test_batches_from_different_workers_are_summarized_by_time() -> None:
    analyzer = QualityAnalyzer(Settings())
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (120, 160, 3), dtype=np.uint8) for _ in range(6)]
    parts = [
        analyzer.analyze_frames(
            DecodedFrames(
                "v",
                b,
                5.0,
                [DecodedFrame(3 * b + i, (3 * b + i) / 5, images[3 * b + i]) for i in range(3)],
            )
        )
        for b in range(2)
    ]
    manifest = SplitManifest(video_id="v", media=MediaInfo(has_video=True, has_audio=False))
    # Out of order and one part delivered twice: the figures do not change.
    quality = summarize(manifest, [parts[1], parts[0], parts[1]])
    assert quality.frames_measured == 6
    assert quality.frozen_frame_ratio == 0.0


def test_frozen_ratio_is_null_when_no_two_frames_of_a_batch_can_be_compared() -> None:
    analyzer = QualityAnalyzer(Settings())
    rng = np.random.default_rng(1)
    parts = [
        analyzer.analyze_frames(
            DecodedFrames(
                "v", i, 5.0, [DecodedFrame(i, i / 5, rng.integers(0, 255, (120, 160, 3), np.uint8))]
            )
        )
        for i in range(3)
    ]
    manifest = SplitManifest(video_id="v", media=MediaInfo(has_video=True, has_audio=False))

    quality = summarize(manifest, parts)

    assert quality.frames_measured == 3
    assert quality.frozen_frame_ratio is None
    assert "frozen_video" not in quality.verdicts


def test_a_quality_part_with_a_wrong_field_type_is_refused() -> None:
    chunk = DecodedAudio("v", 0, 0.0, 1.0, 16_000, np.zeros(16_000, np.float32))
    good = QualityAnalyzer(Settings()).analyze_audio(chunk).model_dump(mode="json")
    row = {"index": 0, "t": 0.0, "brightness": 1.0, "contrast": 1.0, "blur": 1.0, "black": True}
    assert QualityFramesPart.model_validate({"frames": [row]}).frames[0].black is True

    assert QualityAudioPart.model_validate(good).samples == 16_000
    with pytest.raises(ValidationError):
        QualityAudioPart.model_validate({**good, "window_db_hist": "flat"})
    with pytest.raises(ValidationError):
        QualityFramesPart.model_validate({"frames": [row | {"black": "dark"}]})


def test_audio_windows_report_levels() -> None:
    analyzer = QualityAnalyzer(Settings())
    t = np.arange(16_000) / 16_000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    samples = np.concatenate([tone, np.zeros(16_000, np.float32)])
    data = analyzer.analyze_audio(DecodedAudio("v", 0, 0.0, 2.0, 16_000, samples))
    assert data.duration_s == 2.0
    assert data.windows == 100
    assert data.silent_windows == 50
    assert data.peak_dbfs == pytest.approx(20 * math.log10(0.5), abs=0.1)
    assert data.speech_level_dbfs == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.1)
    assert data.noise_floor_dbfs == DB_FLOOR
    assert data.clipped_samples == 0


def test_model_info_has_no_weights() -> None:
    info = QualityAnalyzer(Settings()).model_info
    assert (info.analyzer, info.name, info.version, info.sha256) == (
        "quality",
        "media-quality",
        __version__,
        None,
    )
