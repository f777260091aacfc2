"""Converting pyannote segmentation-3.0 at install time, and checking the result: the graph
that ``pyannote_segmentation.build_onnx`` writes is run with onnxruntime on signals made by a
formula, and its output compared with what PyTorch computed on them
(``scripts/segmentation_reference.py`` wrote ``pyannote_segmentation_reference.json`` beside
this module). A conversion that does not reproduce PyTorch is refused."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ModelNotAvailable
from .pyannote_segmentation import (
    EXTRA_HINT,
    INPUT_NAME,
    MAX_FILTER_ABS_DIFF,
    MAX_LOG_PROB_ABS_DIFF,
    OUTPUT_NAME,
    POWERSET,
    REFERENCE_FILE,
    SAMPLE_RATE,
    SINC_FILTERS,
    SINC_KERNEL,
    WINDOW_SAMPLES,
    build_onnx,
    check_architecture,
    filters_of,
    onnx_missing,
    read_checkpoint,
)
from .runtime import onnx_session


def _gate(t: NDArray[np.float64], start: float, end: float) -> NDArray[np.float64]:
    """1 between ``start`` and ``end`` seconds, 0 outside, with 50 ms soft edges."""
    return np.asarray(0.5 * (np.tanh((t - start) / 0.05) - np.tanh((t - end) / 0.05)))


def _voice(
    t: NDArray[np.float64], f0: float, glide_hz: float, glide_rate: float, formant: float
) -> NDArray[np.float64]:
    """A harmonic source whose pitch glides around ``f0``, shaped by one broad formant and a
    syllable-rate loudness envelope."""
    phase = 2 * np.pi * f0 * t - glide_hz / glide_rate * np.cos(2 * np.pi * glide_rate * t)
    x = np.zeros_like(t)
    for k in range(1, 30):
        weight = np.exp(-(((k * f0 - formant) / 600.0) ** 2)) + 0.2
        x += weight / k * np.sin(k * phase)
    return np.asarray(x * (0.55 - 0.45 * np.cos(2 * np.pi * (3.3 + 0.4 * f0 / 200.0) * t)))


def reference_signal(case: int) -> NDArray[np.float32]:
    """A 10 s, 16 kHz signal made by a formula: two voices that overlap for about 2 s, over
    a faint hiss of incommensurate tones. ``case`` 0 and 1 differ in timing and level.

    Must stay equal to the function of the same name in ``scripts/segmentation_reference.py``.
    """
    t = np.arange(WINDOW_SAMPLES, dtype=np.float64) / SAMPLE_RATE
    level = (0.1, 0.025)[case]
    a_on, a_off, b_on, b_off = ((0.6, 6.2, 4.1, 9.3), (2.3, 8.8, 0.4, 3.9))[case]
    x = _gate(t, a_on, a_off) * _voice(t, 118.0, 14.0, 0.7, 650.0)
    x += 0.8 * _gate(t, b_on, b_off) * _voice(t, 207.0, 30.0, 1.3, 900.0)
    hiss = np.zeros_like(t)
    for k in range(1, 41):
        hiss += np.sin(2 * np.pi * (173.0 * k**1.37) * t + 0.7 * k * k)
    x += 0.02 * hiss / np.sqrt(40.0)
    return np.asarray(level * x, dtype=np.float32)


@cache
def reference() -> dict[str, Any]:
    """PyTorch's output on the reference signals (``pyannote_segmentation_reference.json``,
    written by ``scripts/segmentation_reference.py``): the taps of some SincNet filters, every
    filter's norm, the log-probabilities of selected frames and every class's mean."""
    try:
        text = resources.files(__package__).joinpath(REFERENCE_FILE).read_text()
    except OSError as exc:
        raise ModelNotAvailable(
            f"{REFERENCE_FILE} is missing beside {__name__}; reinstall video-analysis"
        ) from exc
    data: dict[str, Any] = json.loads(text)
    return data


@dataclass(frozen=True)
class ReferenceResult:
    """How closely the conversion reproduced PyTorch's filters and log-probabilities."""

    filter_max_abs_diff: float
    log_prob_max_abs_diff: float
    # The same for the probabilities (exp of the log-probabilities), for people.
    prob_max_abs_diff: float

    @property
    def ok(self) -> bool:
        return (
            self.filter_max_abs_diff <= MAX_FILTER_ABS_DIFF
            and self.log_prob_max_abs_diff <= MAX_LOG_PROB_ABS_DIFF
        )


