"""The splitter's pure part: turning a file into audio chunks, then frame batches.

Two passes over the file: the audio pass decodes the audio (and only the first video frame,
whose time is the video's clock), the video pass decodes the frames. Audio comes first because
it is cheap and the speech worker, the longest stage, can start within a second.

``split_video`` is a generator so that the caller (the Faust splitter agent, or the local
``analyze`` command) publishes each message as soon as it is ready: a one-hour video never
sits in memory, only the current frame batch and at most one audio chunk do.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import av.error
import cv2
from numpy.typing import NDArray

from ..errors import FrameTooLarge, TooLong, UnreadableMedia
from ..schemas import (
    AnalyzerPlan,
    AudioChunk,
    FrameBatch,
    FrameImage,
    MediaInfo,
    SplitManifest,
    VideoUploaded,
)
from ..settings import Settings
from .audio_chunks import AUDIO_RATE, AudioChunker, Resampler
from .codec import encode_jpeg
from .limits import check_media_limits
from .probe import first_video_stream, open_media, probe

logger = logging.getLogger(__name__)

# Frames whose timestamps run this far past the declared limit mean the header lied.
DURATION_SLACK_S = 1.0
# Video ending this much before the declared duration is reported as a truncated file.
TRUNCATION_SLACK_S = 1.0
# Timestamps are rationals printed as floats; this absorbs their rounding at k/fps.
TIME_EPS = 1e-4
# A single frame over the message limit is re-encoded at these qualities, then downscaled.
FALLBACK_QUALITIES = (70, 50, 35, 20)


@dataclass
class SplitSummary:
    """What one split produced; the manifest is built from it."""

    media: MediaInfo
    frame_batches: int = 0
    audio_chunks: int = 0
    frames_sampled: int = 0
    sample_fps: float = 0.0
    #: Seconds of video that decoded (less than the declared duration for a truncated file).
    analysed_s: float = 0.0
    truncated: bool = False

    def manifest(
        self, upload: VideoUploaded, analyzers: AnalyzerPlan, split_s: float
    ) -> SplitManifest:
        """The manifest of ``upload`` split into this: the one the splitter agent publishes
        and ``video-analysis analyze`` builds its result from."""
        return SplitManifest(
            video_id=upload.video_id,
            run=upload.run,
            uri=upload.uri,
            metadata=upload.metadata,
            media=self.media,
            frame_batches=self.frame_batches,
            audio_chunks=self.audio_chunks,
            frames_sampled=self.frames_sampled,
            sample_fps=self.sample_fps,
            analysed_s=self.analysed_s,
            truncated=self.truncated,
            analyzers=analyzers,
            split_s=split_s,
            submitted_at=upload.submitted_at,
        )


@dataclass
class _State:
    """Decode-pass bookkeeping shared by the frame and audio paths."""

    video_t0: float | None = None
    audio_t0: float | None = None
    next_sample: int = 0
    frames: list[FrameImage] = field(default_factory=list)
    decode_errors: int = 0
    video_frames: int = 0
    last_t: float = 0.0


def split_video(
    path: Path,
    video_id: str,
    settings: Settings,
    *,
    language: str | None = None,
    interview_language: str | None = None,
) -> Generator[FrameBatch | AudioChunk, None, SplitSummary]:
    """Yield ``FrameBatch`` and ``AudioChunk`` messages of one file; return a ``SplitSummary``.

    ``language`` (the upload's spoken-language override) and ``interview_language`` (that of
    the interview's answers analysed before) travel on every audio chunk, since chunks are
    analysed before the join has the upload's metadata.

    Raises ``UnreadableMedia``, ``NoVideoStream``, ``TooLong`` or ``FrameTooLarge`` (before
    yielding anything when the probe can tell; otherwise after the audio chunks, when the
    video pass finds the problem).
    """
    path = Path(path)
    media = probe(path)
    check_media_limits(media, settings)
    summary = SplitSummary(media=media, sample_fps=float(settings.frame_rate))
    state = _State()
    packer = _FramePacker(video_id, settings, summary)
    audio_chunker: AudioChunker | None = None

    if media.has_audio:
        # Audio first: it is one cheap pass (the video packets are read, not decoded), and the
        # speech worker, the longest stage, starts on the first chunk within a second instead of
        # once the video has been decoded that far.
        audio_chunker = AudioChunker(video_id, settings, summary, language, interview_language)
        yield from _audio_pass(path, state, audio_chunker, settings, video_id)
    state.video_t0 = None  # set again by the first decoded frame, as the audio pass found it
    with open_media(path) as container:
        vstream = first_video_stream(container)
        vstream.thread_type = "AUTO"
        for packet in _demux(container, [vstream], video_id, state):
            for frame in _decode(packet, video_id, state):
                yield from _on_video_frame(frame, state, packer, settings, video_id)

    if state.video_frames == 0:
        raise UnreadableMedia("no video frame could be decoded from the file")
    yield from packer.flush()
    if audio_chunker is not None:
        if audio_chunker.total_samples == 0 and summary.audio_chunks == 0:
            logger.warning("video_id=%s: the audio stream decoded to nothing", video_id)
            summary.media.has_audio = False
    declared = media.duration_s
    summary.analysed_s = round(state.last_t + 1 / (media.fps or settings.frame_rate), 3)
    if declared > 0:
        summary.analysed_s = min(summary.analysed_s, declared)
    if declared > 0 and state.last_t < declared - max(TRUNCATION_SLACK_S, 2 / (media.fps or 1)):
        summary.truncated = True
        logger.warning(
            "video_id=%s: video frames end at %.1f s of a declared %.1f s; the file is "
            "probably truncated, kept what decoded",
            video_id,
            state.last_t,
            declared,
        )
    if state.decode_errors:
        logger.warning(
            "video_id=%s: %d packets could not be decoded; kept what did (%d video frames)",
            video_id,
            state.decode_errors,
            state.video_frames,
        )
    logger.info(
        "video_id=%s: split into %d frame batches (%d frames) and %d audio chunks",
        video_id,
        summary.frame_batches,
        summary.frames_sampled,
        summary.audio_chunks,
    )
    return summary


def _audio_pass(
    path: Path, state: _State, chunker: AudioChunker, settings: Settings, video_id: str
) -> Generator[AudioChunk, None, None]:
    """Every audio chunk of the file. Video packets are only decoded until the first frame,
    whose time places the audio on the video's clock."""
    with open_media(path) as container:
        if not container.streams.audio:
            return
        vstream = first_video_stream(container)
        astream = container.streams.audio[0]
        resampler = Resampler()
        limit_s = settings.max_duration_s + DURATION_SLACK_S
        for packet in _demux(container, [vstream, astream], video_id, state):
            if packet.stream.index == vstream.index:
                if state.video_t0 is None:
                    state.video_t0 = _first_frame_time(packet, video_id)
                continue
            for aframe in _decode(packet, video_id, state):
                if state.audio_t0 is None and aframe.time is not None:
                    state.audio_t0 = float(aframe.time)
                chunker.set_offset(_audio_offset(state, vstream, astream))
                for samples in resampler.resample(aframe):
                    yield from chunker.push(samples)
                if chunker.offset + chunker.total_samples / AUDIO_RATE > limit_s:
                    raise TooLong(f"the audio runs past the {settings.max_duration_s:.0f} s limit")
        if state.video_t0 is None:
            state.video_t0 = _first_frame_time(_FlushPacket(vstream), video_id)
        chunker.set_offset(_audio_offset(state, vstream, astream))
        for samples in resampler.flush():
            yield from chunker.push(samples)
    yield from chunker.flush()


def _first_frame_time(packet: Any, video_id: str) -> float | None:
    """The time of the first frame this video packet decodes to, if it decodes to one (0 for
    a frame without a timestamp, as ``_on_video_frame`` counts it). A bad packet is counted
    by the video pass, which decodes it again."""
    for frame in _decode(packet, video_id, None):
        return float(frame.time) if frame.time is not None else 0.0
    return None


def _decode(packet: Any, video_id: str, state: _State | None) -> list[Any]:
    """The packet's frames; none for a packet that does not decode (counted in ``state``):
    one bad packet (bit rot, a cut in the upload) should not lose the whole file."""
    try:
        frames: list[Any] = packet.decode()
    except (av.error.FFmpegError, ValueError) as exc:
        if state is not None:
            state.decode_errors += 1
        logger.debug("video_id=%s: %s packet decode failed: %s", video_id, packet.stream.type, exc)
        return []
    return frames


def _demux(container: Any, streams: list[Any], video_id: str, state: _State) -> Any:
    """Packets of ``streams``, stopping (not failing) where the file becomes unreadable."""
    packets = container.demux(*streams)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except (av.error.FFmpegError, ValueError, OSError) as exc:
            state.decode_errors += 1
            logger.warning("video_id=%s: reading stopped early: %s", video_id, exc)
            # PyAV's demux generator is finished after raising; flush the decoders ourselves.
            for stream in streams:
                yield _FlushPacket(stream)
            return
        yield packet


class _FlushPacket:
    """Stands in for PyAV's empty end-of-stream packet: decoding it drains the decoder."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def decode(self) -> list[Any]:
        return list(self.stream.decode(None))


def _audio_offset(state: _State, vstream: Any, astream: Any) -> float:
    """Seconds from the video's first frame to the audio's first sample (never negative)."""
    audio_t0 = state.audio_t0
    if audio_t0 is None:
        audio_t0 = _stream_start(astream)
    video_t0 = state.video_t0 if state.video_t0 is not None else _stream_start(vstream)
    if audio_t0 is None or video_t0 is None:
        return 0.0
    return max(0.0, audio_t0 - video_t0)


def _stream_start(stream: Any) -> float | None:
    if stream is None or stream.start_time is None or stream.time_base is None:
        return None
    return float(stream.start_time * stream.time_base)


def _on_video_frame(
    frame: Any, state: _State, packer: _FramePacker, settings: Settings, video_id: str
) -> Generator[FrameBatch, None, None]:
    fps = float(settings.frame_rate)
    if frame.time is None:
        # No timestamp (some raw streams): fall back to the frame's position at the stream rate.
        t_abs = state.video_frames / float(packer.summary.media.fps or fps)
    else:
        t_abs = float(frame.time)
    state.video_frames += 1
    if max(frame.width, frame.height) > settings.max_resolution_px:
        # The probe saw the first frame; a stream may change size later.
        raise FrameTooLarge(
            f"a frame of {frame.width}x{frame.height} pixels is over the limit of "
            f"{settings.max_resolution_px} pixels on the longest side"
        )
    if state.video_t0 is None:
        state.video_t0 = t_abs
    t = max(0.0, t_abs - state.video_t0)
    state.last_t = max(state.last_t, t)
    if t > settings.max_duration_s + DURATION_SLACK_S:
        raise TooLong(f"the video runs past the {settings.max_duration_s:.0f} s limit")
    # The first frame at or after each sampling instant k/fps; a frame that covers several
    # instants (source slower than the sample rate) is taken once.
    if t + TIME_EPS < state.next_sample / fps:
        return
    state.next_sample = math.floor((t + TIME_EPS) * fps) + 1
    image = frame.to_ndarray(format="bgr24")
    image = _rotate(image, int(getattr(frame, "rotation", 0) or 0))
    image = _downsize(image, settings.frame_max_side)
    yield from packer.add(t, image)


def _rotate(image: NDArray[Any], rotation: int) -> NDArray[Any]:
    """Turn the picture as players do; ``rotation`` is the counter-clockwise display angle."""
    rotation %= 360
    if rotation == 90:
        return cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
    if rotation == 180:
        return cv2.rotate(image, cv2.ROTATE_180)
    if rotation == 270:
        return cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    return image


def _downsize(image: NDArray[Any], max_side: int) -> NDArray[Any]:
    height, width = image.shape[:2]
    longest = max(height, width)
    if longest <= max_side:
        return image
    scale = max_side / longest
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


class _FramePacker:
    """Packs sampled frames into batches that respect the count and byte limits."""

    def __init__(self, video_id: str, settings: Settings, summary: SplitSummary) -> None:
        self.video_id = video_id
        self.settings = settings
        self.summary = summary
        self.frames: list[FrameImage] = []
        self.size = 0  # serialized bytes of self.frames, commas included

    def _overhead(self) -> int:
        empty = FrameBatch(
            video_id=self.video_id,
            batch_index=self.summary.frame_batches,
            sample_fps=self.summary.sample_fps,
            frames=[],
        )
        return len(empty.model_dump_json())

    def add(self, t: float, image: NDArray[Any]) -> Generator[FrameBatch, None, None]:
        index = self.summary.frames_sampled
        frame, size = self._encode(index, t, image, self.settings.jpeg_quality)
        limit = self.settings.max_message_bytes
        if self.frames and self._overhead() + self.size + 1 + size > limit:
            yield from self.flush()
        if self._overhead() + size > limit:
            frame, size = self._shrink(index, t, image, limit - self._overhead())
        self.size += size + (1 if self.frames else 0)
        self.frames.append(frame)
        self.summary.frames_sampled += 1
        if len(self.frames) >= self.settings.frames_per_batch:
            yield from self.flush()

    def flush(self) -> Generator[FrameBatch, None, None]:
        if not self.frames:
            return
        batch = FrameBatch(
            video_id=self.video_id,
            batch_index=self.summary.frame_batches,
            sample_fps=self.summary.sample_fps,
            frames=self.frames,
        )
        self.frames = []
        self.size = 0
        self.summary.frame_batches += 1
        yield batch

    def _encode(
        self, index: int, t: float, image: NDArray[Any], quality: int
    ) -> tuple[FrameImage, int]:
        height, width = image.shape[:2]
        frame = FrameImage(
            index=index, t=round(t, 6), width=width, height=height, jpeg=encode_jpeg(image, quality)
        )
        return frame, len(frame.model_dump_json())

    def _shrink(
        self, index: int, t: float, image: NDArray[Any], budget: int
    ) -> tuple[FrameImage, int]:
        """Re-encode one frame that is alone too big: lower quality first, then smaller."""
        qualities = [q for q in FALLBACK_QUALITIES if q < self.settings.jpeg_quality]
        for quality in qualities or [FALLBACK_QUALITIES[-1]]:
            frame, size = self._encode(index, t, image, quality)
            if size <= budget:
                break
        while size > budget and min(image.shape[:2]) > 16:
            image = _downsize(image, max(image.shape[:2]) // 2)
            frame, size = self._encode(index, t, image, FALLBACK_QUALITIES[-1])
        logger.warning(
            "video_id=%s: frame %d was over the message limit; sent at %dx%d, %d bytes",
            self.video_id,
            index,
            frame.width,
            frame.height,
            size,
        )
        return frame, size
