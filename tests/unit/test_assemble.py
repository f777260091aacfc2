"""The join's result building: complete, partial with missing sections, failed, duplicates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from video_analysis.assemble import _read_parts, build_result
from video_analysis.schemas import (
    AnalysisResult,
    AnalyzerPlan,
    ErrorInfo,
    MediaInfo,
    ModelInfo,
    PartialResult,
    PartSource,
    SplitManifest,
)
from video_analysis.schemas.parts import QualityAudioPart, QualityFrame, QualityFramesPart
from video_analysis.settings import Settings

MODEL = ModelInfo(analyzer="quality", name="media-quality", version="0.1.0")


def build(manifest: SplitManifest, parts: list[PartialResult]) -> AnalysisResult:
    return build_result(manifest, parts, settings=Settings())


def manifest(**overrides: object) -> SplitManifest:
    fields: dict[str, object] = {
        "video_id": "v1",
        "media": MediaInfo(
            duration_s=4.0, width=320, height=240, fps=25, has_video=True, has_audio=True
        ),
        "frame_batches": 2,
        "audio_chunks": 1,
        "frames_sampled": 4,
        "sample_fps": 1.0,
        "analyzers": AnalyzerPlan(frames=["quality"], audio=["quality"]),
        "split_s": 0.5,
        "submitted_at": datetime.now(UTC) - timedelta(seconds=3),
    }
    fields.update(overrides)
    return SplitManifest(**fields)  # type: ignore[arg-type]


def frame_part(index: int, brightness: float) -> PartialResult:
    frames = [
        QualityFrame(
            index=index * 2 + k,
            t=index * 2 + k,
            brightness=brightness,
            contrast=40.0,
            blur=300.0,
            black=False,
            diff_prev=None if k == 0 else 5.0,
        )
        for k in range(2)
    ]
    return PartialResult(
        video_id="v1",
        analyzer="quality",
        source=PartSource.FRAMES,
        index=index,
        model=MODEL,
        data=QualityFramesPart(frames=frames).model_dump(mode="json"),
        elapsed_s=0.1,
    )


def audio_part() -> PartialResult:
    data = QualityAudioPart(
        start=0.0,
        end=4.0,
        duration_s=4.0,
        rms_dbfs=-20.0,
        peak_dbfs=-6.0,
        clipped_samples=0,
        samples=64000,
        silent_windows=20,
        windows=200,
        noise_floor_dbfs=-60.0,
        speech_level_dbfs=-18.0,
        window_db_hist=[],
    )
    return PartialResult(
        video_id="v1",
        analyzer="quality",
        source=PartSource.AUDIO,
        index=0,
        model=MODEL,
        data=data.model_dump(mode="json"),
        elapsed_s=0.05,
    )


def test_all_parts_give_complete_result_with_media_and_models() -> None:
    result = build(manifest(), [frame_part(0, 120), frame_part(1, 130), audio_part()])
    assert result.status == "complete"
    assert result.missing == []
    assert result.media.coverage == 1.0
    assert result.media.duration_s == 4.0
    assert result.media.quality.brightness == 125.0
    assert result.media.quality.lighting == "ok"
    assert result.models == [MODEL]
    assert result.timings["split"] == 0.5
    assert result.timings["analyze.quality"] == 0.25
    assert 2.5 < result.timings["total"] < 10
    # Sections with no analyzer say so instead of showing numbers.
    assert result.face.cannot_assess and result.face.coverage == 0
    assert result.speech.cannot_assess
    AnalysisResult.model_validate_json(result.model_dump_json())


def test_parts_can_come_one_at_a_time_and_the_last_of_a_duplicate_counts() -> None:
    """The join hands the parts over as it reads them from its table (a generator, read
    once); a part delivered twice with different data counts once, as its last copy."""
    first, second = frame_part(1, 10), frame_part(1, 130)
    parts = (part for part in [frame_part(0, 120), first, second, audio_part()])
    result = build(manifest(), parts)
    assert result.status == "complete"
    assert result.media.quality.brightness == 125.0


def test_missing_part_gives_partial_result_naming_the_section() -> None:
    result = build(manifest(), [frame_part(0, 120), audio_part()])
    assert result.status == "partial"
    assert result.missing == ["media.quality"]
    assert result.media.coverage == pytest.approx(2 / 3, abs=1e-3)
    dumped = result.model_dump()
    assert dumped["missing_parts"] == ["quality:frames:1"]
    assert result.media.quality.brightness == 120.0


def test_failed_part_is_reported_not_averaged() -> None:
    broken = frame_part(1, 10).model_copy(
        update={"error": ErrorInfo(code="internal_error", message="boom"), "data": {}}
    )
    result = build(manifest(), [frame_part(0, 120), broken, audio_part()])
    assert result.status == "partial"
    assert result.model_dump()["failed_parts"]["quality:frames:1"]["code"] == "internal_error"
    assert result.media.quality.brightness == 120.0


def test_duplicate_parts_count_once() -> None:
    parts = [frame_part(0, 120), frame_part(0, 120), frame_part(1, 130), audio_part()]
    result = build(manifest(), parts)
    assert result.status == "complete"
    assert result.timings["analyze.quality"] == 0.25


def test_manifest_with_error_gives_failed_result() -> None:
    error = ErrorInfo(code="unreadable_media", message="not a video")
    result = build(manifest(error=error, frame_batches=0, audio_chunks=0), [])
    assert result.status == "failed"
    assert result.error == error
    assert result.media.cannot_assess and result.face.cannot_assess


def test_a_truncated_file_says_how_much_was_analysed() -> None:
    parts = [frame_part(0, 120), frame_part(1, 130), audio_part()]
    whole = build(manifest(analysed_s=4.0), parts)
    assert (whole.media.analysed_s, whole.media.truncated) == (4.0, False)
    assert not [n for n in whole.reliability if n.section == "media"]

    cut = build(manifest(analysed_s=1.8, truncated=True), parts)
    assert (cut.media.analysed_s, cut.media.truncated) == (1.8, True)
    notes = [n.reason for n in cut.reliability if n.section == "media"]
    assert notes == [
        "the file ends at 1.8 s of a declared 4.0 s (probably cut off): only that part was analysed"
    ]


def test_rotation_is_reported_in_media() -> None:
    rotated = MediaInfo(duration_s=4.0, width=240, height=320, rotation=90, has_video=True)
    result = build(manifest(media=rotated), [frame_part(0, 1), frame_part(1, 1)])
    assert (result.media.rotation, result.media.width, result.media.height) == (90, 240, 320)


def test_a_video_refused_for_its_length_still_describes_the_file() -> None:
    error = ErrorInfo(code="too_long", message="the video is 7200 s long; the limit is 3600 s")
    probed = MediaInfo(duration_s=7200.0, width=1280, height=720, fps=30, has_video=True)
    result = build(manifest(error=error, media=probed, frame_batches=0), [])
    assert result.status == "failed"
    assert (result.media.duration_s, result.media.width, result.media.fps) == (7200, 1280, 30)


def test_video_without_audio_is_complete_and_says_no_audio() -> None:
    media = MediaInfo(
        duration_s=4.0, width=320, height=240, fps=25, has_video=True, has_audio=False
    )
    result = build(manifest(media=media, audio_chunks=0), [frame_part(0, 120), frame_part(1, 130)])
    assert result.status == "complete"
    assert "no_audio" in result.media.quality.verdicts
    assert result.media.quality.audio_level_dbfs is None


def test_reliability_lists_what_could_not_be_judged_in_plain_words() -> None:
    broken = frame_part(1, 10).model_copy(
        update={"error": ErrorInfo(code="internal_error", message="boom"), "data": {}}
    )
    result = build(manifest(), [frame_part(0, 120), broken, audio_part()])
    notes = {(note.section, note.reason) for note in result.reliability}

    # Only the quality analyzer runs here: every other section says why it has no figures.
    assert ("face", "no analyzer for face is enabled in this deployment") in notes
    assert ("speech", "no analyzer for speech is enabled in this deployment") in notes
    assert ("media.quality", "some of its parts did not arrive or failed") in notes
    assert ("result", "1 part(s) failed and are left out: quality:frames:1") in notes
    assert any(section == "structure" for section, _ in notes)


def test_a_failed_result_says_why_in_its_reliability() -> None:
    error = ErrorInfo(code="unreadable_media", message="the file is not a video")
    result = build(manifest(error=error, frame_batches=0, audio_chunks=0), [])

    assert [(n.section, n.reason) for n in result.reliability] == [
        ("result", "the file is not a video")
    ]


def test_a_part_whose_data_does_not_fit_its_model_is_a_failed_part_not_a_crash() -> None:
    """A part from an analyzer of another version, or a corrupted message, is reported as
    failed; the rest of the video is still summarised."""
    odd = frame_part(1, 10).model_copy(update={"data": {"frames": [{"t": "soon"}]}})
    result = build(manifest(), [frame_part(0, 120), odd, audio_part()])

    assert result.status == "partial"
    failed = result.model_dump()["failed_parts"]["quality:frames:1"]
    assert failed["code"] == "invalid_part_data"
    assert "does not fit" in failed["message"]
    assert result.media.quality.brightness == 120.0
    assert ("media.quality", "some of its parts did not arrive or failed") in {
        (note.section, note.reason) for note in result.reliability
    }


def test_a_section_that_cannot_be_judged_has_confidence_zero() -> None:
    result = build(manifest(), [frame_part(0, 120), frame_part(1, 130), audio_part()])
    for name in ("face", "gaze", "head_pose", "blinks", "posture", "gestures", "speech"):
        section = getattr(result, name)
        assert section.cannot_assess and section.confidence == 0.0 and section.coverage == 0.0


def test_reliability_names_a_section_judged_on_part_of_the_video_but_not_a_rounding() -> None:
    from video_analysis.assemble import reliability
    from video_analysis.schemas import SpeechSection
    from video_analysis.schemas.vision import GazeSection

    result = AnalysisResult(video_id="v1", status="complete")
    result.speech = SpeechSection(coverage=0.998, confidence=0.9)  # the last chunk's rounding
    result.gaze = GazeSection(coverage=0.6, confidence=0.5)
    sections = {note.section for note in reliability(result, set(), [])}

    assert "gaze" in sections and "speech" not in sections


class RecordedReads:
    """Parts by analyzer (as the join's table gives them), recording which analyzer's parts
    were read, in order."""

    def __init__(self, parts: list[PartialResult]) -> None:
        self.parts = parts
        self.read: list[str] = []

    def analyzers(self) -> set[str]:
        return {part.analyzer for part in self.parts}

    def of(self, analyzer: str) -> Iterator[PartialResult]:
        self.read.append(analyzer)
        return (part for part in self.parts if part.analyzer == analyzer)


def test_parts_are_read_one_analyzer_at_a_time_the_timeline_s_last() -> None:
    """The join hands its table over by analyzer: each analyzer's parts are read once, and the
    face and pose rows (which the timeline holds to the end) after the others', so the others'
    data is let go first. The result is the one the same parts give as a list."""
    plan = AnalyzerPlan(frames=["face", "quality", "pose"], audio=["quality", "speech"])
    parts = [frame_part(0, 120), frame_part(1, 130), audio_part()]
    source = RecordedReads(parts)
    by_analyzer = build_result(manifest(analyzers=plan), source, settings=Settings())
    assert source.read == ["quality", "speech", "face", "pose"]
    as_list = build(manifest(analyzers=plan), parts)
    assert by_analyzer.model_dump(exclude={"created_at", "timings"}) == as_list.model_dump(
        exclude={"created_at", "timings"}
    )
    assert by_analyzer.media.quality.brightness == 125.0
    assert by_analyzer.face.cannot_assess == "no part of it arrived"


def test_the_parts_kept_while_reading_share_one_model_info_per_model() -> None:
    """Parts read from JSON (the join's table) each bring their own copy of the same model
    info; the build keeps one (an hour's 2,520 parts kept 2,520)."""
    parts = [
        PartialResult.model_validate_json(part.model_dump_json())
        for part in (frame_part(0, 120), frame_part(1, 130), audio_part())
    ]
    assert parts[0].model is not parts[1].model
    kept, data = _read_parts(parts)
    assert sorted(kept) == ["quality:audio:0", "quality:frames:0", "quality:frames:1"]
    first = kept["quality:frames:0"].models[0]
    assert first == MODEL
    assert all(part.models == [first] and part.models[0] is first for part in kept.values())
    assert kept["quality:frames:1"].elapsed_s == 0.1 and kept["quality:audio:0"].error is None
    assert isinstance(data["quality:audio:0"], QualityAudioPart)
