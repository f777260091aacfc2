"""Speaker embeddings of speech windows with CAM++ (3D-Speaker), run by onnxruntime.

``SpeakerEmbedder.embed`` turns windows of a 16 kHz signal into L2-normalised 192-dim vectors:
close for two windows of one voice, apart for two voices. Which windows to embed is the
caller's choice; :func:`plan_windows` gives the usual one (1.5 s every 0.75 s over speech).
Features are those 3D-Speaker trained on: Kaldi fbank (80 bins, 25 ms / 10 ms frames, povey
window, dither 0) of the window, minus its mean over time. The ONNX graph is built at install
time from the original weights (``video_analysis/models/campplus.py``); neither PyTorch nor
TensorFlow is imported.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from importlib import import_module
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from ..errors import MissingExtra
from ..models import model_info, model_path, record_loaded
from ..models.campplus import EMBEDDING_DIM, FEATURE_DIM, INPUT_NAME, OUTPUT_NAME, SAMPLE_RATE
from ..models.runtime import onnx_session
from ..schemas import ModelInfo
from ..settings import Settings

MODEL_NAME = "campplus-speaker"
MODEL_FILE = "model.onnx"
# Shorter windows carry too little voice for a stable embedding (3D-Speaker's own diarization
# recipe embeds 1.5 s windows); the caller decides what to do with shorter speech.
MIN_WINDOW_S = 0.5
WINDOW_S = 1.5
STEP_S = 0.75
# Kaldi framing (snip_edges): 25 ms frames every 10 ms.
FRAME_LENGTH = 400
FRAME_SHIFT = 160
# Windows run together in one call up to this many. Measured here on AMI (1.5 s windows, one
# thread, CPU time per second of audio): batch 1 20.3 ms, 4 16.8 ms, 16 16.7 ms; peak RSS 151,
# 168 and 256 MB. Beyond 4 only memory grows.
DEFAULT_MAX_BATCH = 4


def plan_windows(
    regions: Sequence[tuple[float, float]],
    window_s: float = WINDOW_S,
    step_s: float = STEP_S,
    min_s: float = MIN_WINDOW_S,
) -> list[tuple[float, float]]:
    """Windows (start, end) in seconds covering each speech region, in region order.

    Windows of ``window_s`` start every ``step_s``; the last window of a region ends at the
    region's end, so no speech is left out. A region shorter than ``window_s`` but at least
    ``min_s`` long is one window of its own length; a shorter one gets none.
    """
    if not 0 < min_s <= window_s or step_s <= 0:
        raise ValueError(
            f"need 0 < min_s <= window_s and step_s > 0, got {min_s}, {window_s}, {step_s}"
        )
    tolerance = 1e-6  # seconds: float sums of steps must not add a sliver of a window
    windows: list[tuple[float, float]] = []
    for start, end in regions:
        if end < start:
            raise ValueError(f"region ends before it starts: ({start}, {end})")
        if end - start < min_s - tolerance:
            continue
        if end - start <= window_s + tolerance:
            windows.append((start, end))
            continue
        k = 0
        while start + k * step_s + window_s <= end + tolerance:
            windows.append((start + k * step_s, start + k * step_s + window_s))
            k += 1
        if windows[-1][1] < end - tolerance:
            windows.append((end - window_s, end))
    return windows


def fbank(samples: NDArray[np.float32]) -> NDArray[np.float32]:
    """3D-Speaker's features of ``samples`` (16 kHz, [-1, 1]): (frames, 80), mean-normalised."""
    knf = _kaldi_native_fbank()
    options = knf.FbankOptions()
    options.frame_opts.samp_freq = SAMPLE_RATE
    options.frame_opts.dither = 0.0  # kaldi-native-fbank's default is 3e-5; 3D-Speaker uses 0
    options.mel_opts.num_bins = FEATURE_DIM
    online = knf.OnlineFbank(options)
    online.accept_waveform(SAMPLE_RATE, samples)
    online.input_finished()
    feats = np.stack([online.get_frame(i) for i in range(online.num_frames_ready)])
    return np.asarray(feats - feats.mean(axis=0, keepdims=True), dtype=np.float32)