def compare_filters(filters: NDArray[np.floating[Any]]) -> float:
    """Largest absolute difference between ``filters`` (80, 251) and PyTorch's: the shipped
    taps of some filters and every filter's norm. ``inf`` for a wrong shape or a NaN."""
    ref = reference()
    got = np.asarray(filters, dtype=np.float64)
    if got.shape != (SINC_FILTERS, SINC_KERNEL) or not np.all(np.isfinite(got)):
        return float("inf")
    taps = np.asarray(ref["filters"], dtype=np.float64)
    norms = np.asarray(ref["filter_norms"], dtype=np.float64)
    diff_taps = np.abs(got[ref["filter_rows"]] - taps).max()
    diff_norms = np.abs(np.linalg.norm(got, axis=1) - norms).max()
    return float(max(diff_taps, diff_norms))


def compare_log_probs(log_probs: NDArray[np.floating[Any]]) -> tuple[float, float]:
    """Largest absolute difference of (log-probabilities, probabilities) between the output
    for the reference signals (cases, 589, 7) and PyTorch's: selected frames, and every
    class's mean over all frames. ``(inf, inf)`` for a wrong shape or a NaN."""
    ref = reference()
    got = np.asarray(log_probs, dtype=np.float64)
    shape = (len(ref["cases"]), ref["frames"], len(POWERSET))
    if got.shape != shape or not np.all(np.isfinite(got)):
        return float("inf"), float("inf")
    expected = np.asarray(ref["log_probs"], dtype=np.float64)
    selected = got[:, ref["selected_frames"]]
    means = np.asarray(ref["mean_log_probs"], dtype=np.float64)
    log_diff = max(np.abs(selected - expected).max(), np.abs(got.mean(axis=1) - means).max())
    prob_diff = np.abs(np.exp(selected) - np.exp(expected)).max()
    return float(log_diff), float(prob_diff)


def _session(model_file: Path, threads: int = 1) -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise ModelNotAvailable(
            f"checking the segmentation conversion needs onnxruntime; install it with: {EXTRA_HINT}"
        ) from exc
    try:
        return onnx_session(onnxruntime, model_file, threads=threads)
    except Exception as exc:  # onnxruntime raises its own untyped exceptions for a bad graph
        raise ModelNotAvailable(f"onnxruntime cannot load {model_file}: {exc}") from exc


def check_reference(model_file: Path, filters: NDArray[np.floating[Any]]) -> ReferenceResult:
    """Compare ``filters`` (from :func:`filters_of`) and the graph in ``model_file``, run by
    onnxruntime on the reference signals, with PyTorch's output.

    Returns the figures; raises :class:`ModelNotAvailable` when they exceed
    :data:`MAX_FILTER_ABS_DIFF` or :data:`MAX_LOG_PROB_ABS_DIFF`.
    """
    cases: Sequence[int] = reference()["cases"]
    signals = np.stack([reference_signal(case) for case in cases])
    (log_probs,) = _session(model_file).run([OUTPUT_NAME], {INPUT_NAME: signals})
    log_diff, prob_diff = compare_log_probs(log_probs)
    result = ReferenceResult(
        filter_max_abs_diff=compare_filters(filters),
        log_prob_max_abs_diff=log_diff,
        prob_max_abs_diff=prob_diff,
    )
    if not result.ok:
        raise ModelNotAvailable(
            "the converted segmentation graph does not reproduce the PyTorch reference "
            f"(filters: max abs diff {result.filter_max_abs_diff:.2e}, allowed "
            f"{MAX_FILTER_ABS_DIFF}; log-probabilities: {result.log_prob_max_abs_diff:.2e}, "
            f"allowed {MAX_LOG_PROB_ABS_DIFF})"
        )
    return result


def convert(weights: Path, dest: Path) -> ReferenceResult:
    """Read ``weights`` (pyannote's ``pytorch_model.bin``), write the ONNX graph to ``dest``,
    check it; return the reference figures. ``dest`` is left in place on failure: the caller
    owns its directory."""
    try:
        import onnx
    except ImportError as exc:
        raise onnx_missing() from exc
    checkpoint = read_checkpoint(weights)
    check_architecture(checkpoint)
    model = build_onnx(checkpoint.state)
    onnx.save_model(model, str(dest))
    return check_reference(dest, filters_of(checkpoint.state))
