"""What a media file is: container sniffing from magic bytes and a PyAV probe."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import av
import av.container
import av.error

from ..errors import SourceNotFound, UnreadableMedia
from ..schemas import MediaInfo

logger = logging.getLogger(__name__)

#: Bytes ``sniff_container`` needs to recognise every format it knows (a TS packet is 188).
SNIFF_BYTES = 256

TS_PACKET = 188
EBML_MAGIC = b"\x1a\x45\xdf\xa3"
# Top-level QuickTime atoms that old .mov files start with instead of ``ftyp``.
QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}

# How many packets the probe decodes at most looking for the first frame (rotation lives on it).
PROBE_MAX_PACKETS = 200


def sniff_container(head: bytes) -> str | None:
    """The container family of a file from its first bytes, or None when unrecognised.

    ``mp4`` covers ISO BMFF (mp4, m4a, 3gp); ``mov`` is QuickTime; ``matroska`` covers mkv and
    webm. ``head`` should hold at least ``SNIFF_BYTES`` bytes for MPEG-TS to be recognised.
    """
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "mov" if head[8:12] == b"qt  " else "mp4"
    if head[:4] == EBML_MAGIC:
        return "matroska"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if len(head) > TS_PACKET and head[0] == 0x47 and head[TS_PACKET] == 0x47:
        return "mpegts"
    if len(head) >= 8 and head[4:8] in QUICKTIME_ATOMS:
        return "mov"
    return None


@contextmanager
def open_media(path: Path) -> Iterator[av.container.InputContainer]:
    """Open ``path`` with PyAV, turning every failure into a typed, human error."""
    if not path.is_file():
        raise SourceNotFound(f"no such file: {path.name}")
    if path.stat().st_size == 0:
        raise UnreadableMedia("the file is empty")
    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise UnreadableMedia(f"not a readable audio or video file ({_reason(exc)})") from exc
    try:
        yield container
    finally:
        container.close()


def probe(path: Path) -> MediaInfo:
    """Container, duration, video and audio properties of a file.

    ``width``/``height`` are as displayed (swapped for a 90/270 degree rotation); ``rotation``
    is the display matrix angle, counter-clockwise degrees in 0..359 as PyAV's
    ``VideoFrame.rotation`` reports it. Raises ``UnreadableMedia`` for a file without any
    audio or video stream or that PyAV cannot open.
    """
    path = Path(path)
    with open_media(path) as container:
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
        video = first_video_stream(container)
        audio = container.streams.audio[0] if container.streams.audio else None
        if video is None and audio is None:
            raise UnreadableMedia("the file has neither a video nor an audio stream")
        info = MediaInfo(
            container=_container_name(head, container),
            size_bytes=path.stat().st_size,
            has_video=video is not None,
            has_audio=audio is not None,
        )
        if video is not None:
            cc = video.codec_context
            info.video_codec = cc.name
            rate = video.average_rate or video.guessed_rate or video.base_rate
            info.fps = round(float(rate), 3) if rate else None
            info.rotation = _rotation(container, video)
            width, height = cc.width or None, cc.height or None
            if info.rotation in (90, 270):
                width, height = height, width
            info.width, info.height = width, height
        if audio is not None:
            acc = audio.codec_context
            info.audio_codec = acc.name
            info.audio_sample_rate = acc.sample_rate or None
            info.audio_channels = acc.layout.nb_channels if acc.layout else None
        info.duration_s = round(_duration(container, video, audio, info.size_bytes or 0), 3)
    return info


def first_video_stream(container: av.container.InputContainer) -> Any:
    """The first real video stream; cover art in audio files (attached pictures) is not one."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def _container_name(head: bytes, container: av.container.InputContainer) -> str:
    sniffed = sniff_container(head)
    if sniffed == "matroska" and b"webm" in head[:64]:  # the EBML DocType says which
        return "webm"
    if sniffed is not None:
        return sniffed
    # PyAV names demuxers by a comma-separated alias list; the first alias is the usual name.
    return str(container.format.name).split(",")[0]


def _duration(
    container: av.container.InputContainer, video: Any, audio: Any, size_bytes: int
) -> float:
    if container.duration is not None and container.duration > 0:
        return float(container.duration) / av.time_base
    for stream in (video, audio):
        if stream is not None and stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
    # Estimates for streams that do not declare a duration (raw dumps, broken muxers).
    if video is not None and video.frames and video.average_rate:
        return float(video.frames / video.average_rate)
    if container.bit_rate:
        return size_bytes * 8 / float(container.bit_rate)
    return 0.0


def _rotation(container: av.container.InputContainer, video: Any) -> int:
    """Display rotation of the video; it is carried by decoded frames, so decode the first."""
    try:
        for n, packet in enumerate(container.demux(video)):
            for frame in packet.decode():
                return int(frame.rotation) % 360
            if n >= PROBE_MAX_PACKETS:
                break
    except av.error.FFmpegError as exc:
        logger.debug("probe could not decode a first frame: %s", exc)
    # Older muxers wrote the angle as a clockwise ``rotate`` tag instead.
    tag = video.metadata.get("rotate")
    if tag and tag.lstrip("-").isdigit():
        return (-int(tag)) % 360
    return 0


def _reason(exc: BaseException) -> str:
    """The library's one-line reason, without paths or tracebacks."""
    if isinstance(exc, av.error.FFmpegError) and exc.strerror:
        return str(exc.strerror)
    return type(exc).__name__
