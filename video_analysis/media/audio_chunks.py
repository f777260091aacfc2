"""The audio of a split: decoded audio resampled to 16 kHz mono, cut into chunks at the
quietest point near each chunk's length limit (never inside a word, when it can help it),
each chunk FLAC-encoded into an ``AudioChunk`` message."""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import Any, Protocol

import av
import numpy as np
from numpy.typing import NDArray

from ..schemas import AudioChunk
from ..settings import Settings
from .codec import encode_flac

logger = logging.getLogger(__name__)

AUDIO_RATE = 16_000
# 20 ms is the usual speech-analysis frame: shorter than a syllable, longer than a pitch period.
CUT_WINDOW = AUDIO_RATE // 50
CUT_HOP = CUT_WINDOW // 2
# The cut point is searched in the last third of the allowed span, so chunks stay long.
CUT_SEARCH_SHARE = 1 / 3
# Less audio than this is not worth a chunk (and says nothing an analyzer could use).
MIN_AUDIO_S = 0.05


class Counts(Protocol):
    """What the chunker counts in (the split's summary): the chunks made so far."""

    audio_chunks: int


class Resampler:
    """16 kHz mono float32 from any decoded audio, following format changes mid-stream."""

    def __init__(self) -> None:
        self._resampler: Any = None
        self._key: tuple[str, str, int] | None = None

    def resample(self, frame: Any) -> list[NDArray[Any]]:
        key = (frame.format.name, frame.layout.name, frame.sample_rate)
        out: list[NDArray[Any]] = []
        if self._resampler is not None and key != self._key:
            out += self.flush()  # a stream switching layout (ad breaks, spliced files)
        if self._resampler is None:
            # s16 output makes libswresample normalise the downmix matrix, so a stereo
            # recording is averaged into mono instead of summed (+3 dB, false clipping).
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=AUDIO_RATE)
            self._key = key
        out += [self._to_float(f) for f in self._resampler.resample(frame)]
        return out

    def flush(self) -> list[NDArray[Any]]:
        if self._resampler is None:
            return []
        out = [self._to_float(f) for f in self._resampler.resample(None)]
        self._resampler = None
        self._key = None
        return out

    @staticmethod
    def _to_float(frame: Any) -> NDArray[Any]:
        samples: NDArray[Any] = frame.to_ndarray().reshape(-1).astype(np.float32) / 32768.0
        return samples


class AudioChunker:
    """Buffers 16 kHz samples and cuts chunks at the quietest point near the length limit.

    The first chunk has a shorter limit (``audio_first_chunk_s``): the speech worker starts on
    it while the rest is still being decoded, so the first words reach the status sooner.
    """

    def __init__(
        self,
        video_id: str,
        settings: Settings,
        summary: Counts,
        language: str | None,
        interview_language: str | None,
    ) -> None:
        self.video_id = video_id
        self.settings = settings
        self.summary = summary
        self.language = language
        self.interview_language = None if language else interview_language
        self.max_samples = int(settings.audio_chunk_max_s * AUDIO_RATE)
        self.first_max_samples = min(
            self.max_samples, int(settings.audio_first_chunk_s * AUDIO_RATE)
        )
        self.offset = 0.0  # seconds from the video start to the first audio sample
        self.pending: list[NDArray[Any]] = []
        self.pending_samples = 0
        self.emitted_samples = 0  # samples already sent, i.e. where the next chunk starts
        self.total_samples = 0

    def set_offset(self, offset: float) -> None:
        # Fixed once the first chunk is out, so that chunk boundaries stay contiguous.
        if self.summary.audio_chunks == 0:
            self.offset = offset

    @property
    def limit(self) -> int:
        """The most samples the next chunk may hold."""
        return self.first_max_samples if self.summary.audio_chunks == 0 else self.max_samples

    def push(self, samples: NDArray[Any]) -> Generator[AudioChunk, None, None]:
        if samples.size == 0:
            return
        self.pending.append(samples)
        self.pending_samples += samples.size
        self.total_samples += samples.size
        if self.pending_samples < self.limit:
            return
        buffer = np.concatenate(self.pending)
        while buffer.size >= self.limit:
            cut = _quiet_cut(buffer, self.limit)
            yield from self._emit(buffer[:cut])
            buffer = buffer[cut:]
        self.pending = [buffer] if buffer.size else []
        self.pending_samples = buffer.size

    def flush(self) -> Generator[AudioChunk, None, None]:
        buffer = np.concatenate(self.pending) if self.pending else np.zeros(0, np.float32)
        self.pending, self.pending_samples = [], 0
        if buffer.size < MIN_AUDIO_S * AUDIO_RATE:
            if buffer.size:
                logger.debug(
                    "video_id=%s: dropped %d trailing audio samples", self.video_id, buffer.size
                )
            return
        yield from self._emit(buffer)

    def _emit(self, samples: NDArray[Any]) -> Generator[AudioChunk, None, None]:
        """One chunk, or several when FLAC cannot squeeze it under the message limit."""
        start_sample = self.emitted_samples
        chunk = AudioChunk(
            video_id=self.video_id,
            chunk_index=self.summary.audio_chunks,
            start=round(self.offset + start_sample / AUDIO_RATE, 6),
            end=round(self.offset + (start_sample + samples.size) / AUDIO_RATE, 6),
            sample_rate=AUDIO_RATE,
            language=self.language,
            interview_language=self.interview_language,
            data=encode_flac(samples, AUDIO_RATE),
        )
        if len(chunk.model_dump_json()) > self.settings.max_message_bytes:
            if samples.size < 2 * CUT_WINDOW:  # cannot happen with max_message_bytes >= 64 kB
                raise ValueError("an audio chunk of 40 ms does not fit in a message")
            # Noise-like audio barely compresses; halve around the quietest point and retry.
            quarter = samples.size // 4
            cut = quarter + _quietest(samples[quarter : samples.size - quarter])
            yield from self._emit(samples[:cut])
            yield from self._emit(samples[cut:])
            return
        self.emitted_samples += samples.size
        self.summary.audio_chunks += 1
        yield chunk


def _quiet_cut(buffer: NDArray[Any], max_samples: int) -> int:
    """Where to end a chunk of at most ``max_samples``: the quietest 20 ms in its last third."""
    lo = int(max_samples * (1 - CUT_SEARCH_SHARE))
    return lo + _quietest(buffer[lo:max_samples])


def _quietest(samples: NDArray[Any]) -> int:
    """Offset of the middle of the lowest-energy 20 ms window of ``samples``."""
    if samples.size <= CUT_WINDOW:
        return samples.size // 2
    energy = np.concatenate(([0.0], np.cumsum(samples.astype(np.float64) ** 2)))
    starts = np.arange(0, samples.size - CUT_WINDOW + 1, CUT_HOP)
    window_energy = energy[starts + CUT_WINDOW] - energy[starts]
    # The last of equally quiet windows, so that chunks in long silences are as long as allowed.
    best = len(window_energy) - 1 - int(np.argmin(window_energy[::-1]))
    return int(starts[best] + CUT_WINDOW // 2)
