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
    """Silero's speech probability for every 32 ms of ``x``, padded as faster-whisper pads it
    (always by up to a whole frame), so that :func:`speech_chunks` of these equals its
    ``get_speech_timestamps`` of ``x``: one Silero pass per chunk serves both."""
    if x.size == 0:
        return np.zeros(0, dtype=np.float32)
    padded = np.pad(x, (0, SILERO_SAMPLES - x.size % SILERO_SAMPLES))
    return np.asarray(vad_model(padded), dtype=np.float32).reshape(-1)


def speech_chunks(
    probabilities: NDArray[Any], n_samples: int, options: Any, sample_rate: int = SAMPLE_RATE
) -> list[dict[str, int]]:
    """Whisper's speech chunks ({"start", "end"} in samples) from Silero's probabilities.

    faster-whisper 1.2.1's ``vad.get_speech_timestamps`` (MIT), line for line, without its own
    Silero pass: it runs the model inside, so the speaker path, the language detection and
    ``transcribe`` each ran it again on the same chunk. ``options`` is its ``VadOptions``;
    ``tests/unit/test_recognition.py`` checks that both give the same chunks on real speech.
    """
    window = SILERO_SAMPLES
    threshold = options.threshold
    neg_threshold = options.neg_threshold
    if neg_threshold is None:
        neg_threshold = max(threshold - 0.15, 0.01)
    min_speech_samples = sample_rate * options.min_speech_duration_ms / 1000
    pad_samples = sample_rate * options.speech_pad_ms / 1000
    max_speech_samples = sample_rate * options.max_speech_duration_s - window - 2 * pad_samples
    min_silence_samples = sample_rate * options.min_silence_duration_ms / 1000
    min_silence_samples_at_max_speech = sample_rate * 98 / 1000

    triggered = False
    speeches: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    temp_end = 0
    prev_end = next_start = 0
    for i, p in enumerate(np.asarray(probabilities, dtype=np.float64)):
        at = window * i
        if p >= threshold and temp_end:
            temp_end = 0
            if next_start < prev_end:
                next_start = at
        if p >= threshold and not triggered:
            triggered = True
            current["start"] = at
            continue
        if triggered and at - current["start"] > max_speech_samples:
            if prev_end:
                current["end"] = prev_end
                speeches.append(current)
                current = {}
                if next_start < prev_end:
                    triggered = False
                else:
                    current["start"] = next_start
                prev_end = next_start = temp_end = 0
            else:
                current["end"] = at
                speeches.append(current)
                current = {}
                prev_end = next_start = temp_end = 0
                triggered = False
                continue
        if p < neg_threshold and triggered:
            if not temp_end:
                temp_end = at
            if at - temp_end > min_silence_samples_at_max_speech:
                prev_end = temp_end
            if at - temp_end < min_silence_samples:
                continue
            current["end"] = temp_end
            if current["end"] - current["start"] > min_speech_samples:
                speeches.append(current)
            current = {}
            prev_end = next_start = temp_end = 0
            triggered = False
            continue
    if current and n_samples - current["start"] > min_speech_samples:
        current["end"] = n_samples
        speeches.append(current)

    return _padded(speeches, pad_samples, n_samples)


def _padded(
    speeches: list[dict[str, Any]], pad_samples: float, n_samples: int
) -> list[dict[str, int]]:
    """``speeches`` widened by ``pad_samples`` each side, a silence shorter than two pads
    split between its neighbours (the end of faster-whisper's ``get_speech_timestamps``)."""
    for i, speech in enumerate(speeches):
        if i == 0:
            speech["start"] = int(max(0, speech["start"] - pad_samples))
        if i != len(speeches) - 1:
            silence = speeches[i + 1]["start"] - speech["end"]
            if silence < 2 * pad_samples:
                speech["end"] += int(silence // 2)
                speeches[i + 1]["start"] = int(max(0, speeches[i + 1]["start"] - silence // 2))
            else:
                speech["end"] = int(min(n_samples, speech["end"] + pad_samples))
                speeches[i + 1]["start"] = int(max(0, speeches[i + 1]["start"] - pad_samples))
        else:
            speech["end"] = int(min(n_samples, speech["end"] + pad_samples))
    return [{"start": int(s["start"]), "end": int(s["end"])} for s in speeches]


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
    values = _frames(probabilities, frame_s, start, end)
    return float(values.mean()) if values.size else 0.0


def max_over(probabilities: NDArray[Any], frame_s: float, start: float, end: float) -> float:
    """Highest probability over the frames of [start, end) (seconds from frame 0)."""
    values = _frames(probabilities, frame_s, start, end)
    return float(values.max()) if values.size else 0.0


def _frames(probabilities: NDArray[Any], frame_s: float, start: float, end: float) -> Any:
    """The frames of [start, end), at least the one ``start`` falls in."""
    a = max(0, int(start / frame_s))
    return probabilities[a : max(a + 1, int(np.ceil(end / frame_s)))]


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
