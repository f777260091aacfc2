"""Encoding and decoding of what travels on the topics: JPEG frames and FLAC audio.

The splitter encodes, the analyzer agents decode; both sides use these functions so that the
wire format is defined in one place.
"""

from __future__ import annotations

import io
from typing import Any

import cv2
import numpy as np
import soundfile as sf
from numpy.typing import NDArray

from ..analyzers.base import DecodedAudio, DecodedFrame, DecodedFrames
from ..errors import UnreadableMedia
from ..schemas import AudioChunk, FrameBatch


def encode_jpeg(bgr: NDArray[Any], quality: int) -> bytes:
    """JPEG bytes of a BGR uint8 image."""
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # only a malformed array gets here: a bug, not a user error
        raise ValueError(f"cannot JPEG-encode an array of shape {bgr.shape} and {bgr.dtype}")
    return buf.tobytes()


def decode_jpeg(data: bytes) -> NDArray[Any]:
    """BGR uint8 image from JPEG bytes; ``UnreadableMedia`` when the bytes are not an image."""
    if not data:
        raise UnreadableMedia("frame image is empty")
    try:
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise UnreadableMedia(f"frame image cannot be decoded: {exc}") from exc
    if image is None:
        raise UnreadableMedia("frame image is not a valid JPEG")
    return image


def encode_flac(samples: NDArray[Any], sample_rate: int) -> bytes:
    """FLAC (16-bit PCM) bytes of float mono samples in [-1, 1]."""
    # libsndfile wraps around instead of saturating on out-of-range floats; clip first.
    mono = np.clip(np.asarray(samples, dtype=np.float32).reshape(-1), -1.0, 1.0)
    buf = io.BytesIO()
    sf.write(buf, mono, int(sample_rate), format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def decode_flac(data: bytes) -> tuple[NDArray[Any], int]:
    """Float32 mono samples and the sample rate from FLAC bytes."""
    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise UnreadableMedia(f"audio chunk is not valid FLAC: {exc}") from exc
    mono = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    return np.ascontiguousarray(mono, dtype=np.float32), int(rate)


def decode_frame_batch(batch: FrameBatch) -> DecodedFrames:
    return DecodedFrames(
        video_id=batch.video_id,
        batch_index=batch.batch_index,
        sample_fps=batch.sample_fps,
        frames=[
            DecodedFrame(index=frame.index, t=frame.t, image=decode_jpeg(frame.jpeg))
            for frame in batch.frames
        ],
    )


def decode_audio_chunk(chunk: AudioChunk) -> DecodedAudio:
    samples, rate = decode_flac(chunk.data)
    return DecodedAudio(
        video_id=chunk.video_id,
        chunk_index=chunk.chunk_index,
        start=chunk.start,
        end=chunk.end,
        sample_rate=rate,
        samples=samples,
        language=chunk.language,
        interview_language=chunk.interview_language,
    )


def decode_part(message: FrameBatch | AudioChunk) -> DecodedFrames | DecodedAudio:
    """A frame batch or audio chunk as the analyzers take it."""
    if isinstance(message, FrameBatch):
        return decode_frame_batch(message)
    return decode_audio_chunk(message)
