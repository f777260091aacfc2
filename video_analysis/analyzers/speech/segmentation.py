"""Where speech is and where two people talk at once: pyannote segmentation-3.0, by onnxruntime.

The model looks at 10 s of 16 kHz audio and gives, every 16.875 ms, the probability of each
*powerset* class: nobody, one of up to three local speakers, or two of them at once
(``video_analysis/models/pyannote_segmentation.py`` builds its ONNX graph at install time).
:class:`SpeechSegmenter` slides that 10 s window over a signal of any length, turns each
window's classes into P(speech) = P(at least one speaker) and P(overlap) = P(two speakers),
which do not depend on the window's arbitrary order of its local speakers, and averages
overlapping windows frame by frame, weighting each window's frames by a Hamming window as
pyannote does (a frame near a window's edge has little context on one side).
:func:`regions` cuts the result into speech or overlap regions with hysteresis.

Why not Silero (faster-whisper's VAD) for this: on far-field meeting speech it misses a quarter
of the speech at thresholds that keep its false alarms as low (see :data:`SPEECH_ON`), and it
cannot say where two people speak at once.
Neither PyTorch nor TensorFlow is imported.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ...errors import MissingExtra
from ...models.pyannote_segmentation import (
    FIRST_FRAME_CENTRE_S,
    FRAME_STEP_SAMPLES,
    INPUT_NAME,
    LOCAL_SPEAKERS,
    OUTPUT_NAME,
    POWERSET,
    SAMPLE_RATE,
    WINDOW_SAMPLES,
    num_frames,
)
from ...models.runtime import onnx_session

MODEL_NAME = "pyannote-segmentation"
MODEL_FILE = "model.onnx"
WINDOW_FRAMES = num_frames(WINDOW_SAMPLES)  # 589
FRAME_S = FRAME_STEP_SAMPLES / SAMPLE_RATE  # 16.875 ms
# Step between windows. pyannote's pipeline uses 1 s (10 % of the window). Measured on the AMI
# excerpts (benchmarks/speech_activity.py; one thread, CPU time per second of audio, on a
# shared machine): 1 s costs 19.6 ms, 2.5 s 7.7 ms, 5 s 3.9 ms, and the three detect speech
# and overlap alike (recall and false alarms within 2 points of each other, in no consistent
# direction, on 150 s of held-out and 300 s of train excerpts). 2.5 s keeps 4 views of every
# frame for 40 % of pyannote's cost.
DEFAULT_STEP_S = 2.5
# Windows run together in one call up to this many (the LSTM runs faster on a batch): at a
# 2.5 s step, batch 1 took 9.7 ms of CPU per second of audio, 4 7.7 ms, 8 and 16 7.6 ms, for
# a peak RSS of 141, 212, 325 and 531 MB.
DEFAULT_MAX_BATCH = 4

# Speech regions open at P(speech) >= 0.6 and close under 0.5; gaps under 0.1 s are bridged,
# then regions under 0.1 s dropped. Measured frame by frame against the RTTM turns (recall /
# false-alarm rate): on the held-out AMI excerpts (dev/test meetings the model was not
# trained on) 0.953 / 0.092, on the train ones 0.899 / 0.017; opening at 0.5 and closing
# under 0.35 adds a point of recall for 4 more points of false alarms. Silero at 0.2 finds
# 0.727 / 0.012 and 0.764 / 0.007, at 0.1 0.792 / 0.022 and 0.821 / 0.028. Most false alarms
# are short gaps between two turns bridged by the model.
SPEECH_ON = 0.6
SPEECH_OFF = 0.5
MIN_SPEECH_S = 0.1
MIN_SILENCE_S = 0.1
# For telling speakers apart the regions open lower: a window's clarity, not the region,
# decides whether its voice may found a speaker, and quiet far-field speech left out of every
# region is given to nobody. In union with Silero's regions, on the nine AMI excerpts (speech
# recall / false alarms, frame by frame; speaker count exact; single-speaker time right):
# 0.6/0.5 0.938 / 0.073, 6 of 9 counts, trn08 0.84; 0.4/0.3 0.947 / 0.089, 7 of 9, trn08
# 0.93; 0.3/0.2 0.966 / 0.142 (nearly twice the false alarms, talk time given to silence).
SPEAKER_SPEECH_ON = 0.4
SPEAKER_SPEECH_OFF = 0.3
# Overlap regions: P(two speakers) >= 0.5, no hysteresis (overlap is marked, not guessed),
# gaps under 0.1 s bridged, at least 0.1 s. Precision / recall of overlapped frames: held-out
# 0.937 / 0.523, train 0.988 / 0.417; closing under 0.4 instead gives 0.850 / 0.559 held-out,
# opening at 0.4 0.830 / 0.626. Overlaps shorter than 1 s are mostly missed (recall 0.29
# held-out, 0.14 train), longer ones about half (0.59, 0.47).
OVERLAP_ON = 0.5
OVERLAP_OFF = 0.5
MIN_OVERLAP_S = 0.1
MIN_OVERLAP_GAP_S = 0.1

# Which powerset classes have at least one, and exactly two, speakers; and each local speaker.
_SPEECH_CLASSES = [k for k, group in enumerate(POWERSET) if group]
_OVERLAP_CLASSES = [k for k, group in enumerate(POWERSET) if len(group) == 2]
_SPEAKER_OF_CLASS = np.array(
    [[float(s in group) for s in range(LOCAL_SPEAKERS)] for group in POWERSET], dtype=np.float32
)


@dataclass(frozen=True)
class SpeechActivity:
    """Frame-wise speech and overlap probabilities of a signal.

    Frame ``i`` is centred at ``start_s + i * frame_s`` seconds from the first sample (the
    centre of the ~62 ms the model looked at; frames step by ``frame_s`` = 16.875 ms) and
    there is one for every centre inside the signal. ``speech`` is P(at least one person
    speaks), ``overlap`` P(two people speak at once), each averaged over the windows that saw
    the frame.

    ``speakers`` holds, per window, P(local speaker k speaks) for its three local speakers
    (shape (windows, 589, 3); window ``w`` starts at ``window_starts_s[w]``, its frame ``j``
    is frame ``window_starts_s[w] / frame_s + j`` of the signal). The order of the local
    speakers is arbitrary and differs between windows, so these are not averaged: they are
    for a caller that matches speakers across windows (e.g. with speaker embeddings).
    """

    frame_s: float
    start_s: float
    duration_s: float
    speech: NDArray[np.float32]
    overlap: NDArray[np.float32]
    window_starts_s: NDArray[np.float64]
    speakers: NDArray[np.float32]

    @property
    def times_s(self) -> NDArray[np.float64]:
        """The centre of every frame, in seconds."""
        return self.start_s + self.frame_s * np.arange(self.speech.size, dtype=np.float64)

    def mean_speech(self, start: float, end: float) -> float:
        """Mean P(speech) of the frames centred in [start, end) (seconds); 0.0 for none."""
        first = max(0, int(np.ceil((start - self.start_s) / self.frame_s)))
        last = max(first, int(np.ceil((end - self.start_s) / self.frame_s)))
        values = self.speech[first:last]
        return float(values.mean()) if values.size else 0.0


def frame_count(samples: int) -> int:
    """Frames of a signal of ``samples`` samples: one for every frame centre inside it."""
    first_centre = round(FIRST_FRAME_CENTRE_S * SAMPLE_RATE)
    return max(0, -(-(samples - first_centre) // FRAME_STEP_SAMPLES))  # ceil division


def window_starts(samples: int, step_samples: int) -> list[int]:
    """First sample of every 10 s window over ``samples`` samples, ``step_samples`` apart.

    Windows go on until one has a frame centred on every frame of the signal (the last
    window's tail, past the signal's end, is zeros); a signal of up to 9.95 s gets one
    window. Nothing for a signal too short to have a frame.
    """
    frames = frame_count(samples)
    if frames == 0:
        return []
    if frames <= WINDOW_FRAMES:
        return [0]
    step_frames = step_samples // FRAME_STEP_SAMPLES
    count = -(-(frames - WINDOW_FRAMES) // step_frames) + 1  # ceil division
    return [k * step_samples for k in range(count)]


class SpeechSegmenter:
    """Speech and overlap probabilities of 16 kHz signals. ``load`` once; ``activity`` per call.

    ``model_file`` is the ONNX graph of segmentation-3.0; ``threads`` onnxruntime's intra-op
    thread count; ``step_s`` the step between 10 s windows (rounded to whole frames);
    ``max_batch`` how many windows run together. Safe to call from several threads.
    """

    def __init__(
        self,
        model_file: Path,
        threads: int = 1,
        *,
        step_s: float = DEFAULT_STEP_S,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        if threads < 1 or max_batch < 1:
            raise ValueError(f"threads and max_batch must be >= 1, got {threads}, {max_batch}")
        step_frames = round(step_s / FRAME_S)
        if not 1 <= step_frames <= WINDOW_FRAMES:
            raise ValueError(f"step_s must be between {FRAME_S} and 10 s, got {step_s}")
        self._model_file = model_file
        self._threads = threads
        self._max_batch = max_batch
        # Window starts on the frame grid, so every window's frames fall on the signal's frames.
        self._step_samples = step_frames * FRAME_STEP_SAMPLES
        self._session: Any = None
        self._load_lock = threading.Lock()

    @property
    def step_s(self) -> float:
        return self._step_samples / SAMPLE_RATE

    def load(self) -> None:
        """Open the graph; raises MissingExtra (naming the ``speech`` extra) without
        onnxruntime."""
        with self._load_lock:
            if self._session is not None:
                return
            try:
                onnxruntime = import_module("onnxruntime")
            except ImportError as exc:
                raise MissingExtra("onnxruntime", "speech") from exc
            self._session = onnx_session(onnxruntime, self._model_file, threads=self._threads)

    def activity(self, samples: NDArray[np.float32]) -> SpeechActivity:
        """Speech and overlap probabilities of ``samples`` (mono, 16 kHz, [-1, 1])."""
        if self._session is None:
            self.load()
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        if not np.isfinite(x).all():  # one NaN would make every window it touches NaN
            x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
        starts = window_starts(x.size, self._step_samples)
        frames = frame_count(x.size)
        speakers = np.zeros((len(starts), WINDOW_FRAMES, LOCAL_SPEAKERS), dtype=np.float32)
        total = (starts[-1] // FRAME_STEP_SAMPLES + WINDOW_FRAMES) if starts else 0
        weight_sum = np.zeros(total, dtype=np.float64)
        speech_sum = np.zeros(total, dtype=np.float64)
        overlap_sum = np.zeros(total, dtype=np.float64)
        weights = np.hamming(WINDOW_FRAMES)
        for first in range(0, len(starts), self._max_batch):
            batch_starts = starts[first : first + self._max_batch]
            batch = np.zeros((len(batch_starts), WINDOW_SAMPLES), dtype=np.float32)
            for row, start in enumerate(batch_starts):
                chunk = x[start : start + WINDOW_SAMPLES]
                batch[row, : chunk.size] = chunk
            (log_probs,) = self._session.run([OUTPUT_NAME], {INPUT_NAME: batch})
            probs = np.exp(np.asarray(log_probs, dtype=np.float64))
            speakers[first : first + len(batch_starts)] = probs @ _SPEAKER_OF_CLASS
            for row, start in enumerate(batch_starts):
                at = slice(start // FRAME_STEP_SAMPLES, start // FRAME_STEP_SAMPLES + WINDOW_FRAMES)
                weight_sum[at] += weights
                speech_sum[at] += weights * probs[row][:, _SPEECH_CLASSES].sum(axis=1)
                overlap_sum[at] += weights * probs[row][:, _OVERLAP_CLASSES].sum(axis=1)
        covered = weight_sum[:frames]  # every frame has a window (window_starts), weight > 0
        return SpeechActivity(
            frame_s=FRAME_S,
            start_s=FIRST_FRAME_CENTRE_S,
            duration_s=x.size / SAMPLE_RATE,
            speech=np.asarray(speech_sum[:frames] / covered, dtype=np.float32),
            overlap=np.asarray(overlap_sum[:frames] / covered, dtype=np.float32),
            window_starts_s=np.asarray(starts, dtype=np.float64) / SAMPLE_RATE,
            speakers=speakers,
        )


def regions(
    activity: SpeechActivity,
    threshold_on: float = SPEECH_ON,
    threshold_off: float = SPEECH_OFF,
    min_speech_s: float = MIN_SPEECH_S,
    min_silence_s: float = MIN_SILENCE_S,
    *,
    track: Literal["speech", "overlap"] = "speech",
) -> list[tuple[float, float]]:
    """Regions (start, end) in seconds where ``track`` is on, with hysteresis.

    A region opens at a frame whose probability is at least ``threshold_on`` and lasts while
    it stays at least ``threshold_off``; each frame counts for ``frame_s`` around its centre.
    Gaps shorter than ``min_silence_s`` are bridged, then regions shorter than
    ``min_speech_s`` dropped. For overlap pass ``track="overlap"`` (see
    :func:`overlap_regions` for the measured thresholds).
    """
    if not 0 <= threshold_off <= threshold_on <= 1:
        raise ValueError(
            f"need 0 <= threshold_off <= threshold_on <= 1, got {threshold_off}, {threshold_on}"
        )
    probabilities = activity.speech if track == "speech" else activity.overlap
    runs: list[list[int]] = []  # [first frame, last frame + 1]
    active = False
    for i, p in enumerate(probabilities.tolist()):
        if active and p >= threshold_off:
            runs[-1][1] = i + 1
        elif p >= threshold_on:
            if not active:
                runs.append([i, i + 1])
            active = True
        else:
            active = False
    half = activity.frame_s / 2
    spans = [
        (
            max(0.0, activity.start_s + first * activity.frame_s - half),
            min(activity.duration_s, activity.start_s + (last - 1) * activity.frame_s + half),
        )
        for first, last in runs
    ]
    merged: list[tuple[float, float]] = []
    for start, end in spans:
        if merged and start - merged[-1][1] < min_silence_s:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return [(start, end) for start, end in merged if end - start >= min_speech_s]


def speech_regions(activity: SpeechActivity) -> list[tuple[float, float]]:
    """Speech regions with the measured defaults (:data:`SPEECH_ON` and the rest)."""
    return regions(activity, SPEECH_ON, SPEECH_OFF, MIN_SPEECH_S, MIN_SILENCE_S)


def speaker_regions(activity: SpeechActivity) -> list[tuple[float, float]]:
    """Speech regions for telling speakers apart (:data:`SPEAKER_SPEECH_ON` and the rest)."""
    return regions(activity, SPEAKER_SPEECH_ON, SPEAKER_SPEECH_OFF, MIN_SPEECH_S, MIN_SILENCE_S)


def overlap_regions(activity: SpeechActivity) -> list[tuple[float, float]]:
    """Where two people speak at once, with the measured defaults (:data:`OVERLAP_ON`...)."""
    return regions(
        activity, OVERLAP_ON, OVERLAP_OFF, MIN_OVERLAP_S, MIN_OVERLAP_GAP_S, track="overlap"
    )
