"""Voice figures from the signal: level, pitch, energy, noise floor and clipping.

Per chunk, frame features are taken on one grid (20 ms hops); per video, the chunks' frames are
pooled into pitch, energy and voice-quality figures. Classic signal measures from librosa:
pYIN pitch and RMS energy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ...schemas.parts import SpeechPart, Track, VoiceSignal
from ...schemas.speech import Energy, Pitch, VoiceQuality

SAMPLE_RATE = 16_000
FMIN_HZ = 65.0
FMAX_HZ = 400.0
FRAME_LENGTH = 1024  # 64 ms at 16 kHz: two periods of 65 Hz, what pYIN needs
HOP_LENGTH = 320  # 20 ms
HOP_S = HOP_LENGTH / SAMPLE_RATE
CLIP_LEVEL = 0.99
DB_FLOOR = -100.0
# Noise floor: the 10th percentile of the frames outside speech.
NOISE_PERCENTILE = 10
# Frame level histogram: 1 dB bins from -100 to 0 dBFS, merged across chunks.
HIST_BINS = 101


def warm_up(librosa: Any) -> None:
    """pYIN's Viterbi is compiled by numba on first use (seconds): pay it at load, not in the
    first chunk."""
    librosa.pyin(
        np.zeros(SAMPLE_RATE // 2, dtype=np.float32),
        fmin=FMIN_HZ,
        fmax=FMAX_HZ,
        sr=SAMPLE_RATE,
        frame_length=FRAME_LENGTH,
        hop_length=HOP_LENGTH,
    )


def rms_db(librosa: Any, x: NDArray[np.float32]) -> NDArray[Any]:
    """Frame level in dBFS, one value per hop."""
    if x.size == 0:
        return np.zeros(0)
    rms = librosa.feature.rms(y=x, frame_length=FRAME_LENGTH, hop_length=HOP_LENGTH)[0]
    db: NDArray[Any] = 20.0 * np.log10(np.maximum(rms, 10 ** (DB_FLOOR / 20)))
    return db


def pitch_track(librosa: Any, x: NDArray[np.float32], n: int) -> tuple[NDArray[Any], NDArray[Any]]:
    """pYIN pitch (NaN where unvoiced) and the voiced flag, ``n`` frames each."""
    f0, voiced, _ = librosa.pyin(
        x,
        fmin=FMIN_HZ,
        fmax=FMAX_HZ,
        sr=SAMPLE_RATE,
        frame_length=FRAME_LENGTH,
        hop_length=HOP_LENGTH,
    )
    return f0[:n], np.asarray(voiced[:n], dtype=bool)


def signal_figures(x: NDArray[Any]) -> VoiceSignal:
    """The chunk's samples and clipped samples; its speech and voiced frames are counted
    once its segments are known."""
    return VoiceSignal(samples=int(x.size), clipped=int(np.count_nonzero(np.abs(x) >= CLIP_LEVEL)))


def span_mask(spans: list[tuple[float, float]], n: int, hop_s: float = HOP_S) -> NDArray[np.bool_]:
    """Frames (of ``n``, ``hop_s`` apart) inside any of ``spans`` (seconds from frame 0)."""
    mask = np.zeros(n, dtype=bool)
    for start, end in spans:
        mask[max(0, int(start / hop_s)) : max(0, int(math.ceil(end / hop_s)))] = True
    return mask


def db_hist(db: NDArray[Any]) -> list[int]:
    bins = np.clip(np.round(db - DB_FLOOR), 0, HIST_BINS - 1).astype(np.int64)
    hist: list[int] = np.bincount(bins, minlength=HIST_BINS).tolist()
    return hist


def track(offset: float, f0: NDArray[Any], voiced: NDArray[Any], db: NDArray[Any]) -> Track:
    """The chunk's pitch (null where unvoiced) and level on the 20 ms grid, as they travel in a
    part's data: the summary picks the frames of any speaker or span from it."""
    return Track(
        start=round(offset, 3),
        hop_s=HOP_S,
        f0=[
            round(float(v), 1) if ok and np.isfinite(v) else None
            for v, ok in zip(f0, voiced, strict=True)
        ],
        db=[round(float(v), 1) for v in db],
    )


