"""Where someone speaks: speech regions for the speaker separation.

Whisper's own voice detection (Silero at 0.5) is tuned to keep hallucinations out of the
transcript. Telling speakers apart needs more of the speech, quiet and far-field speech
included: on the real AMI meeting excerpts Silero's speech probability reaches 0.5 on 67% of
the annotated speech frames but 0.1 on 82%, while only 2.8% of the frames without speech pass
0.1. Regions are therefore cut at a low threshold with hysteresis; a window's mean
probability (its *clarity*) then says how much its embedding can be trusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .voice import SAMPLE_RATE

SILERO_SAMPLES = 512
SILERO_FRAME_S = SILERO_SAMPLES / SAMPLE_RATE  # 32 ms
# Speech starts where the probability reaches 0.1 and ends where it falls under 0.05.
REGION_ON = 0.1
REGION_OFF = 0.05
# Runs shorter than 0.25 s are clicks and breaths; each region gets 0.1 s on each side, as
# Whisper's own VAD pads its speech. Gaps shorter than a pause (the caller passes the
# setting speech_min_pause_s) do not end a region.
MIN_SPEECH_S = 0.25
PAD_S = 0.1


def silero_probabilities(vad_model: Any, x: NDArray[np.float32]) -> NDArray[np.float32]:
    """Silero's speech probability for every 32 ms of ``x`` (the last partial frame padded)."""
    if x.size == 0:
        return np.zeros(0, dtype=np.float32)
    padded = np.pad(x, (0, -x.size % SILERO_SAMPLES))
    return np.asarray(vad_model(padded), dtype=np.float32).reshape(-1)


def regions(
    probabilities: NDArray[Any],
    frame_s: float,
    *,
    on: float = REGION_ON,
    off: float = REGION_OFF,
    min_silence_s: float,
    min_speech_s: float = MIN_SPEECH_S,
    pad_s: float = PAD_S,
    duration_s: float | None = None,
) -> list[tuple[float, float]]:
    """Speech regions (start, end) in seconds from frame probabilities, with hysteresis: a
    region opens at ``on`` and closes under ``off``; gaps shorter than ``min_silence_s`` are
    bridged, regions shorter than ``min_speech_s`` dropped, the rest padded by ``pad_s``."""
    runs: list[list[float]] = []
    active = False
    for i, p in enumerate(np.asarray(probabilities, dtype=np.float64)):
        if not active and p >= on:
            runs.append([i * frame_s, (i + 1) * frame_s])
            active = True
        elif active and p >= off:
            runs[-1][1] = (i + 1) * frame_s
        else:
            active = False
    merged: list[list[float]] = []
    for run in runs:
        if merged and run[0] - merged[-1][1] < min_silence_s:
            merged[-1][1] = run[1]
        else:
            merged.append(run)
    end_limit = duration_s if duration_s is not None else len(probabilities) * frame_s
    out: list[tuple[float, float]] = []
    for start, end in merged:
        if end - start < min_speech_s:
            continue
        start, end = max(0.0, start - pad_s), min(end_limit, end + pad_s)
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def mean_over(probabilities: NDArray[Any], frame_s: float, start: float, end: float) -> float:
    """Mean probability over the frames of [start, end) (seconds from frame 0)."""
    a = max(0, int(start / frame_s))
    b = max(a + 1, int(np.ceil(end / frame_s)))
    values = probabilities[a:b]
    return float(values.mean()) if values.size else 0.0


def union(*spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The time covered by any of ``spans`` (lists of (start, end)), as sorted disjoint spans."""
    out: list[tuple[float, float]] = []
    for start, end in sorted(span for group in spans for span in group):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(end, out[-1][1]))
        else:
            out.append((start, end))
    return out


def shift(spans: Sequence[tuple[float, float]], offset: float) -> list[tuple[float, float]]:
    """Spans moved by ``offset`` seconds and rounded, as they travel in a part's data."""
    return [(round(s + offset, 3), round(e + offset, 3)) for s, e in spans]
