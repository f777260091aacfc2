"""Speech: transcript with word timestamps, fluency, filler words, voice and speakers.

Recognition is faster-whisper (CTranslate2) on the shipped base model, int8 on CPU and float16
on a GPU, with its bundled Silero VAD so that silence is skipped, not transcribed. Voice figures
are classic signal measures from librosa: pYIN pitch, RMS energy, MFCCs.

``analyze_audio`` works on one chunk alone: it transcribes, flags hallucinated segments and
measures the voice, every time relative to the video start. ``summarize`` does the video-wide
work over the parts of a video, whichever workers analysed them: it stitches segments in time
order, removes words duplicated at chunk edges, drops flagged segments, and computes fluency,
fillers, pitch, energy, voice quality and the speaker clustering.

Whisper leaves filler words out of its text. Prompting it with a sentence that itself contains
fillers makes it keep them (an espeak-ng "Um, ..., uh, ..." answer: none written without the
prompt, both with it), so English and Korean chunks are transcribed with such a prompt and the
result says so in ``fillers.method``.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import math
import re
import threading
import time
from collections import Counter, defaultdict
from importlib import import_module
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from ..errors import MissingExtra, ModelNotAvailable
from ..models.bundle import MODEL_SPECS, model_path, record_loaded
from ..models.bundle import model_info as bundle_model_info
from ..schemas import ModelInfo, PartSource
from ..settings import Settings, get_settings
from .base import Analyzer, DecodedAudio, SummaryInput

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
DEFAULT_MODEL = "whisper-base"
DEFAULT_BEAM_SIZE = 1

# --- hallucination rules (Whisper's own fallback thresholds, applied to drop, not retry) -----
# gzip compression ratio above 2.4: the text repeats itself (a decoding loop).
MAX_COMPRESSION_RATIO = 2.4
# "No speech" above 0.6 with a mean log-probability under -1: text made up over silence.
NO_SPEECH_PROB = 0.6
NO_SPEECH_LOGPROB = -1.0
# Every word under this probability: the model was guessing the whole segment.
MIN_WORD_PROBABILITY = 0.15

# --- fluency --------------------------------------------------------------------------------
# A silent gap of 0.3 s or more between words is a pause: shorter gaps are articulation (stop
# closures, breaths between phrases run at 0.1-0.25 s); 0.25-0.3 s is the usual threshold in
# fluency research (Goldman-Eisler's 0.25 s, de Jong & Bosker 2013 found ~0.25-0.3 s best).
MIN_PAUSE_S = 0.3
# Pauses of 2 s or more are counted apart as long pauses (a lost thread, not a breath).
LONG_PAUSE_S = 2.0

# --- voice ----------------------------------------------------------------------------------
FMIN_HZ = 65.0
FMAX_HZ = 400.0
FRAME_LENGTH = 1024  # 64 ms at 16 kHz: two periods of 65 Hz, what pYIN needs
HOP_LENGTH = 320  # 20 ms
CLIP_LEVEL = 0.99
DB_FLOOR = -100.0
N_MFCC = 13
# Speakers: at most 4; a cluster is split in two only when that gains at least 0.85 nats of
# log-likelihood per MFCC frame (one espeak voice reading varied text: 0.49; a male and a
# female voice: 1.4) and each half holds at least MIN_SPEAKER_SHARE of the speaking time.
MAX_SPEAKERS = 4
SPEAKER_MIN_GAIN = 0.85
MIN_SPEAKER_SHARE = 0.05
# Speaker units: runs of words split at a gap of 0.3 s, a sentence end, or 4 s of speech;
# units under 0.5 s give too few frames for a voice print of their own.
UNIT_GAP_S = 0.3
UNIT_MAX_S = 4.0
MIN_UNIT_FOR_VOICE_S = 0.5
# A word's start is where its level rises to 25 dB under the loud frames of the chunk.
ONSET_BELOW_SPEECH_DB = 25.0
# Noise floor: the 10th percentile of the frames outside speech.
NOISE_PERCENTILE = 10
# Frame level histogram: 1 dB bins from -100 to 0 dBFS, merged across chunks.
HIST_BINS = 101

# --- fillers --------------------------------------------------------------------------------
FILLER_PROMPTS: dict[str, str] = {
    "en": "Umm, let me think like, hmm... Okay, here is what I, uh, think.",
    "ko": "음, 그러니까 어... 제 생각에는, 뭐, 이렇습니다.",
}
# Sounds that are fillers wherever they stand (elongations included: "ummm", "uhh", "hmm").
_EN_SOUNDS = re.compile(r"^(u+h*m+|u+h+|e+r+m*|a+h+|h+m+|m+h*m+|e+h+)$")
# Words that are fillers only when set off by a comma or an ellipsis ("like," / ", you know"):
# without one "I like", "You know that" and "what I mean" are ordinary speech.
_EN_MARKERS: tuple[tuple[str, ...], ...] = (("you", "know"), ("i", "mean"), ("like",))
# Korean hesitation sounds, alone or drawn out ("음", "어어", "으음").
_KO_SOUNDS = re.compile(r"^[음어으아에엄흠]+$")
# Korean filler words, matched as whole tokens only, so "그는", "저도", "이제야", "막상" (a
# particle or ending attached) are not fillers.
_KO_WORDS = frozenset({"뭐", "이제", "약간", "막", "그냥", "그러니까", "그니까", "뭔가"})
# "그" and "저" are also determiners ("그 사람", "저 회사"): fillers only when set off by a
# comma or an ellipsis.
_KO_DETERMINERS = frozenset({"그", "저"})
_PUNCT = ".,!?;:…\"'“”‘’()[]-–—~"
_WORD_CHARS = re.compile(r"[\w']", re.UNICODE)
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


class SpeechAnalyzer(Analyzer):
    name: ClassVar[str] = "speech"
    sources: ClassVar[tuple[PartSource, ...]] = (PartSource.AUDIO,)
    sections: ClassVar[tuple[str, ...]] = ("speech",)

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings or get_settings()
        self._model_name = str(getattr(self._settings, "speech_model", DEFAULT_MODEL))
        self._model: Any = None
        self._librosa: Any = None
        self._vad: Any = None
        self._device = "cpu"
        self._sha256: str | None = None
        self._load_lock = threading.Lock()

    # --- model ------------------------------------------------------------------------------

    @property
    def model_info(self) -> ModelInfo:
        try:
            version = package_version("faster-whisper")
        except PackageNotFoundError:
            version = "not-installed"
        if self._model_name in MODEL_SPECS:
            info = bundle_model_info(self._settings, self._model_name)
            name = "faster-whisper-" + self._model_name.removeprefix("whisper-")
            return ModelInfo(analyzer=self.name, name=name, version=version, sha256=info.sha256)
        if self._sha256 is None:
            weights = Path(self._model_name) / "model.bin"
            self._sha256 = _sha256(weights) if weights.is_file() else None
        return ModelInfo(
            analyzer=self.name,
            name=f"faster-whisper:{Path(self._model_name).name}",
            version=version,
            sha256=self._sha256,
        )

    def _model_dir(self) -> Path:
        """The bundle's directory for a bundle name, else a local CTranslate2 directory; never
        a download."""
        if self._model_name in MODEL_SPECS:
            return model_path(self._settings, self._model_name)
        path = Path(self._model_name)
        if not (path / "model.bin").is_file():
            raise ModelNotAvailable(
                f"speech model {self._model_name!r} is neither a model of the bundle "
                f"({', '.join(n for n in MODEL_SPECS if n.startswith('whisper'))}) nor a "
                "directory holding a CTranslate2 model.bin"
            )
        return path

    def load(self) -> None:
        with self._load_lock:
            if self._model is not None:
                return
            started = time.monotonic()
            # Find the weights first, so a missing install fails at once with its fix.
            directory = self._model_dir()
            try:
                faster_whisper = import_module("faster_whisper")
                vad = import_module("faster_whisper.vad")
                librosa = import_module("librosa")
                ctranslate2 = import_module("ctranslate2")
            except ImportError as exc:
                raise MissingExtra("faster-whisper", "speech") from exc
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
            compute_type = str(getattr(self._settings, "speech_compute_type", "auto"))
            if compute_type == "auto":
                compute_type = "float16" if device == "cuda" else "int8"
            model = faster_whisper.WhisperModel(
                str(directory),
                device=device,
                compute_type=compute_type,
                cpu_threads=int(getattr(self._settings, "speech_cpu_threads", 0)),
                local_files_only=True,
            )
            # pYIN's Viterbi is compiled by numba on first use (seconds): pay it here, not in
            # the first chunk.
            librosa.pyin(
                np.zeros(SAMPLE_RATE // 2, dtype=np.float32),
                fmin=FMIN_HZ,
                fmax=FMAX_HZ,
                sr=SAMPLE_RATE,
                frame_length=FRAME_LENGTH,
                hop_length=HOP_LENGTH,
            )
            self._librosa = librosa
            self._vad = vad
            self._device = device
            self._model = model
            if self._model_name in MODEL_SPECS:
                record_loaded(
                    self._model_name, load_time_s=time.monotonic() - started, device=device
                )

    # --- per chunk --------------------------------------------------------------------------

    def analyze_audio(self, chunk: DecodedAudio) -> dict[str, Any]:
        if self._model is None:
            self.load()
        librosa = self._librosa
        x = np.asarray(chunk.samples, dtype=np.float32).reshape(-1)
        x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
        if chunk.sample_rate != SAMPLE_RATE and x.size:
            x = librosa.resample(x, orig_sr=chunk.sample_rate, target_sr=SAMPLE_RATE)
        offset = float(chunk.start)
        data: dict[str, Any] = {
            "start": offset,
            "end": float(chunk.end),
            "duration_s": round(x.size / SAMPLE_RATE, 4),
            "language": None,
            "language_probability": None,
            "language_source": None,
            "filler_prompt": False,
            "segments": [],
            "voice": _signal_figures(x),
            "noise_db_hist": [],
            "voice_units": [],
            "pitch_f0": [],
            "energy_db": [],
            "speech_s": 0.0,
        }
        started = time.monotonic()
        # Silence (or noise without speech) never reaches the decoder: it is where Whisper
        # invents text.
        if x.size == 0 or not self._vad.get_speech_timestamps(x, self._vad.VadOptions()):
            data["timing"] = {"transcribe_s": round(time.monotonic() - started, 3)}
            return data

        language, probability, source = self._language(x, getattr(chunk, "language", None))
        prompt = FILLER_PROMPTS.get(language)
        segments, _info = self._model.transcribe(
            x,
            language=language,
            beam_size=int(getattr(self._settings, "speech_beam_size", DEFAULT_BEAM_SIZE)),
            word_timestamps=True,
            vad_filter=True,
            initial_prompt=prompt,
            # Each segment on its own: carrying text over lets one hallucination seed the next.
            condition_on_previous_text=False,
        )
        rows = [_segment_row(seg, offset) for seg in segments]
        transcribe_s = time.monotonic() - started

        started = time.monotonic()
        kept = [row for row in rows if row["flag"] is None]
        rms_db = self._rms_db(x)
        threshold = _onset_threshold(rms_db)
        for row in kept:
            _refine_first_word(row, offset, rms_db, threshold)
        spans = [(s["start"] - offset, s["end"] - offset) for s in kept]
        speech_mask = _span_mask(spans, rms_db.size)
        data["noise_db_hist"] = _db_hist(rms_db[~speech_mask])
        if kept:
            f0, voiced, mfcc = self._frame_features(x, rms_db.size)
            pitched = speech_mask & voiced
            data["pitch_f0"] = [round(float(v), 1) for v in f0[pitched]]
            data["energy_db"] = [round(float(v), 1) for v in rms_db[speech_mask]]
            data["voice_units"] = _voice_units(kept, offset, f0, voiced, mfcc)
            data["voice"].update(
                speech_frames=int(speech_mask.sum()), voiced_frames=int(pitched.sum())
            )
        data.update(
            language=language,
            language_probability=round(probability, 4),
            language_source=source,
            filler_prompt=prompt is not None,
            segments=rows,
            speech_s=round(sum(end - start for start, end in spans), 3),
            timing={
                "transcribe_s": round(transcribe_s, 3),
                "features_s": round(time.monotonic() - started, 3),
            },
        )
        return data

    def _language(self, x: NDArray[np.float32], override: str | None) -> tuple[str, float, str]:
        """The chunk's language: the upload's override, the configured one, or detected
        (restricted to ``speech_languages`` when that is set)."""
        if override:
            return override.lower(), 1.0, "metadata"
        configured = getattr(self._settings, "speech_language", None)
        if configured:
            return str(configured).lower(), 1.0, "setting"
        best, probability, ranked = self._model.detect_language(x, vad_filter=True)
        allowed = [lang.lower() for lang in getattr(self._settings, "speech_languages", [])]
        if allowed:
            candidates = [(lang, p) for lang, p in ranked if lang in allowed]
            if candidates:
                best, probability = max(candidates, key=lambda item: item[1])
        return str(best), float(probability), "detected"

    def _rms_db(self, x: NDArray[np.float32]) -> NDArray[Any]:
        if x.size == 0:
            return np.zeros(0)
        rms = self._librosa.feature.rms(y=x, frame_length=FRAME_LENGTH, hop_length=HOP_LENGTH)[0]
        db: NDArray[Any] = 20.0 * np.log10(np.maximum(rms, 10 ** (DB_FLOOR / 20)))
        return db

    def _frame_features(
        self, x: NDArray[np.float32], n: int
    ) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
        """pYIN pitch (NaN where unvoiced), the voiced flag and MFCCs, ``n`` frames each."""
        librosa = self._librosa
        f0, voiced, _ = librosa.pyin(
            x,
            fmin=FMIN_HZ,
            fmax=FMAX_HZ,
            sr=SAMPLE_RATE,
            frame_length=FRAME_LENGTH,
            hop_length=HOP_LENGTH,
        )
        mfcc = librosa.feature.mfcc(
            y=x, sr=SAMPLE_RATE, n_mfcc=N_MFCC, n_fft=512, hop_length=HOP_LENGTH
        )
        return f0[:n], np.asarray(voiced[:n], dtype=bool), mfcc[:, :n]

    # --- per video --------------------------------------------------------------------------

    @staticmethod
    def summarize(parts: SummaryInput) -> dict[str, dict[str, Any]]:
        settings = parts.settings
        manifest = parts.manifest
        chunks = _unique_chunks(parts.audio)
        if not chunks:
            reason = "no audio track" if not manifest.media.has_audio else "no audio received"
            return {"speech": {"coverage": 0.0, "confidence": None, "cannot_assess": reason}}
        received_s = sum(float(c.get("duration_s", 0.0)) for c in chunks)
        duration = float(manifest.media.duration_s or 0.0) or received_s
        coverage = min(1.0, received_s / duration) if duration > 0 else 0.0

        segments, dropped = _stitch(chunks, settings)
        words = [w for s in segments for w in s["words"]]
        language, language_source = _video_language(chunks)
        section: dict[str, Any] = {
            "coverage": round(coverage, 4),
            "language": language,
            "language_source": language_source,
            "hallucinations_dropped": dropped,
            "audio_s": round(received_s, 3),
        }
        if not words:
            section.update(
                confidence=None,
                cannot_assess="no speech detected",
                transcript="",
                segments=[],
                words_per_minute=None,
                pauses=None,
                response_delay_s=None,
                fillers=None,
                speakers={"count": 0, "talk_ratio": {}, "candidate": None},
            )
            return {"speech": section}

        min_pause = float(getattr(settings, "speech_min_pause_s", MIN_PAUSE_S))
        pauses = _pauses(words, min_pause)
        first, last = float(words[0]["start"]), float(words[-1]["end"])
        speaking_s = max(1e-6, (last - first) - sum(pauses))
        fillers = _fillers(segments, language)
        fillers["method"] = _filler_method(chunks, language)
        fillers["per_min"] = (
            round(fillers["count"] * 60 / speaking_s, 2) if fillers["count"] is not None else None
        )
        segments, speakers = _speakers(
            segments, chunks, settings, manifest.metadata.candidate_speaker
        )
        wpm: dict[str, Any] = {
            "speaking": round(len(words) * 60 / speaking_s, 1),
            "overall": round(len(words) * 60 / received_s, 1) if received_s > 0 else None,
            "words": len(words),
            "speaking_s": round(speaking_s, 3),
        }
        if language == "ko":
            # An eojeol (space-separated word) carries its particles: syllables are the
            # usual Korean rate measure too.
            syllables = sum(len(_HANGUL.findall(str(w["word"]))) for w in words)
            wpm["syllables_per_minute"] = round(syllables * 60 / speaking_s, 1)
        probabilities = [float(w["probability"]) for w in words]
        section.update(
            confidence=round(float(np.mean(probabilities)), 4),
            cannot_assess=None,
            transcript=" ".join(s["text"] for s in segments).strip(),
            segments=segments,
            words_per_minute=wpm,
            pauses={
                "count": len(pauses),
                "mean_s": round(float(np.mean(pauses)), 3) if pauses else 0.0,
                "longest_s": round(max(pauses), 3) if pauses else 0.0,
                "total_s": round(sum(pauses), 3),
                "long_count": sum(p >= LONG_PAUSE_S for p in pauses),
                "per_min": round(len(pauses) * 60 / (last - first), 2) if last > first else 0.0,
                "min_pause_s": min_pause,
            },
            response_delay_s=round(first, 3),
            fillers=fillers,
            pitch=_pitch(chunks),
            energy=_energy(chunks),
            voice_quality=_voice_quality(chunks),
            speakers=speakers,
        )
        return {"speech": section}


# --- per-chunk helpers ------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hallucination(
    *,
    compression_ratio: float,
    no_speech_prob: float,
    avg_logprob: float,
    word_probabilities: list[float],
    settings: Settings | None = None,
) -> str | None:
    """Why a segment looks invented (``repetition``, ``silence``, ``low_probability``), or
    None for a segment to keep."""
    max_ratio = float(getattr(settings, "speech_max_compression_ratio", MAX_COMPRESSION_RATIO))
    if compression_ratio > max_ratio:
        return "repetition"
    if no_speech_prob > NO_SPEECH_PROB and avg_logprob < NO_SPEECH_LOGPROB:
        return "silence"
    if word_probabilities and max(word_probabilities) < MIN_WORD_PROBABILITY:
        return "low_probability"
    if not word_probabilities:
        return "no_words"
    return None


def _segment_row(seg: Any, offset: float) -> dict[str, Any]:
    words: list[dict[str, Any]] = [
        {
            "start": round(float(w.start) + offset, 3),
            "end": round(float(w.end) + offset, 3),
            "word": str(w.word),
            "probability": round(float(w.probability), 4),
        }
        for w in (seg.words or [])
        if str(w.word).strip()
    ]
    row: dict[str, Any] = {
        "start": round(float(seg.start) + offset, 3),
        "end": round(float(seg.end) + offset, 3),
        "text": str(seg.text).strip(),
        "avg_logprob": round(float(seg.avg_logprob), 4),
        "no_speech_prob": round(float(seg.no_speech_prob), 4),
        "compression_ratio": round(float(seg.compression_ratio), 4),
        "words": words,
    }
    row["flag"] = hallucination(
        compression_ratio=row["compression_ratio"],
        no_speech_prob=row["no_speech_prob"],
        avg_logprob=row["avg_logprob"],
        word_probabilities=[w["probability"] for w in words],
    )
    return row


def _span_mask(spans: list[tuple[float, float]], n: int) -> NDArray[np.bool_]:
    mask = np.zeros(n, dtype=bool)
    hop_s = HOP_LENGTH / SAMPLE_RATE
    for start, end in spans:
        mask[max(0, int(start / hop_s)) : max(0, int(math.ceil(end / hop_s)))] = True
    return mask


def _onset_threshold(rms_db: NDArray[Any]) -> float:
    """Frame level above which the voice has started: 25 dB under the loud frames (90th
    percentile), never under -55 dBFS."""
    if rms_db.size == 0:
        return 0.0
    return max(-55.0, float(np.percentile(rms_db, 90)) - ONSET_BELOW_SPEECH_DB)


def _refine_first_word(
    row: dict[str, Any], offset: float, rms_db: NDArray[Any], threshold: float
) -> None:
    """Whisper puts a word after silence up to ~0.4 s early; move its start to where the
    level first rises, when that is inside the word."""
    if not row["words"]:
        return
    word = row["words"][0]
    hop_s = HOP_LENGTH / SAMPLE_RATE
    a = max(0, int((word["start"] - offset) / hop_s))
    b = min(rms_db.size, int(math.ceil((word["end"] - offset) / hop_s)))
    loud = np.flatnonzero(rms_db[a:b] >= threshold)
    if loud.size:
        onset = round(offset + (a + int(loud[0])) * hop_s, 3)
        if word["start"] < onset < word["end"]:
            word["start"] = onset
            row["start"] = max(row["start"], onset)


def _db_hist(db: NDArray[Any]) -> list[int]:
    bins = np.clip(np.round(db - DB_FLOOR), 0, HIST_BINS - 1).astype(np.int64)
    hist: list[int] = np.bincount(bins, minlength=HIST_BINS).tolist()
    return hist


def _voice_units(
    kept: list[dict[str, Any]],
    offset: float,
    f0: NDArray[Any],
    voiced: NDArray[Any],
    mfcc: NDArray[Any],
) -> list[dict[str, Any]]:
    """Runs of words without a pause, sentence end or more than 4 s in them, each with a voice
    print (MFCC 1-12 mean and std, median pitch) for the speaker clustering. Whisper segments
    are no use for that: one segment often holds a question and its answer."""
    units: list[list[dict[str, Any]]] = []
    for row in kept:
        for word in row["words"]:
            run = units[-1] if units else None
            if (
                run is None
                or word["start"] - run[-1]["end"] >= UNIT_GAP_S
                or run[-1]["word"].rstrip().endswith((".", "?", "!"))
                or word["end"] - run[0]["start"] > UNIT_MAX_S
            ):
                units.append([word])
            else:
                run.append(word)
    hop_s = HOP_LENGTH / SAMPLE_RATE
    out = []
    for run in units:
        start, end = float(run[0]["start"]), float(run[-1]["end"])
        unit: dict[str, Any] = {"start": start, "end": end, "print": None}
        a = max(0, int((start - offset) / hop_s))
        b = min(mfcc.shape[1], int(math.ceil((end - offset) / hop_s)))
        if end - start >= MIN_UNIT_FOR_VOICE_S and b - a >= 5:
            frames = mfcc[1:, a:b]
            pitched = f0[a:b][voiced[a:b]]
            cov = np.cov(frames, bias=True)
            unit["print"] = {
                "frames": int(b - a),
                "mfcc_mean": [round(float(v), 3) for v in frames.mean(axis=1)],
                "mfcc_std": [round(float(v), 3) for v in frames.std(axis=1)],
                # Upper triangle: with the mean and the frame count the summary can pool
                # units into one Gaussian per speaker for the BIC.
                "mfcc_cov": [round(float(v), 3) for v in cov[np.triu_indices(cov.shape[0])]],
                "pitch_median_hz": round(float(np.median(pitched)), 1)
                if pitched.size >= 5
                else None,
            }
        out.append(unit)
    return out


def _signal_figures(x: NDArray[Any]) -> dict[str, Any]:
    return {
        "samples": int(x.size),
        "clipped": int(np.count_nonzero(np.abs(x) >= CLIP_LEVEL)),
        "speech_frames": 0,
        "voiced_frames": 0,
    }


# --- per-video helpers ------------------------------------------------------------------------


def _unique_chunks(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Keyed by start time, so a part delivered twice counts once.
    unique: dict[float, dict[str, Any]] = {}
    for part in parts:
        if "start" in part:
            unique[float(part["start"])] = part
    return [unique[k] for k in sorted(unique)]


def _norm(word: str) -> str:
    return word.strip().strip(_PUNCT).lower()


def _stitch(
    chunks: list[dict[str, Any]], settings: Settings
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Kept segments of every chunk in time order, words repeated across a chunk edge removed;
    and what was dropped as hallucinated."""
    reasons: Counter[str] = Counter()
    segments: list[dict[str, Any]] = []
    for chunk in chunks:
        own: list[dict[str, Any]] = []
        for seg in chunk.get("segments", []):
            flag = seg.get("flag") or hallucination(
                compression_ratio=float(seg["compression_ratio"]),
                no_speech_prob=float(seg["no_speech_prob"]),
                avg_logprob=float(seg["avg_logprob"]),
                word_probabilities=[float(w["probability"]) for w in seg["words"]],
                settings=settings,
            )
            if flag is not None:
                reasons[flag] += 1
                continue
            own.append({**seg, "words": [dict(w) for w in seg["words"]]})
        own.sort(key=lambda s: float(s["start"]))
        if segments and own:
            _drop_edge_duplicates(segments, own)
        segments.extend(s for s in own if s["words"])
    for seg in segments:
        seg.pop("flag", None)
    segments.sort(key=lambda s: float(s["start"]))
    return segments, {"count": sum(reasons.values()), "by_reason": dict(reasons)}