# --- per video --------------------------------------------------------------------------------


def frames_within(
    chunks: Sequence[SpeechPart], spans: Sequence[tuple[float, float]], key: Literal["f0", "db"]
) -> NDArray[np.float64]:
    """Values of track ``key`` (pitch or level) in the frames inside ``spans`` (video time),
    unvoiced frames left out."""
    out: list[float] = []
    for chunk in chunks:
        data = chunk.track
        values: Sequence[float | None] = [] if data is None else getattr(data, key)
        if data is None or not values:
            continue
        mask = span_mask(
            [(a - data.start, b - data.start) for a, b in spans], len(values), data.hop_s
        )
        out.extend(float(v) for v, keep in zip(values, mask, strict=True) if keep and v is not None)
    return np.asarray(out, dtype=np.float64)


def pitch_of(f0: NDArray[Any]) -> Pitch | None:
    if f0.size < 10:
        return None
    semitones = 12 * np.log2(f0 / np.median(f0))
    p5, p95 = np.percentile(f0, [5, 95])
    return Pitch(
        median_hz=round(float(np.median(f0)), 1),
        mean_hz=round(float(np.mean(f0)), 1),
        spread_semitones=round(float(np.std(semitones)), 2),
        range_hz=(round(float(p5), 1), round(float(p95), 1)),
        range_semitones=round(float(12 * np.log2(p95 / p5)), 2),
        frames=int(f0.size),
        method="librosa.pyin 65-400 Hz; range is the 5th-95th percentile",
    )


def energy_of(db: NDArray[Any]) -> Energy | None:
    if db.size < 10:
        return None
    mean_db = 10 * math.log10(float(np.mean(10 ** (db / 10))))
    p10, p90 = np.percentile(db, [10, 90])
    return Energy(
        mean_dbfs=round(mean_db, 2),
        median_dbfs=round(float(np.median(db)), 2),
        std_db=round(float(np.std(db)), 2),
        dynamic_range_db=round(float(p90 - p10), 2),
        frames=int(db.size),
    )


def voice_quality(chunks: Sequence[SpeechPart], speech_db: NDArray[Any]) -> VoiceQuality:
    """Signal to noise, clipping and the voiced share; ``speech_db`` holds the level of every
    speech frame."""
    signals = [c.voice for c in chunks]
    samples = sum(v.samples for v in signals)
    noise = np.zeros(HIST_BINS, dtype=np.int64)
    for chunk in chunks:
        if chunk.noise_db_hist:
            noise += np.asarray(chunk.noise_db_hist, dtype=np.int64)
    snr = None
    if speech_db.size and noise.sum():
        # Percentiles, not means: segment edges are loose, so a little speech leaks into the
        # "silence" frames and would swamp a mean.
        noise_floor = hist_percentile(noise, NOISE_PERCENTILE)
        snr = float(np.median(speech_db)) - noise_floor
    speech_frames = sum(v.speech_frames for v in signals)
    voiced_frames = sum(v.voiced_frames for v in signals)
    return VoiceQuality(
        snr_db=None if snr is None else round(snr, 2),
        clipping_ratio=round(sum(v.clipped for v in signals) / samples, 6) if samples else 0.0,
        voiced_ratio=round(voiced_frames / speech_frames, 4) if speech_frames else None,
        snr_method="median speech frame level over the 10th percentile of the frames "
        "outside speech (20 ms RMS)",
        not_measured="jitter and shimmer: not robust on compressed webcam audio with pYIN",
    )


def hist_percentile(hist: NDArray[Any], percentile: float) -> float:
    cumulative = np.cumsum(hist)
    rank = percentile / 100 * (cumulative[-1] - 1)
    return DB_FLOOR + float(np.searchsorted(cumulative, rank, side="right"))
