"""The splitter's pure part on small generated clips: batching, sampling, chunking, errors."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from tests.media_factory import (
    make_clip,
    make_corrupt,
    make_text_as_mp4,
    make_truncated,
    run_ffmpeg,
)
from tests.splitting import split_all
from video_analysis.errors import FrameTooLarge, NoVideoStream, TooLong, UnreadableMedia
from video_analysis.media.codec import decode_audio_chunk, decode_jpeg
from video_analysis.media.probe import probe, sniff_container
from video_analysis.media.splitter import SplitSummary, split_video
from video_analysis.schemas import (
    AnalysisResult,
    AudioChunk,
    FrameBatch,
    ResultStatus,
    SpeechSection,
    VideoState,
    VideoStatus,
    VideoUploaded,
)
from video_analysis.schemas.events import VideoMetadata
from video_analysis.settings import Settings
from video_analysis.store.connect import StoreUnavailable
from video_analysis.store.results import SQLiteResultStore
from video_analysis.store.status import EmbeddedStatusStore
from video_analysis.streams.splitter_agent import _interview_language, _newer_run

SMALL = Settings(max_message_bytes=64_000, frames_per_batch=4, audio_chunk_max_s=2.0)


def run_split(
    path: Path, settings: Settings = SMALL, **languages: str | None
) -> tuple[list[FrameBatch], list[AudioChunk], SplitSummary]:
    split = split_all(path, "vid-1", settings, **languages)
    return split.batches, split.chunks, split.summary


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def speech_clip(media: Path) -> Path:
    return make_clip(media / "speech.mp4", duration=6.0, audio="speech", fps=25)


def test_batches_respect_frame_count_and_message_size(speech_clip: Path) -> None:
    batches, _, summary = run_split(speech_clip)
    assert len(batches) == summary.frame_batches >= 2
    assert [b.batch_index for b in batches] == list(range(len(batches)))
    for batch in batches:
        assert 1 <= len(batch.frames) <= SMALL.frames_per_batch
        assert len(batch.model_dump_json()) <= SMALL.max_message_bytes
        assert batch.video_id == "vid-1"
        assert batch.sample_fps == SMALL.frame_rate


def test_message_limit_forces_smaller_batches(speech_clip: Path) -> None:
    settings = Settings(max_message_bytes=64_000, frames_per_batch=100)
    batches, _, _ = run_split(speech_clip, settings)
    sizes = [len(b.model_dump_json()) for b in batches]
    assert len(batches) >= 2
    assert max(sizes) <= 64_000
    assert all(len(b.frames) < 100 for b in batches)


def test_sampled_timestamps_follow_sample_rate(speech_clip: Path) -> None:
    batches, _, summary = run_split(speech_clip)
    frames = [f for b in batches for f in b.frames]
    fps = SMALL.frame_rate
    assert [f.index for f in frames] == list(range(len(frames)))
    assert summary.frames_sampled == len(frames)
    assert len(frames) == pytest.approx(6.0 * fps, abs=1)
    assert frames[0].t == pytest.approx(0.0, abs=1e-6)
    for k, frame in enumerate(frames):
        # The first source frame at or after k/fps: never earlier, at most one frame later.
        assert k / fps - 1e-4 <= frame.t < k / fps + 1 / 25 + 1e-6


def test_frames_are_downsized_but_never_upsized(media: Path) -> None:
    clip = make_clip(media / "wide.mp4", duration=1.0, size=(320, 180), audio=None)
    small, _, _ = run_split(clip, Settings(frame_max_side=128))
    frame = small[0].frames[0]
    assert (frame.width, frame.height) == (128, 72)
    assert decode_jpeg(frame.jpeg).shape == (72, 128, 3)
    large, _, _ = run_split(clip, Settings(frame_max_side=1024))
    assert (large[0].frames[0].width, large[0].frames[0].height) == (320, 180)


def test_rotation_metadata_turns_the_frames(media: Path) -> None:
    clip = make_clip(media / "rotated.mp4", duration=1.0, audio=None, rotate=90)
    info = probe(clip)
    assert (info.width, info.height, info.rotation) == (240, 320, 90)
    batches, _, _ = run_split(clip)
    assert (batches[0].frames[0].width, batches[0].frames[0].height) == (240, 320)


def test_audio_chunks_are_short_contiguous_and_cover_the_audio(speech_clip: Path) -> None:
    _, chunks, summary = run_split(speech_clip)
    assert len(chunks) == summary.audio_chunks >= 3
    assert [c.chunk_index for c in chunks] == list(range(len(chunks)))
    assert chunks[0].start == pytest.approx(0.0, abs=0.03)
    assert chunks[-1].end == pytest.approx(6.0, abs=0.1)
    for chunk in chunks:
        assert chunk.sample_rate == 16_000
        assert 0 < chunk.end - chunk.start <= SMALL.audio_chunk_max_s + 1e-6
        assert len(chunk.model_dump_json()) <= SMALL.max_message_bytes
        decoded = decode_audio_chunk(chunk)
        assert decoded.sample_rate == 16_000
        assert decoded.samples.dtype == np.float32
        assert decoded.samples.size / 16_000 == pytest.approx(chunk.end - chunk.start, abs=1e-3)
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert after.start == pytest.approx(before.end, abs=1e-3)


@pytest.mark.parametrize(
    ("override", "interview", "carried"),
    [(None, "ko", ("ko", None)), (None, None, (None, None)), ("en", "ko", (None, "en"))],
)
def test_audio_chunks_carry_the_interviews_language_only_without_an_override(
    speech_clip: Path, override: str | None, interview: str | None, carried: tuple[Any, Any]
) -> None:
    _, chunks, _ = run_split(speech_clip, language=override, interview_language=interview)
    assert {(c.interview_language, c.language) for c in chunks} == {carried}
    decoded = decode_audio_chunk(chunks[0])
    assert (decoded.interview_language, decoded.language) == carried


async def test_the_splitter_asks_the_result_store_for_the_interviews_language(
    tmp_path: Path,
) -> None:
    store = SQLiteResultStore(tmp_path / "results.sqlite3")
    await store.start()
    try:
        await store.save_result(
            AnalysisResult(
                video_id="earlier",
                status=ResultStatus.COMPLETE,
                metadata=VideoMetadata(interview_id="int-9"),
                speech=SpeechSection(language="ko", language_source="detected", audio_s=8.0),
            )
        )

        async def results() -> SQLiteResultStore:
            return store

        wiring: Any = SimpleNamespace(
            settings=Settings(), services=SimpleNamespace(results=results)
        )

        def upload(**metadata: Any) -> VideoUploaded:
            return VideoUploaded(video_id="new", uri="file:///x.mp4", metadata=metadata)

        assert await _interview_language(wiring, upload(interview_id="int-9")) == "ko"
        assert await _interview_language(wiring, upload(interview_id="int-1")) is None
        assert (
            await _interview_language(wiring, upload(interview_id="int-9", language="en")) is None
        )
        assert await _interview_language(wiring, upload()) is None
    finally:
        await store.close()

    async def unreachable() -> SQLiteResultStore:
        raise StoreUnavailable("result database unreachable")

    wiring = SimpleNamespace(settings=Settings(), services=SimpleNamespace(results=unreachable))
    assert await _interview_language(wiring, upload(interview_id="int-9")) is None


async def test_an_upload_a_newer_run_replaced_is_not_split(tmp_path: Path) -> None:
    """The join published a stuck video again as run 1 while its first event still waited
    for the splitter: run 0's event is then skipped (work the join would ignore); when the
    status store cannot say, the video is split."""
    status = EmbeddedStatusStore(tmp_path / "status.sqlite3")
    await status.start()
    try:
        await status.set_status(VideoStatus(video_id="v1", state=VideoState.QUEUED, run=1))

        async def reachable() -> EmbeddedStatusStore:
            return status

        wiring: Any = SimpleNamespace(services=SimpleNamespace(status=reachable))
        assert await _newer_run(wiring, VideoUploaded(video_id="v1", uri="file:///x.mp4")) == 1
        run_1 = VideoUploaded(video_id="v1", uri="file:///x.mp4", run=1)
        assert await _newer_run(wiring, run_1) is None
        assert await _newer_run(wiring, VideoUploaded(video_id="v2", uri="file:///x.mp4")) is None
    finally:
        await status.close()

    async def unreachable() -> EmbeddedStatusStore:
        raise StoreUnavailable("status store unreachable")

    wiring = SimpleNamespace(services=SimpleNamespace(status=unreachable))
    assert await _newer_run(wiring, VideoUploaded(video_id="v1", uri="file:///x.mp4")) is None


def test_audio_is_cut_at_quiet_points(speech_clip: Path) -> None:
    _, chunks, _ = run_split(speech_clip)
    for chunk in chunks[:-1]:
        samples = decode_audio_chunk(chunk).samples
        tail = samples[-160:]  # the last 10 ms: half of the quietest 20 ms window
        assert np.sqrt(np.mean(tail**2)) <= np.sqrt(np.mean(samples**2))
        # Cuts land in the last third of the allowed span, so chunks stay long.
        assert chunk.end - chunk.start >= SMALL.audio_chunk_max_s * 2 / 3 - 0.02


def test_the_first_audio_chunk_is_shorter_so_words_show_sooner(speech_clip: Path) -> None:
    settings = Settings(audio_chunk_max_s=4.0, audio_first_chunk_s=1.5)
    _, chunks, _ = run_split(speech_clip, settings)
    first, rest = chunks[0], chunks[1:]
    assert 1.5 * 2 / 3 - 0.02 <= first.end - first.start <= 1.5 + 1e-6
    # Then chunks are as long as the usual limit allows: 6 s of audio in two or three chunks.
    assert 1 <= len(rest) <= 2
    assert rest[0].end - rest[0].start > 1.5 + 1e-6
    assert all(c.end - c.start <= 4.0 + 1e-6 for c in rest)
    assert rest[0].start == pytest.approx(first.end, abs=1e-3)
    assert chunks[-1].end == pytest.approx(6.0, abs=0.1)


def test_all_audio_comes_before_the_frames_so_speech_starts_at_once(speech_clip: Path) -> None:
    kinds = [type(m).__name__ for m in split_video(speech_clip, "vid-1", SMALL)]
    first_frames = kinds.index("FrameBatch")
    assert kinds[:first_frames] == ["AudioChunk"] * first_frames >= ["AudioChunk"] * 3
    assert "AudioChunk" not in kinds[first_frames:]


def test_audio_that_starts_late_keeps_its_place_on_the_video_clock(
    media: Path, speech_clip: Path
) -> None:
    late = media / "late-audio.mp4"
    run_ffmpeg(
        ["-i", str(speech_clip), "-itsoffset", "1.5", "-i", str(speech_clip)]
        + ["-map", "0:v", "-map", "1:a", "-c", "copy", str(late)]
    )
    batches, chunks, _ = run_split(late)
    assert batches[0].frames[0].t == pytest.approx(0.0, abs=1e-6)
    assert chunks[0].start == pytest.approx(1.5, abs=0.05)
    assert chunks[-1].end == pytest.approx(7.5, abs=0.1)


def test_audio_running_past_the_duration_limit_is_refused(
    media: Path, speech_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    long_audio = make_clip(media / "long-audio.wav", duration=8.0, video=False, audio="speech")
    longer = media / "longer-audio.mp4"
    run_ffmpeg(
        ["-i", str(speech_clip), "-i", str(long_audio), "-map", "0:v", "-map", "1:a"]
        + ["-c:v", "copy", "-c:a", "aac", str(longer)]
    )
    # As if the header said less than the streams hold: the probe's check lets it through,
    # the video (6 s) is within the limit, the audio (8 s) is not.
    monkeypatch.setattr("video_analysis.media.splitter.check_media_limits", lambda *_: None)
    with pytest.raises(TooLong, match="audio"):
        run_split(longer, Settings(max_duration_s=6.5))


def test_noise_that_does_not_compress_is_split_to_fit(media: Path) -> None:
    clip = make_clip(media / "noise.mkv", duration=3.0, audio="noise", acodec="pcm_s16le")
    settings = Settings(max_message_bytes=64_000, audio_chunk_max_s=3.0)
    _, chunks, _ = run_split(clip, settings)
    assert len(chunks) >= 2
    assert all(len(c.model_dump_json()) <= 64_000 for c in chunks)
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert after.start == pytest.approx(before.end, abs=1e-3)


def test_video_without_audio_gives_frames_only(media: Path) -> None:
    clip = make_clip(media / "mute.mp4", duration=2.0, audio=None)
    batches, chunks, summary = run_split(clip)
    assert chunks == [] and summary.audio_chunks == 0
    assert summary.media.has_audio is False
    assert summary.frames_sampled == len([f for b in batches for f in b.frames]) > 0


def test_audio_only_file_is_refused(media: Path) -> None:
    clip = make_clip(media / "voice.m4a", duration=1.0, video=False, audio="sine")
    with pytest.raises(NoVideoStream) as info:
        run_split(clip)
    assert info.value.code == "no_video_stream"


@pytest.mark.parametrize("maker", [make_text_as_mp4, make_corrupt])
def test_unreadable_files_raise_unreadable_media(media: Path, maker: object) -> None:
    path = maker(media / f"bad-{maker.__name__}.mp4")  # type: ignore[operator]
    with pytest.raises(UnreadableMedia) as info:
        run_split(path)
    assert info.value.code == "unreadable_media"
    assert "Traceback" not in info.value.message


def test_empty_file_is_unreadable(media: Path) -> None:
    path = media / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(UnreadableMedia):
        run_split(path)


def test_truncated_file_keeps_what_decoded(
    media: Path, speech_clip: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = make_clip(media / "whole.mkv", duration=6.0, audio="speech")
    cut = make_truncated(source, media / "cut.mkv", keep=0.5)
    batches, chunks, summary = run_split(cut)
    frames = [f for b in batches for f in b.frames]
    assert 5 <= len(frames) < 6.0 * SMALL.frame_rate
    assert [f.index for f in frames] == list(range(len(frames)))
    assert summary.audio_chunks == len(chunks) >= 1
    assert any("vid-1" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    # The result can say how much was analysed: up to the last frame that decoded.
    assert summary.truncated
    assert summary.analysed_s == pytest.approx(frames[-1].t, abs=0.3)
    assert summary.analysed_s < summary.media.duration_s - 1.0


def test_a_whole_file_is_analysed_to_its_end(speech_clip: Path) -> None:
    _, _, summary = run_split(speech_clip)
    assert not summary.truncated
    assert summary.analysed_s == pytest.approx(6.0, abs=0.05)


def test_too_long_video_is_refused(speech_clip: Path) -> None:
    with pytest.raises(TooLong) as info:
        run_split(speech_clip, Settings(max_duration_s=2.0))
    assert info.value.code == "too_long"
    # What the probe saw travels with the error, so the failed result describes the file.
    assert info.value.media is not None and info.value.media.duration_s == pytest.approx(6.0, 0.05)


def test_video_over_the_resolution_limit_is_refused_before_decoding(speech_clip: Path) -> None:
    with pytest.raises(FrameTooLarge) as info:
        run_split(speech_clip, Settings(max_resolution_px=200))
    assert info.value.code == "frame_too_large"
    assert "320x240" in info.value.message


@pytest.mark.parametrize(
    ("name", "container", "vcodec", "acodec"),
    [("clip.webm", "webm", "vp9", "opus"), ("clip.mov", "mov", "h264", "aac")],
)
def test_webm_and_mov_work(
    media: Path, name: str, container: str, vcodec: str, acodec: str
) -> None:
    clip = make_clip(media / name, duration=2.5, audio="sine")
    info = probe(clip)
    assert (info.container, info.video_codec, info.audio_codec) == (container, vcodec, acodec)
    assert info.duration_s == pytest.approx(2.5, abs=0.1)
    batches, chunks, summary = run_split(clip)
    assert summary.frames_sampled == pytest.approx(2.5 * SMALL.frame_rate, abs=1)
    assert chunks and chunks[-1].end == pytest.approx(2.5, abs=0.1)
    assert all(c.sample_rate == 16_000 for c in chunks)


def test_probe_reports_stream_properties(speech_clip: Path) -> None:
    info = probe(speech_clip)
    assert info.container == "mp4"
    assert (info.width, info.height, info.fps) == (320, 240, 25.0)
    assert info.has_video and info.has_audio
    assert info.audio_sample_rate == 48_000 and info.audio_channels == 1
    assert info.duration_s == pytest.approx(6.0, abs=0.1)
    assert info.size_bytes == speech_clip.stat().st_size


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00", "mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00", "mov"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01", "matroska"),
        (b"RIFF\x00\x10\x00\x00AVI LIST", "avi"),
        (b"\x47" + bytes(187) + b"\x47" + bytes(10), "mpegts"),
        (b"hello, this is text", None),
        (b"", None),
    ],
)
def test_sniff_container(head: bytes, expected: str | None) -> None:
    assert sniff_container(head) == expected
