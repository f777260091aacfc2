"""Voice figures from the signal: level, pitch, jitter, shimmer, HNR, noise floor and clipping.

Per chunk, frame features are taken on one grid (20 ms hops): the level here (RMS), pitch and
harmonics-to-noise ratio with Praat (``praat``), which also measures jitter and shimmer per
voiced stretch. Per video, the chunks' frames and stretches under a speaker's words are pooled
into their pitch, energy and voice measures, and all speech into voice-quality figures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ...schemas.parts import SpeechPart, Track, VoicedStretch, VoiceSignal
from ...schemas.speech import Energy, Pitch, VoiceMeasures, VoiceQuality
from . import praat

SAMPLE_RATE = praat.SAMPLE_RATE
FMIN_HZ = praat.PITCH_FLOOR_HZ
FMAX_HZ = praat.PITCH_CEILING_HZ
FRAME_LENGTH = 1024  # 64 ms at 16 kHz: the level's window, centred on each grid point
HOP_LENGTH = 320  # 20 ms
HOP_S = HOP_LENGTH / SAMPLE_RATE
CLIP_LEVEL = 0.99
DB_FLOOR = -100.0
# Noise floor: the 10th percentile of the frames outside speech.
NOISE_PERCENTILE = 10
# Frame level histogram: 1 dB bins from -100 to 0 dBFS, merged across chunks.
HIST_BINS = 101
# Pitch: under 10 voiced frames (0.2 s of voicing) a median says nothing.
MIN_PITCH_FRAMES = 10
# Jitter and shimmer of connected speech vary a lot from one voiced stretch to the next. On
# the AMI speakers with 1,100-2,100 measured periods (benchmarks/voice.py), the figure from
# 200 of their periods drawn at random spread over +-15-50% (90% of draws), from 400 over
# +-12-33%: under 400 periods (2-3 s of voicing) they are left null.
MIN_PERIODS = 400
# HNR: its mean over 50 consecutive voiced frames of the same speakers spread over +-2-6 dB,
# over 100 frames (2 s of voicing) +-1-3 dB.
MIN_HNR_FRAMES = 100


def rms_db(x: NDArray[np.float32]) -> NDArray[Any]:
    """Frame level in dBFS, one value per hop: the RMS of FRAME_LENGTH samples centred on the
    frame's time (zeros beyond the chunk's ends), as librosa.feature.rms(center=True) gives
    it, without importing librosa (whose import compiles numba code: 17 s on a cold cache)."""
    if x.size == 0:
        return np.zeros(0)
    half = FRAME_LENGTH // 2
    padded = np.pad(np.asarray(x, dtype=np.float64), (half, half))
    energy = np.concatenate([[0.0], np.cumsum(padded**2)])
    frames = 1 + x.size // HOP_LENGTH
    starts = np.arange(frames) * HOP_LENGTH
    power = np.maximum(energy[starts + FRAME_LENGTH] - energy[starts], 0.0) / FRAME_LENGTH
    rms = np.sqrt(power)
    db: NDArray[Any] = 20.0 * np.log10(np.maximum(rms, 10 ** (DB_FLOOR / 20)))
    return db


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


def track(offset: float, measured: praat.ChunkVoice, db: NDArray[Any]) -> Track:
    """The chunk's pitch and harmonics-to-noise ratio (null where unvoiced) and level on the
    20 ms grid, as they travel in a part's data: the summary picks the frames of any speaker or
    span from it."""
    return Track(
        start=round(offset, 3),
        hop_s=HOP_S,
        f0=_rounded(measured.f0),
        db=[round(float(v), 1) for v in db],
        hnr=_rounded(measured.hnr_db),
    )


def _rounded(values: NDArray[Any]) -> list[float | None]:
    return [round(float(v), 1) if np.isfinite(v) else None for v in values]


# --- per video --------------------------------------------------------------------------------


def frames_within(
    chunks: Sequence[SpeechPart],
    spans: Sequence[tuple[float, float]],
    key: Literal["f0", "db", "hnr"],
) -> NDArray[np.float64]:
    """Values of track ``key`` (pitch, level or harmonics-to-noise ratio) in the frames inside
    ``spans`` (video time), unvoiced frames left out."""
    out: list[NDArray[np.float64]] = []
    for chunk in chunks:
        data = chunk.track
        values: NDArray[np.float64] = np.zeros(0) if data is None else getattr(data, key)
        if data is None or not values.size:
            continue
        end = data.start + values.size * data.hop_s
        mask = span_mask(
            [(a - data.start, b - data.start) for a, b in spans if b > data.start and a < end],
            values.size,
            data.hop_s,
        )
        out.append(values[mask & np.isfinite(values)])
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float64)


def stretches_within(
    chunks: Sequence[SpeechPart], spans: Sequence[tuple[float, float]]
) -> list[VoicedStretch]:
    """The voiced stretches whose middle lies inside ``spans`` (video time; sorted and
    disjoint, as ``activity.union`` gives them): a stretch goes to the speaker whose words
    cover it, as a frame does."""
    starts = np.asarray([a for a, _ in spans], dtype=np.float64)
    ends = np.asarray([b for _, b in spans], dtype=np.float64)
    out = []
    for chunk in chunks:
        for stretch in chunk.voiced_stretches:
            middle = (stretch.start + stretch.end) / 2
            k = int(np.searchsorted(starts, middle, side="right")) - 1
            if k >= 0 and middle < ends[k]:
                out.append(stretch)
    return out


def pitch_of(f0: NDArray[Any], frames: int) -> Pitch | None:
    """Pitch figures of the voiced frames ``f0`` out of ``frames`` under the words."""
    if f0.size < MIN_PITCH_FRAMES:
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
        coverage=_share(f0.size, frames),
        method=f"Praat (parselmouth) To Pitch (ac), {FMIN_HZ:.0f}-{FMAX_HZ:.0f} Hz, standard "
        "settings, read on the 20 ms grid; range is the 5th-95th percentile",
    )


def voice_measures_of(
    stretches: Sequence[VoicedStretch], hnr: NDArray[Any], frames: int
) -> VoiceMeasures:
    """Jitter, shimmer and harmonics-to-noise ratio of a speaker from the voiced ``stretches``
    and voiced-frame ``hnr`` values under their words (``frames`` frames of 20 ms).

    Jitter and shimmer are the stretches' values weighted by their periods, a mean as Praat's
    are (a mean over the periods of a selection, where a voice break ends a comparison
    anyway): each period counts once, so a short stretch at a voice onset counts as little as
    it lasts. On whole AMI excerpts this came within 8% (jitter) and 20% (shimmer, where one
    Praat query lets the loud periods weigh more) of one Praat query over every stretch. A
    median of the stretches was no steadier on subsets of a speaker's stretches and sits
    below Praat's figure, since the irregular stretches it leaves out are what jitter
    measures. HNR is the mean over voiced frames, as the voice report averages its voiced
    frames.
    """
    speech_s = frames * HOP_S
    periods = sum(s.periods for s in stretches)
    voiced_s = sum(s.end - s.start for s in stretches)
    reasons = []
    jitter = shimmer = None
    if periods >= MIN_PERIODS:
        jitter = round(sum(s.jitter_percent * s.periods for s in stretches) / periods, 3)
        shimmer = round(sum(s.shimmer_percent * s.periods for s in stretches) / periods, 3)
    else:
        reasons.append(
            f"jitter and shimmer: {periods} glottal periods measured, under {MIN_PERIODS}"
        )
    hnr_db = None
    if hnr.size >= MIN_HNR_FRAMES:
        hnr_db = round(float(np.mean(hnr)), 2)
    else:
        reasons.append(
            f"harmonics-to-noise ratio: {hnr.size} voiced frames measured, under {MIN_HNR_FRAMES}"
        )
    return VoiceMeasures(
        jitter_local_percent=jitter,
        shimmer_local_percent=shimmer,
        hnr_db=hnr_db,
        periods=periods,
        stretches=len(stretches),
        voiced_s=round(voiced_s, 3),
        coverage=_share(voiced_s, speech_s),
        hnr_frames=int(hnr.size),
        hnr_coverage=_share(hnr.size, frames),
        cannot_assess="; ".join(reasons) or None,
        method=praat.METHOD + "; jitter and shimmer: voiced stretches under the words, "
        "weighted by their periods; HNR: mean over the voiced 20 ms frames under the words",
    )


def _share(part: float, whole: float) -> float:
    return round(min(1.0, part / whole), 4) if whole > 0 else 0.0


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
        not_measured="clinical comparisons: jitter, shimmer and harmonics-to-noise ratio are "
        "measured per speaker (voice) on connected speech as recorded, not on the sustained "
        "vowels that clinical norms come from, so no norm or threshold is applied",
    )


def hist_percentile(hist: NDArray[Any], percentile: float) -> float:
    cumulative = np.cumsum(hist)
    rank = percentile / 100 * (cumulative[-1] - 1)
    return DB_FLOOR + float(np.searchsorted(cumulative, rank, side="right"))
