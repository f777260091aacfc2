"""The speech analyzer: faster-whisper recognition per chunk, the video-wide summary in the join.

``analyze_audio`` works on one chunk alone: it transcribes, flags hallucinated segments and
measures the voice, every time relative to the video start. ``summarize`` does the video-wide
work over the parts of a video, whichever workers analysed them: it stitches segments in time
order, removes words duplicated at chunk edges, drops flagged segments, and computes fluency,
fillers, pitch, energy, voice quality and the speaker clustering.
"""

from __future__ import annotations

import hashlib
import threading
import time
from importlib import import_module
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from ...errors import MissingExtra, ModelNotAvailable
from ...models.bundle import MODEL_SPECS, model_path, record_loaded
from ...models.bundle import model_info as bundle_model_info
from ...schemas import ModelInfo, PartSource
from ...settings import Settings, get_settings
from ..base import Analyzer, DecodedAudio, SummaryInput
from . import fluency, voice
from .fillers import FILLER_PROMPTS, filler_method, fillers_summary
from .speakers import speakers, voice_units
from .transcript import (
    onset_threshold,
    refine_first_word,
    segment_row,
    stitch,
    unique_chunks,
    video_language,
)
from .voice import SAMPLE_RATE


class SpeechAnalyzer(Analyzer):
    name: ClassVar[str] = "speech"
    sources: ClassVar[tuple[PartSource, ...]] = (PartSource.AUDIO,)
    sections: ClassVar[tuple[str, ...]] = ("speech",)

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings or get_settings()
        self._model_name = self._settings.speech_model
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
            compute_type = self._settings.speech_compute_type
            if compute_type == "auto":
                compute_type = "float16" if device == "cuda" else "int8"
            model = faster_whisper.WhisperModel(
                str(directory),
                device=device,
                compute_type=compute_type,
                cpu_threads=self._settings.speech_cpu_threads,
                local_files_only=True,
            )
            voice.warm_up(librosa)
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
        settings = self._settings
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
            "voice": voice.signal_figures(x),
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

        language, probability, source = self._language(x, chunk.language)
        prompt = FILLER_PROMPTS.get(language)
        segments, _info = self._model.transcribe(
            x,
            language=language,
            beam_size=settings.speech_beam_size,
            word_timestamps=True,
            vad_filter=True,
            initial_prompt=prompt,
            # Each segment on its own: carrying text over lets one hallucination seed the next.
            condition_on_previous_text=False,
        )
        rows = [segment_row(seg, offset, settings.speech_max_compression_ratio) for seg in segments]
        transcribe_s = time.monotonic() - started

        started = time.monotonic()
        kept = [row for row in rows if row["flag"] is None]
        rms_db = voice.rms_db(librosa, x)
        threshold = onset_threshold(rms_db)
        for row in kept:
            refine_first_word(row, offset, rms_db, threshold)
        spans = [(s["start"] - offset, s["end"] - offset) for s in kept]
        speech_mask = voice.span_mask(spans, rms_db.size)
        data["noise_db_hist"] = voice.db_hist(rms_db[~speech_mask])
        if kept:
            f0, voiced, mfcc = voice.frame_features(librosa, x, rms_db.size)
            pitched = speech_mask & voiced
            data["pitch_f0"] = [round(float(v), 1) for v in f0[pitched]]
            data["energy_db"] = [round(float(v), 1) for v in rms_db[speech_mask]]
            data["voice_units"] = voice_units(kept, offset, f0, voiced, mfcc)
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
        configured = self._settings.speech_language
        if configured:
            return configured.lower(), 1.0, "setting"
        best, probability, ranked = self._model.detect_language(x, vad_filter=True)
        allowed = [lang.lower() for lang in self._settings.speech_languages]
        if allowed:
            candidates = [(lang, p) for lang, p in ranked if lang in allowed]
            if candidates:
                best, probability = max(candidates, key=lambda item: item[1])
        return str(best), float(probability), "detected"

    # --- per video --------------------------------------------------------------------------

    @staticmethod
    def summarize(parts: SummaryInput) -> dict[str, dict[str, Any]]:
        settings = parts.settings
        manifest = parts.manifest
        chunks = unique_chunks(parts.audio)
        if not chunks:
            reason = "no audio track" if not manifest.media.has_audio else "no audio received"
            return {"speech": {"coverage": 0.0, "confidence": None, "cannot_assess": reason}}
        received_s = sum(float(c.get("duration_s", 0.0)) for c in chunks)
        duration = float(manifest.media.duration_s or 0.0) or received_s
        coverage = min(1.0, received_s / duration) if duration > 0 else 0.0

        segments, dropped = stitch(chunks, settings.speech_max_compression_ratio)
        words = [w for s in segments for w in s["words"]]
        language, language_source = video_language(chunks)
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

        min_pause = settings.speech_min_pause_s
        gaps = fluency.pauses(words, min_pause)
        speaking_s = fluency.speaking_seconds(words, gaps)
        fillers = fillers_summary(segments, language)
        fillers["method"] = filler_method(chunks, language)
        fillers["per_min"] = (
            round(fillers["count"] * 60 / speaking_s, 2) if fillers["count"] is not None else None
        )
        segments, speaker_figures = speakers(
            segments, chunks, settings, manifest.metadata.candidate_speaker
        )
        probabilities = [float(w["probability"]) for w in words]
        section.update(
            confidence=round(float(np.mean(probabilities)), 4),
            cannot_assess=None,
            transcript=" ".join(s["text"] for s in segments).strip(),
            segments=segments,
            words_per_minute=fluency.words_per_minute(words, speaking_s, received_s, language),
            pauses=fluency.pause_summary(words, gaps, min_pause),
            response_delay_s=round(float(words[0]["start"]), 3),
            fillers=fillers,
            pitch=voice.pitch_summary(chunks),
            energy=voice.energy_summary(chunks),
            voice_quality=voice.voice_quality(chunks),
            speakers=speaker_figures,
        )
        return {"speech": section}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