def _kaldi_native_fbank() -> Any:
    try:
        return import_module("kaldi_native_fbank")
    except ImportError as exc:
        raise MissingExtra("kaldi-native-fbank", "speech") from exc


class SpeakerEmbedder:
    """CAM++ embeddings of windows of speech. ``load`` once per process; ``embed`` per call.

    ``threads`` is onnxruntime's intra-op thread count. Safe to call from several threads.
    """

    model_name: ClassVar[str] = MODEL_NAME

    def __init__(
        self,
        settings: Settings,
        *,
        threads: int = 1,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        if threads < 1 or max_batch < 1:
            raise ValueError(f"threads and max_batch must be >= 1, got {threads}, {max_batch}")
        self._settings = settings
        self._threads = threads
        self._max_batch = max_batch
        self._session: Any = None
        self._load_lock = threading.Lock()

    @property
    def model_info(self) -> ModelInfo:
        return model_info(self._settings, MODEL_NAME)

    def load(self) -> None:
        """Open the installed graph; raises ModelNotAvailable (with the command that installs
        it) or MissingExtra (naming the ``speech`` extra)."""
        with self._load_lock:
            if self._session is not None:
                return
            started = time.monotonic()
            # The weights first: a missing install fails at once with its fix.
            path = model_path(self._settings, MODEL_NAME) / MODEL_FILE
            try:
                onnxruntime = import_module("onnxruntime")
            except ImportError as exc:
                raise MissingExtra("onnxruntime", "speech") from exc
            _kaldi_native_fbank()
            session = onnx_session(onnxruntime, path, threads=self._threads)
            self._session = session
            record_loaded(MODEL_NAME, load_time_s=time.monotonic() - started, device="cpu")

    def embed(
        self, samples: NDArray[np.float32], windows: Sequence[tuple[float, float]]
    ) -> NDArray[np.float32]:
        """L2-normalised embeddings, shape (len(windows), 192), in the order of ``windows``.

        ``samples`` is mono 16 kHz in [-1, 1]; ``windows`` are (start, end) in seconds from
        ``samples[0]``. Windows shorter than 0.5 s or outside ``samples`` raise ValueError.
        Windows with the same number of frames run together in batches.
        """
        if self._session is None:
            self.load()
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        if not np.isfinite(x).all():  # one NaN would make every window it touches NaN
            x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
        spans = [self._span(x.size, start, end) for start, end in windows]
        out = np.zeros((len(spans), EMBEDDING_DIM), dtype=np.float32)
        by_frames: dict[int, list[int]] = {}
        for index, (first, last) in enumerate(spans):
            frames = 1 + (last - first - FRAME_LENGTH) // FRAME_SHIFT
            by_frames.setdefault(frames, []).append(index)
        for indices in by_frames.values():
            for batch_start in range(0, len(indices), self._max_batch):
                batch = indices[batch_start : batch_start + self._max_batch]
                feats = np.stack([fbank(x[spans[i][0] : spans[i][1]]) for i in batch])
                (raw,) = self._session.run([OUTPUT_NAME], {INPUT_NAME: feats})
                out[batch] = raw
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.asarray(out / np.maximum(norms, 1e-12), dtype=np.float32)

    @staticmethod
    def _span(size: int, start: float, end: float) -> tuple[int, int]:
        if end - start < MIN_WINDOW_S - 1e-6:
            raise ValueError(
                f"window ({start:.3f}, {end:.3f}) is shorter than {MIN_WINDOW_S} s; "
                "leave such speech out or merge it into a longer window"
            )
        first, last = round(start * SAMPLE_RATE), round(end * SAMPLE_RATE)
        if first < 0 or last > size:
            raise ValueError(
                f"window ({start:.3f}, {end:.3f}) lies outside the {size / SAMPLE_RATE:.3f} s "
                "of samples"
            )
        return first, last
