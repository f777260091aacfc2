"""Pitch, harmonics-to-noise ratio, jitter and shimmer of one chunk, with Praat (parselmouth).

Measured as Praat's own voice report measures them (``Sound_Pitch_PointProcess_voiceReport`` in
Praat's ``VoiceAnalysis.cpp``), so that the figures mean what they mean in speech science:

- one autocorrelation pitch analysis (``To Pitch (ac)``, Praat's standard settings and time
  step, 65-400 Hz) gives F0, and each voiced frame's autocorrelation peak ``r`` gives the
  harmonics-to-noise ratio, 10·log10(r / (1 - r)) dB (the voice report's "harmonicity of the
  voiced parts only");
- the glottal pulses are placed by cross-correlation along that pitch (``Sound & Pitch: To
  PointProcess (cc)``, exactly what ``To PointProcess (periodic, cc)`` does inside), and local
  jitter and shimmer are read from them with the voice report's period limits.

F0 and HNR are read on the chunk's 20 ms grid; jitter and shimmer are measured per voiced
stretch (a run of pulses without a voice break), since who speaks is only known in the join:
there each stretch goes to the speaker whose words cover it.

Praat's analysis is C code: a 30 s AMI excerpt took 0.05-0.1 s, with nothing to compile at
start (pYIN, which this replaces, took 0.95-1.0 s, and its numba compilation 21 s of the
speech worker's load with an empty numba cache; benchmarks/voice.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...schemas.parts import VoicedStretch

SAMPLE_RATE = 16_000
PITCH_FLOOR_HZ = 65.0
PITCH_CEILING_HZ = 400.0
# The voice report's limits on a period counted for jitter and shimmer, from the pitch range
# (VoiceAnalysis.cpp: pmin = 0.8 / ceiling, pmax = 1.25 / floor). A gap longer than the
# longest period is a voice break, where one voiced stretch ends.
MIN_PERIOD_S = 0.8 / PITCH_CEILING_HZ
MAX_PERIOD_S = 1.25 / PITCH_FLOOR_HZ
# Praat's standard values for jitter and shimmer (Voice 2. Jitter, Voice 3. Shimmer): two
# consecutive periods (peak amplitudes) differing by more than this factor are not compared.
MAX_PERIOD_FACTOR = 1.3
MAX_AMPLITUDE_FACTOR = 1.6
# Praat's jitter needs two periods (three pulses) to compare one pair.
MIN_STRETCH_PULSES = 3
# Pitch.cpp (Pitch_STRENGTH_UNIT_HARMONICS_NOISE_DB): r at or beyond these gives +-150 dB.
HNR_LIMIT_DB = 150.0
HNR_R_EPSILON = 1e-15
# Range a stretch's time window reaches past its first and last pulse: the neighbouring
# stretches' pulses are at least MAX_PERIOD_S away, so this only guards rounding.
PULSE_MARGIN_S = 0.001

METHOD = (
    "Praat (parselmouth) as its voice report: pitch by autocorrelation (To Pitch (ac), "
    f"{PITCH_FLOOR_HZ:.0f}-{PITCH_CEILING_HZ:.0f} Hz, standard settings); glottal pulses by "
    "cross-correlation (To PointProcess (cc)); jitter (local) and shimmer (local) with periods "
    f"of {MIN_PERIOD_S * 1000:.0f}-{MAX_PERIOD_S * 1000:.1f} ms, period factor "
    f"{MAX_PERIOD_FACTOR}, amplitude factor {MAX_AMPLITUDE_FACTOR}; HNR = 10·log10(r/(1-r)) "
    "of each voiced frame's autocorrelation peak r"
)


@dataclass(frozen=True)
class ChunkVoice:
    """What Praat measured in one chunk: F0 and HNR on the 20 ms grid (NaN where unvoiced)
    and the voiced stretches inside speech, in video time."""

    f0: NDArray[np.float64]
    hnr_db: NDArray[np.float64]
    stretches: list[VoicedStretch]

    @property
    def voiced(self) -> NDArray[np.bool_]:
        return np.isfinite(self.f0)


def measure(
    parselmouth: Any,
    x: NDArray[np.float32],
    *,
    frames: int,
    hop_s: float,
    offset: float,
    speech: list[tuple[float, float]],
) -> ChunkVoice:
    """F0 and HNR on ``frames`` grid points ``hop_s`` apart (frame k at k·hop_s from the chunk's
    start), and jitter and shimmer of each voiced stretch whose middle lies in ``speech``
    (seconds from the chunk's start); ``offset`` puts the stretches in video time."""
    empty = np.full(frames, np.nan)
    if x.size < SAMPLE_RATE * 3 / PITCH_FLOOR_HZ:
        # Shorter than Praat's analysis window (three periods of the floor): nothing to measure.
        return ChunkVoice(f0=empty, hnr_db=empty.copy(), stretches=[])
    sound = parselmouth.Sound(np.asarray(x, dtype=np.float64), SAMPLE_RATE)
    # Praat's own time step (0.75 / floor, 11.5 ms), not the grid's: the pulses are then placed
    # along the very pitch that "To PointProcess (periodic, cc)" uses, and F0 and HNR are read
    # at the grid's times from it.
    pitch = sound.to_pitch_ac(pitch_floor=PITCH_FLOOR_HZ, pitch_ceiling=PITCH_CEILING_HZ)
    selected = pitch.selected_array
    frequency = np.where(selected["frequency"] > 0, selected["frequency"], np.nan)
    strength = np.where(np.isfinite(frequency), selected["strength"], np.nan)
    grid = np.arange(frames) * hop_s
    f0 = on_grid(grid, pitch.t1, pitch.dt, frequency)
    hnr = on_grid(grid, pitch.t1, pitch.dt, hnr_db(strength))
    call = parselmouth.praat.call
    pulses = call([sound, pitch], "To PointProcess (cc)")
    # Praat makes no Matrix of an empty PointProcess (a chunk with nothing voiced).
    times = (
        call(pulses, "To Matrix").values.reshape(-1)
        if call(pulses, "Get number of points")
        else np.zeros(0)
    )
    stretches = [
        stretch
        for first, last in pulse_runs(times)
        if inside((times[first] + times[last]) / 2, speech)
        and (stretch := _stretch(parselmouth, sound, pulses, times[first], times[last], offset))
    ]
    return ChunkVoice(f0=f0, hnr_db=hnr, stretches=stretches)


def on_grid(
    grid: NDArray[np.float64], t1: float, dt: float, values: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Frame ``values`` (NaN where undefined; frame i at ``t1 + i·dt``) read at the ``grid``
    times as Praat's ``Get value at time`` (linear) reads them: the nearest frame decides
    whether there is a value, and a defined neighbour on the other side is interpolated.

    Praat centres its frames on the sound, so the first one (``t1``) falls anywhere within a
    frame of the chunk's start, and its time step is not the grid's.
    """
    if values.size == 0:
        return np.full(grid.size, np.nan)
    position = (grid - t1) / dt
    left = np.floor(position).astype(np.int64)
    phase = position - left
    nearer_left = phase < 0.5
    near = np.where(nearer_left, left, left + 1)
    far = np.where(nearer_left, left + 1, left)
    weight = np.where(nearer_left, phase, 1.0 - phase)
    inside_near = (near >= 0) & (near < values.size)
    near_value = np.full(grid.size, np.nan)
    near_value[inside_near] = values[near[inside_near]]
    inside_far = (far >= 0) & (far < values.size)
    far_value = np.full(grid.size, np.nan)
    far_value[inside_far] = values[far[inside_far]]
    out: NDArray[np.float64] = np.where(
        np.isfinite(far_value), near_value + weight * (far_value - near_value), near_value
    )
    return out


def hnr_db(strength: NDArray[np.float64]) -> NDArray[np.float64]:
    """Harmonics-to-noise ratio in dB of autocorrelation peaks ``r`` (NaN stays NaN), as
    Praat's Pitch converts a frame's strength."""
    with np.errstate(divide="ignore", invalid="ignore"):
        db = 10.0 * np.log10(strength / (1.0 - strength))
    db = np.where(strength <= HNR_R_EPSILON, -HNR_LIMIT_DB, db)
    db = np.where(strength > 1.0 - HNR_R_EPSILON, HNR_LIMIT_DB, db)
    return np.where(np.isfinite(strength), db, np.nan)


def pulse_runs(times: NDArray[np.float64]) -> list[tuple[int, int]]:
    """(first, last) indices of each run of at least MIN_STRETCH_PULSES pulses with no gap
    longer than the longest period (a voice break, as the voice report counts them)."""
    if times.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(times) > MAX_PERIOD_S)
    firsts = np.concatenate([[0], breaks + 1])
    lasts = np.concatenate([breaks, [times.size - 1]])
    return [
        (int(a), int(b))
        for a, b in zip(firsts, lasts, strict=True)
        if b - a + 1 >= MIN_STRETCH_PULSES
    ]


def inside(t: float, spans: list[tuple[float, float]]) -> bool:
    return any(start <= t < end for start, end in spans)


def _stretch(
    parselmouth: Any, sound: Any, pulses: Any, first: float, last: float, offset: float
) -> VoicedStretch | None:
    """Local jitter and shimmer of the pulses from ``first`` to ``last`` (seconds from the
    chunk's start); None where Praat leaves either undefined (too few comparable periods)."""
    call = parselmouth.praat.call
    start, end = first - PULSE_MARGIN_S, last + PULSE_MARGIN_S
    periods = call(
        pulses, "Get number of periods", start, end, MIN_PERIOD_S, MAX_PERIOD_S, MAX_PERIOD_FACTOR
    )
    jitter = call(
        pulses, "Get jitter (local)", start, end, MIN_PERIOD_S, MAX_PERIOD_S, MAX_PERIOD_FACTOR
    )
    shimmer = call(
        [sound, pulses],
        "Get shimmer (local)",
        start,
        end,
        MIN_PERIOD_S,
        MAX_PERIOD_S,
        MAX_PERIOD_FACTOR,
        MAX_AMPLITUDE_FACTOR,
    )
    if not (periods >= 2 and math.isfinite(jitter) and math.isfinite(shimmer)):
        return None
    return VoicedStretch(
        start=round(offset + first, 3),
        end=round(offset + last, 3),
        periods=int(periods),
        jitter_percent=round(100 * jitter, 3),
        shimmer_percent=round(100 * shimmer, 3),
    )
