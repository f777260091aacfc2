"""Technical quality of the recording: lighting, sharpness, frozen or black video, audio level.

It has no model: the figures are classic signal measures (luma statistics, variance of the
Laplacian, RMS in dBFS). Per-part output keeps every figure with its timestamp so that
``summarize`` can work over batches analysed by different workers.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import cv2
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from .. import __version__
from ..schemas import MediaQuality, ModelInfo, PartSource
from ..schemas.parts import PartData, QualityAudioPart, QualityFrame, QualityFramesPart
from . import timeseries as ts
from .base import Analyzer, DecodedAudio, DecodedFrames, SummaryInput, WordsHook

# --- frames -------------------------------------------------------------------------------
# Blur is measured at a fixed size, so that it does not depend on the sampled resolution.
BLUR_SIDE = 640
# The thumbnail frame differences are taken on: small enough to average out sensor noise.
DIFF_SIDE = 64
# Black frame: mean luma at most 24 of 255 (limited-range black is 16, with some noise) and a
# flat picture (std at most 8), like ffmpeg's blackdetect default of 10% luma.
BLACK_MAX_LUMA = 24.0
BLACK_MAX_STD = 8.0
# Frozen frame: mean absolute luma change on the 64 px thumbnail below 0.05 levels, i.e. the
# same picture again. A still person in front of a webcam still changes more than that
# (breathing, blinking, sensor noise that JPEG keeps), a stalled camera repeats its frame.
FROZEN_MAX_DIFF = 0.05

# Median luma below 50 looks dark on any screen (well-lit webcam video sits around 100-150);
# above 205 faces wash out.
TOO_DARK_LUMA = 50.0
TOO_BRIGHT_LUMA = 205.0
# Luma std below 20: a flat, foggy picture (a well-lit face against a wall is 40-60).
LOW_CONTRAST_STD = 20.0
# Variance of the Laplacian at 640 px under 100 is the usual "blurry" threshold (Pech-Pacheco
# et al. 2000, popularised by pyimagesearch); in-focus webcam video is several hundred.
BLURRY_LAPLACIAN_VAR = 100.0
# More than 10% black frames is more than a fade at the start or end.
BLACK_FRAMES_RATIO = 0.10
# More than half of the frames repeated: the video froze, not a pause in movement.
FROZEN_VIDEO_RATIO = 0.5

# --- audio --------------------------------------------------------------------------------
WINDOW_S = 0.02  # 20 ms: the usual speech-analysis frame
# Every level is floored here: digital silence must give a number, not -inf or NaN.
DB_FLOOR = -100.0
CLIP_LEVEL = 0.99
# Window dB histogram (1 dB bins from -100 to 0) that summarize merges across chunks.
HIST_BINS = 101
# Silence rule, per window: below max(SILENCE_ABS_DBFS, min(noise_floor + 6, speech - 20)).
# - Below -50 dBFS nothing intelligible is recorded at normal gain: always silence.
# - Up to 6 dB above the noise floor (10th percentile) is the room, not a voice.
# - But never within 20 dB of the loud level (90th percentile): a steady tone or hum is
#   sound, not silence, although its noise floor and loud level are the same.
SILENCE_ABS_DBFS = -50.0
SILENCE_ABOVE_FLOOR_DB = 6.0
SILENCE_BELOW_SPEECH_DB = 20.0
NOISE_FLOOR_PERCENTILE = 10
SPEECH_LEVEL_PERCENTILE = 90

# Loud parts (90th percentile of windows) under -35 dBFS: the voice is hard to hear without
# turning the volume up; speech recorded at a sane gain peaks around -25 to -10 dBFS RMS.
TOO_QUIET_SPEECH_DBFS = -35.0
# More than 0.1% of samples at full scale is audible distortion, not an odd peak.
CLIPPING_RATIO = 0.001
# Noisy: an audible noise floor (above -60 dBFS) less than 15 dB below the voice.
NOISY_MIN_FLOOR_DBFS = -60.0
NOISY_MAX_SNR_DB = 15.0
# More than 80% of the windows silent: hardly anything was said or recorded.
MOSTLY_SILENT_RATIO = 0.8


def to_dbfs(rms: float) -> float:
    """RMS (or peak) amplitude of full scale 1.0 in dBFS, floored at ``DB_FLOOR``."""
    if not math.isfinite(rms) or rms <= 0:
        return DB_FLOOR
    return max(DB_FLOOR, 20.0 * math.log10(rms))


def silence_threshold(noise_floor_dbfs: float, speech_level_dbfs: float) -> float:
    relative = min(
        noise_floor_dbfs + SILENCE_ABOVE_FLOOR_DB, speech_level_dbfs - SILENCE_BELOW_SPEECH_DB
    )
    return max(SILENCE_ABS_DBFS, relative)


class QualityAnalyzer(Analyzer):
    name: ClassVar[str] = "quality"
    sources: ClassVar[tuple[PartSource, ...]] = (PartSource.FRAMES, PartSource.AUDIO)
    sections: ClassVar[tuple[str, ...]] = ("media.quality",)
    frames_data: ClassVar[type[PartData] | None] = QualityFramesPart
    audio_data: ClassVar[type[PartData] | None] = QualityAudioPart

    @property
    def model_info(self) -> ModelInfo:
        return ModelInfo(analyzer=self.name, name="media-quality", version=__version__, sha256=None)

    def analyze_frames(self, batch: DecodedFrames) -> QualityFramesPart:
        frames: list[QualityFrame] = []
        previous: NDArray[Any] | None = None
        for frame in batch.frames:
            gray = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)
            brightness, contrast = (float(v[0][0]) for v in cv2.meanStdDev(gray))
            thumb = _resize_longest(gray, DIFF_SIDE).astype(np.float32)
            diff = None if previous is None else float(np.mean(np.abs(thumb - previous)))
            previous = thumb
            frames.append(
                QualityFrame(
                    index=frame.index,
                    t=round(frame.t, 4),
                    brightness=round(brightness, 2),
                    contrast=round(contrast, 2),
                    blur=round(_laplacian_var(gray), 2),
                    black=brightness <= BLACK_MAX_LUMA and contrast <= BLACK_MAX_STD,
                    diff_prev=None if diff is None else round(diff, 4),
                )
            )
        return QualityFramesPart(frames=frames)

    def analyze_audio(
        self, chunk: DecodedAudio, *, on_words: WordsHook | None = None
    ) -> QualityAudioPart:
        x = np.asarray(chunk.samples, dtype=np.float64).reshape(-1)
        x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
        rate = int(chunk.sample_rate)
        window_db = _window_dbfs(x, max(1, round(rate * WINDOW_S)))
        if window_db.size:
            noise_floor = float(np.percentile(window_db, NOISE_FLOOR_PERCENTILE))
            speech_level = float(np.percentile(window_db, SPEECH_LEVEL_PERCENTILE))
            threshold = silence_threshold(noise_floor, speech_level)
            silent = int(np.count_nonzero(window_db < threshold))
        else:
            noise_floor = speech_level = DB_FLOOR
            silent = 0
        hist = np.bincount(
            np.clip(np.round(window_db - DB_FLOOR), 0, HIST_BINS - 1).astype(np.int64),
            minlength=HIST_BINS,
        )
        return QualityAudioPart(
            start=chunk.start,
            end=chunk.end,
            duration_s=round(x.size / rate, 4) if rate else 0.0,
            samples=int(x.size),
            rms_dbfs=round(to_dbfs(math.sqrt(float(np.mean(x * x)))) if x.size else DB_FLOOR, 2),
            peak_dbfs=round(to_dbfs(float(np.max(np.abs(x)))) if x.size else DB_FLOOR, 2),
            clipped_samples=int(np.count_nonzero(np.abs(x) >= CLIP_LEVEL)),
            windows=int(window_db.size),
            silent_windows=silent,
            noise_floor_dbfs=round(noise_floor, 2),
            speech_level_dbfs=round(speech_level, 2),
            window_db_hist=hist.tolist(),
        )

    @staticmethod
    def summarize(
        parts: SummaryInput[QualityFramesPart, QualityAudioPart],
    ) -> dict[str, BaseModel]:
        quality = MediaQuality()
        _summarize_frames(parts.frames, quality)
        if not parts.manifest.media.has_audio:
            quality.verdicts.append("no_audio")
        _summarize_audio(parts.audio, quality)
        return {"media.quality": quality}


def _resize_longest(gray: NDArray[Any], side: int) -> NDArray[Any]:
    height, width = gray.shape[:2]
    longest = max(height, width)
    if longest == side:
        return gray
    scale = side / longest
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Bicubic keeps more of the edges of a small frame than bilinear, so a sharp 320 px
    # picture is not called blurry only for having been sampled small.
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(gray, size, interpolation=interpolation)


def _laplacian_var(gray: NDArray[Any]) -> float:
    laplacian = cv2.Laplacian(_resize_longest(gray, BLUR_SIDE), cv2.CV_64F)
    return float(laplacian.var())


def _window_dbfs(x: NDArray[Any], window: int) -> NDArray[Any]:
    """RMS dBFS of consecutive windows; a chunk shorter than one window is one window."""
    if x.size == 0:
        return np.zeros(0)
    n = max(1, x.size // window)
    frames = x[: n * window].reshape(n, -1) if x.size >= window else x.reshape(1, -1)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    with np.errstate(divide="ignore"):
        db = 20.0 * np.log10(rms)
    floored: NDArray[Any] = np.maximum(np.nan_to_num(db, nan=DB_FLOOR, neginf=DB_FLOOR), DB_FLOOR)
    return floored


def _summarize_frames(parts: list[QualityFramesPart], quality: MediaQuality) -> None:
    """Fill the picture figures of ``quality`` and add its picture verdicts."""
    frames = ts.unique_rows(frame for part in parts for frame in part.frames)
    if not frames:
        return
    verdicts = quality.verdicts
    brightness = float(np.median([f.brightness for f in frames]))
    contrast = float(np.median([f.contrast for f in frames]))
    blur = float(np.median([f.blur for f in frames]))
    black_ratio = sum(f.black for f in frames) / len(frames)
    # Only frames with a predecessor in their batch can be compared; a batch's first is not.
    diffs = [f.diff_prev for f in frames if f.diff_prev is not None]
    frozen_ratio = sum(d < FROZEN_MAX_DIFF for d in diffs) / len(diffs) if diffs else None

    lighting: Literal["too_dark", "ok", "too_bright"] = "ok"
    if brightness < TOO_DARK_LUMA:
        lighting = "too_dark"
    elif brightness > TOO_BRIGHT_LUMA:
        lighting = "too_bright"
    if lighting != "ok":
        verdicts.append(lighting)
    if contrast < LOW_CONTRAST_STD:
        verdicts.append("low_contrast")
    # A black picture has no edges; calling it blurry would only repeat black_frames.
    if blur < BLURRY_LAPLACIAN_VAR and black_ratio < 0.5:
        verdicts.append("blurry")
    if black_ratio > BLACK_FRAMES_RATIO:
        verdicts.append("black_frames")
    if frozen_ratio is not None and frozen_ratio > FROZEN_VIDEO_RATIO:
        verdicts.append("frozen_video")
    quality.brightness = round(brightness, 2)
    quality.contrast = round(contrast, 2)
    quality.blur = round(blur, 2)
    quality.lighting = lighting
    quality.black_frame_ratio = round(black_ratio, 4)
    quality.frozen_frame_ratio = None if frozen_ratio is None else round(frozen_ratio, 4)
    quality.frames_measured = len(frames)


def _summarize_audio(parts: list[QualityAudioPart], quality: MediaQuality) -> None:
    """Fill the sound figures of ``quality`` and add its sound verdicts."""
    # Keyed by start time, so a chunk delivered twice counts once.
    chunks = list({part.start: part for part in parts if part.samples}.values())
    if not chunks:
        return
    verdicts = quality.verdicts
    durations = np.array([c.duration_s for c in chunks])
    weights = durations if durations.sum() > 0 else np.ones(len(chunks))
    # Mean energy, not mean dB: a loud minute and a silent minute average to -3 dB, not -50.
    energy = np.array([10 ** (c.rms_dbfs / 10) for c in chunks])
    level = to_dbfs(math.sqrt(float(np.sum(energy * weights) / np.sum(weights))))
    peak = max(c.peak_dbfs for c in chunks)
    samples = sum(c.samples for c in chunks)
    clipping_ratio = sum(c.clipped_samples for c in chunks) / samples

    hist = np.zeros(HIST_BINS, dtype=np.int64)
    for c in chunks:
        hist += np.asarray(c.window_db_hist or np.zeros(HIST_BINS), dtype=np.int64)
    windows = int(hist.sum())
    if windows:
        noise_floor = _hist_percentile(hist, NOISE_FLOOR_PERCENTILE)
        speech_level = _hist_percentile(hist, SPEECH_LEVEL_PERCENTILE)
        # Bin b holds windows that round to DB_FLOOR + b dB: below the threshold means bins
        # whose level is under it.
        threshold = silence_threshold(noise_floor, speech_level)
        bins_db = DB_FLOOR + np.arange(HIST_BINS)
        silence_ratio = float(hist[bins_db < threshold].sum()) / windows
    else:
        # Parts with an empty histogram: combine the per-chunk figures instead.
        noise_floor = float(np.average([c.noise_floor_dbfs for c in chunks], weights=weights))
        speech_level = float(np.average([c.speech_level_dbfs for c in chunks], weights=weights))
        total = sum(c.windows for c in chunks)
        silent = sum(c.silent_windows for c in chunks)
        silence_ratio = silent / total if total else 1.0
    snr = speech_level - noise_floor

    if speech_level < TOO_QUIET_SPEECH_DBFS:
        verdicts.append("audio_too_quiet")
    if clipping_ratio > CLIPPING_RATIO:
        verdicts.append("audio_clipping")
    if noise_floor > NOISY_MIN_FLOOR_DBFS and snr < NOISY_MAX_SNR_DB:
        verdicts.append("noisy_audio")
    if silence_ratio > MOSTLY_SILENT_RATIO:
        verdicts.append("mostly_silent")
    quality.audio_level_dbfs = round(level, 2)
    quality.audio_peak_dbfs = round(peak, 2)
    quality.clipping_ratio = round(clipping_ratio, 6)
    quality.silence_ratio = round(silence_ratio, 4)
    quality.noise_floor_dbfs = round(noise_floor, 2)
    quality.speech_level_dbfs = round(speech_level, 2)
    quality.snr_db = round(snr, 2)
    quality.audio_seconds = round(float(durations.sum()), 3)


def _hist_percentile(hist: NDArray[Any], percentile: float) -> float:
    """The dB level below which ``percentile`` % of the windows lie (1 dB resolution)."""
    cumulative = np.cumsum(hist)
    rank = percentile / 100 * (cumulative[-1] - 1)
    return DB_FLOOR + float(np.searchsorted(cumulative, rank, side="right"))