def _drop_edge_duplicates(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> None:
    """Remove from ``after``'s head the words that repeat ``before``'s tail at the same time
    (overlapping chunks, or a word whose timestamps spill over the cut)."""
    tail = [w for s in before for w in s["words"]][-8:]
    head = [w for s in after for w in s["words"]][:8]
    if not tail or not head:
        return
    drop = 0
    for k in range(min(len(tail), len(head)), 0, -1):
        same = [_norm(a["word"]) for a in tail[-k:]] == [_norm(b["word"]) for b in head[:k]]
        # Same words and the repeat starts while (or just after) the first copy was spoken.
        if same and float(head[0]["start"]) < float(tail[-k]["end"]) + 0.5:
            drop = k
            break
    if not drop:
        # A single word spilling over the cut: its copy starts before the last word ended.
        if _norm(head[0]["word"]) == _norm(tail[-1]["word"]) and float(head[0]["start"]) < float(
            tail[-1]["end"]
        ):
            drop = 1
        else:
            return
    for seg in after:
        while drop and seg["words"]:
            seg["words"].pop(0)
            drop -= 1
        if seg["words"]:
            seg["start"] = seg["words"][0]["start"]
            seg["text"] = "".join(w["word"] for w in seg["words"]).strip()
        if not drop:
            break


def _video_language(chunks: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """The language spoken longest over the chunks (each chunk is detected on its own)."""
    weight: defaultdict[str, float] = defaultdict(float)
    sources: dict[str, str] = {}
    for chunk in chunks:
        language = chunk.get("language")
        if language:
            weight[language] += float(chunk.get("speech_s", 0.0)) or 1e-3
            sources.setdefault(language, str(chunk.get("language_source")))
    if not weight:
        return (None, None)
    language = max(weight, key=lambda lang: weight[lang])
    return language, sources.get(language)


def _pauses(words: list[dict[str, Any]], min_pause: float) -> list[float]:
    gaps = [float(b["start"]) - float(a["end"]) for a, b in zip(words, words[1:], strict=False)]
    return [round(g, 3) for g in gaps if g >= min_pause]


def _filler_method(chunks: list[dict[str, Any]], language: str | None) -> str:
    if language not in FILLER_PROMPTS:
        return "unsupported_language"
    spoken = [c for c in chunks if c.get("segments")]
    if spoken and all(c.get("filler_prompt") for c in spoken):
        return "whisper_filler_prompt"
    return "transcript"


def count_fillers(tokens: list[str], language: str | None) -> Counter[str]:
    """Filler words in a token list (words as Whisper writes them, punctuation attached)."""
    found: Counter[str] = Counter()
    norm = [_norm(t) for t in tokens]
    i = 0
    while i < len(tokens):
        word = norm[i]
        if not word:
            i += 1
            continue
        if language == "ko":
            if _KO_SOUNDS.match(word) or word in _KO_WORDS:
                found[word if word in _KO_WORDS else word[0]] += 1
            elif word in _KO_DETERMINERS and _set_off(tokens[i]):
                found[word] += 1
            i += 1
            continue
        if _EN_SOUNDS.match(word):
            found[_en_sound(word)] += 1
            i += 1
            continue
        for marker in _EN_MARKERS:
            k = len(marker)
            if tuple(norm[i : i + k]) == marker:
                if (i > 0 and _set_off(tokens[i - 1])) or _set_off(tokens[i + k - 1]):
                    found[" ".join(marker)] += 1
                    i += k - 1
                    break
        i += 1
    return found


def _set_off(token: str) -> bool:
    """The token ends with a comma, an ellipsis or a dash: a break in the sentence."""
    token = token.rstrip()
    return token.endswith((",", "…", "...", "-", "—"))


def _en_sound(word: str) -> str:
    """One spelling per filler sound, so "umm" and "um" count together."""
    if word.startswith("u"):
        return "um" if "m" in word else "uh"
    if word.startswith("e"):
        return "er"
    if word.startswith("a"):
        return "ah"
    return "hmm"


def _fillers(segments: list[dict[str, Any]], language: str | None) -> dict[str, Any]:
    if language not in FILLER_PROMPTS:
        return {"count": None, "by_word": {}}
    found: Counter[str] = Counter()
    for seg in segments:
        found += count_fillers([str(w["word"]) for w in seg["words"]], language)
    return {"count": sum(found.values()), "by_word": dict(found.most_common())}


def _pitch(chunks: list[dict[str, Any]]) -> dict[str, Any] | None:
    f0 = np.array([v for c in chunks for v in c.get("pitch_f0", [])], dtype=np.float64)
    if f0.size < 10:
        return None
    semitones = 12 * np.log2(f0 / np.median(f0))
    p5, p95 = np.percentile(f0, [5, 95])
    return {
        "median_hz": round(float(np.median(f0)), 1),
        "mean_hz": round(float(np.mean(f0)), 1),
        "spread_semitones": round(float(np.std(semitones)), 2),
        "range_hz": [round(float(p5), 1), round(float(p95), 1)],
        "range_semitones": round(float(12 * np.log2(p95 / p5)), 2),
        "frames": int(f0.size),
        "method": "librosa.pyin 65-400 Hz; range is the 5th-95th percentile",
    }


def _energy(chunks: list[dict[str, Any]]) -> dict[str, Any] | None:
    db = np.array([v for c in chunks for v in c.get("energy_db", [])], dtype=np.float64)
    if db.size < 10:
        return None
    mean_db = 10 * math.log10(float(np.mean(10 ** (db / 10))))
    p10, p90 = np.percentile(db, [10, 90])
    return {
        "mean_dbfs": round(mean_db, 2),
        "median_dbfs": round(float(np.median(db)), 2),
        "std_db": round(float(np.std(db)), 2),
        "dynamic_range_db": round(float(p90 - p10), 2),
        "frames": int(db.size),
    }


def _voice_quality(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    voice = [c["voice"] for c in chunks if c.get("voice")]
    samples = sum(int(v["samples"]) for v in voice)
    speech_db = np.array([v for c in chunks for v in c.get("energy_db", [])], dtype=np.float64)
    noise = np.zeros(HIST_BINS, dtype=np.int64)
    for chunk in chunks:
        if chunk.get("noise_db_hist"):
            noise += np.asarray(chunk["noise_db_hist"], dtype=np.int64)
    snr = None
    if speech_db.size and noise.sum():
        # Percentiles, not means: segment edges are loose, so a little speech leaks into the
        # "silence" frames and would swamp a mean.
        noise_floor = _hist_percentile(noise, NOISE_PERCENTILE)
        snr = float(np.median(speech_db)) - noise_floor
    speech_frames = sum(int(v.get("speech_frames", 0)) for v in voice)
    voiced_frames = sum(int(v.get("voiced_frames", 0)) for v in voice)
    return {
        "snr_db": None if snr is None else round(snr, 2),
        "clipping_ratio": round(sum(int(v["clipped"]) for v in voice) / samples, 6)
        if samples
        else 0.0,
        "voiced_ratio": round(voiced_frames / speech_frames, 4) if speech_frames else None,
        "snr_method": "median speech frame level over the 10th percentile of the frames "
        "outside speech (20 ms RMS)",
        "not_measured": "jitter and shimmer: not robust on compressed webcam audio with pYIN",
    }


def _hist_percentile(hist: NDArray[Any], percentile: float) -> float:
    cumulative = np.cumsum(hist)
    rank = percentile / 100 * (cumulative[-1] - 1)
    return DB_FLOOR + float(np.searchsorted(cumulative, rank, side="right"))


def _speakers(
    segments: list[dict[str, Any]],
    chunks: list[dict[str, Any]],
    settings: Settings,
    candidate_override: str | None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Cluster the voice units' prints across the video, label them ``S1``, ``S2``... in order
    of appearance, and split segments where the speaker changes. Units without a print take
    the label of the nearest unit in time."""
    unique = {float(u["start"]): u for c in chunks for u in c.get("voice_units", [])}
    units = [unique[k] for k in sorted(unique)]
    printed = [i for i, u in enumerate(units) if u.get("print")]
    labels = np.zeros(len(units), dtype=int)
    if len(printed) >= 3:
        prints = [units[i]["print"] for i in printed]
        weights = np.array([float(units[i]["end"]) - float(units[i]["start"]) for i in printed])
        max_k = int(getattr(settings, "speech_max_speakers", MAX_SPEAKERS))
        min_gain = float(getattr(settings, "speech_speaker_min_gain", SPEAKER_MIN_GAIN))
        for i, label in zip(printed, _cluster(prints, weights, max_k, min_gain), strict=True):
            labels[i] = label
    if printed:
        for i in range(len(units)):
            if not units[i].get("print"):
                labels[i] = labels[min(printed, key=lambda j: abs(j - i))]
    names: dict[int, str] = {}
    for label in labels:
        names.setdefault(int(label), f"S{len(names) + 1}")
    unit_names = [names[int(label)] for label in labels]
    talk: defaultdict[str, float] = defaultdict(float)
    for unit, name in zip(units, unit_names, strict=True):
        talk[name] += float(unit["end"]) - float(unit["start"])
    starts = [float(u["start"]) for u in units]

    def speaker_of(word: dict[str, Any]) -> str:
        if not units:
            return "S1"
        mid = (float(word["start"]) + float(word["end"])) / 2
        i = bisect.bisect_right(starts, mid) - 1
        near = [j for j in (i, i + 1) if 0 <= j < len(units)]
        j = min(near, key=lambda k: max(starts[k] - mid, mid - float(units[k]["end"]), 0.0))
        return unit_names[j]

    split: list[dict[str, Any]] = []
    for seg in segments:
        groups: list[tuple[str, list[dict[str, Any]]]] = []
        for word in seg["words"]:
            name = speaker_of(word)
            if groups and groups[-1][0] == name:
                groups[-1][1].append(word)
            else:
                groups.append((name, [word]))
        for g, (name, words) in enumerate(groups):
            split.append(
                {
                    **seg,
                    "start": seg["start"] if g == 0 else words[0]["start"],
                    "end": seg["end"] if g == len(groups) - 1 else words[-1]["end"],
                    "text": "".join(w["word"] for w in words).strip()
                    if len(groups) > 1
                    else seg["text"],
                    "speaker": name,
                    "words": words,
                }
            )
    if not talk:
        for seg in split:
            talk[seg["speaker"]] += float(seg["end"]) - float(seg["start"])
    total = sum(talk.values()) or 1.0
    ratio = {name: round(talk[name] / total, 4) for name in sorted(talk)}
    candidate = max(ratio, key=lambda name: ratio[name]) if ratio else None
    source = "most_talk"
    if candidate_override and candidate_override in ratio:
        candidate, source = candidate_override, "metadata"
    return split, {
        "count": len(ratio),
        "talk_ratio": ratio,
        "candidate": candidate,
        "candidate_source": source,
        "method": "voice prints (MFCC, pitch) of word runs, Ward clustering, "
        "Gaussian likelihood gain",
    }


def _voice_vector(voice: dict[str, Any]) -> list[float]:
    pitch = voice.get("pitch_median_hz")
    semitones = 12 * math.log2(pitch / 100.0) if pitch else float("nan")
    return [*voice["mfcc_mean"], *voice["mfcc_std"], semitones]


def _cluster(
    prints: list[dict[str, Any]], weights: NDArray[Any], max_k: int, min_gain: float
) -> NDArray[Any]:
    """Speaker labels for the voice prints. Ward clustering of the z-scored prints proposes
    nested partitions for k = 2..max_k; each further split is kept only while the two halves
    are much better described by a full-covariance Gaussian of MFCC frames each than by one
    (a log-likelihood gain of at least ``min_gain`` nats per frame, pooled from the units'
    frame counts, means and covariances) and each half holds MIN_SPEAKER_SHARE of the talk.
    The gain is per frame, unlike a BIC, whose penalty grows only with log N: frames are
    correlated, and a BIC splits one voice reading varied text once the video is long (one
    espeak voice: 0.49 nats/frame; two voices, male and female: 1.4)."""
    hierarchy = import_module("scipy.cluster.hierarchy")
    x = np.array([_voice_vector(p) for p in prints], dtype=np.float64)
    # Units without pitch (whispered, unvoiced) take the median pitch.
    col = x[:, -1]
    col[~np.isfinite(col)] = np.nanmedian(col) if np.isfinite(col).any() else 0.0
    std = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(std > 1e-9, std, 1.0)
    tree = hierarchy.linkage(x, method="ward")
    stats = [_gaussian_stats(p) for p in prints]
    total = float(weights.sum()) or 1.0
    labels = np.zeros(len(x), dtype=int)
    for k in range(2, min(max_k, len(x)) + 1):
        proposal = hierarchy.fcluster(tree, k, criterion="maxclust") - 1
        groups = set(proposal.tolist())
        if len(groups) != k:
            break
        # The nested partition splits exactly one of the previous clusters in two.
        split = next(c for c in set(labels.tolist()) if len(set(proposal[labels == c])) > 1)
        halves = [np.flatnonzero((labels == split) & (proposal == c)) for c in groups]
        halves = [h for h in halves if h.size]
        gain = _split_gain(stats, halves[0], halves[1])
        shares = [float(weights[h].sum()) / total for h in halves]
        log.debug(
            "speakers: split %d -> %d, gain %.3f nats/frame, shares %s", k - 1, k, gain, shares
        )
        if gain < min_gain or min(shares) < MIN_SPEAKER_SHARE:
            break
        labels = proposal
    return labels


def _split_gain(
    stats: list[tuple[int, NDArray[Any], NDArray[Any]]], a: NDArray[Any], b: NDArray[Any]
) -> float:
    """Log-likelihood gain per frame of two Gaussians for the frames of ``a`` and ``b``
    over one Gaussian for them all."""
    n_a, ld_a = _pooled_logdet([stats[i] for i in a])
    n_b, ld_b = _pooled_logdet([stats[i] for i in b])
    n, ld = _pooled_logdet([stats[i] for i in (*a, *b)])
    return 0.5 * (n * ld - n_a * ld_a - n_b * ld_b) / n


def _pooled_logdet(members: list[tuple[int, NDArray[Any], NDArray[Any]]]) -> tuple[int, float]:
    d = members[0][1].size
    n = sum(m[0] for m in members)
    mean = sum(m[0] * m[1] for m in members) / n
    second = sum(m[0] * (m[2] + np.outer(m[1], m[1])) for m in members) / n
    cov = second - np.outer(mean, mean) + 1e-6 * np.eye(d)
    return n, float(np.linalg.slogdet(cov)[1])


def _gaussian_stats(voice: dict[str, Any]) -> tuple[int, NDArray[Any], NDArray[Any]]:
    mean = np.asarray(voice["mfcc_mean"], dtype=np.float64)
    d = mean.size
    cov = np.zeros((d, d))
    cov[np.triu_indices(d)] = voice["mfcc_cov"]
    cov = cov + np.triu(cov, 1).T
    return int(voice["frames"]), mean, cov
