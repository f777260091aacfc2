"""The speech analyzer: faster-whisper recognition per chunk; the video-wide summary, which
the join runs over every chunk's part, is ``summary.py``.

``analyze_audio`` works on one chunk alone: it transcribes, flags hallucinated segments and
measures the voice, every time relative to the video start. Parts are
``schemas.parts.SpeechPart`` models and the section a ``schemas.speech.SpeechSection``: no
figure travels as an untyped dict.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from functools import partial
from importlib import import_module
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from ...errors import MissingExtra, ModelNotAvailable
from ...models import MODEL_SPECS, file_sha256, model_path, record_loaded
from ...models import model_info as bundle_model_info
from ...models.runtime import pick_device
from ...schemas import ModelInfo, PartialSegment, PartSource
from ...schemas.parts import PartData, SegmentRow, SpeechPart, VoicedStretch
from ...schemas.parts import SpeakerWindow as WindowRow
from ...settings import Settings
from ..base import Analyzer, DecodedAudio, SummaryInput, WordsHook
from ..speaker_embedding import SpeakerEmbedder
from . import activity, hesitations, passages, praat, segmentation, speakers, voice
from .fillers import FILLER_PROMPTS, is_filled_pause
from .language import LanguageChoice, detect, given, speech_only
from .recognition import Recognizer, Speech
from .summary import summarize_speech
from .transcript import (
    better_decode,
    decode_failed,
    drop_after_speech,
    onset_threshold,
    refine_filled_pauses,
    refine_first_word,
    segment_row,
)
from .voice import SAMPLE_RATE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeardSpeech:
    """What the speaker path found in one chunk (times from the video start)."""

    speech_regions: list[tuple[float, float]]
    overlap_regions: list[tuple[float, float]]
    speaker_windows: list[WindowRow]
    #: Why there are no windows: the speaker model is not available in this process.
    speaker_model: str | None


@dataclass
class _Said:
    """A chunk's transcription: its segments, language and how it was decoded."""

    rows: list[SegmentRow]
    choice: LanguageChoice
    prompt: str | None
    beam_size: int


@dataclass
class _Decoded:
    """One stretch of speech decoded in one language."""

    rows: list[SegmentRow]
    prompt: str | None
    beam_size: int


@dataclass(frozen=True)
class _Heard:
    """A chunk's Silero speech probabilities (a frame per ``activity.SILERO_FRAME_S``) and
    the threshold Whisper's voice detection keeps speech at."""

    probabilities: NDArray[np.float32]
    threshold: float


@dataclass
class _Measured:
    """The voice of a chunk's kept speech."""

    rms_db: NDArray[np.float64]
    spans: list[tuple[float, float]]
    speech_mask: NDArray[np.bool_]
    track: Any = None
    stretches: list[VoicedStretch] = field(default_factory=list)


class SpeechAnalyzer(Analyzer):
    name: ClassVar[str] = "speech"
    sources: ClassVar[tuple[PartSource, ...]] = (PartSource.AUDIO,)
    sections: ClassVar[tuple[str, ...]] = ("speech",)
    audio_data: ClassVar[type[PartData] | None] = SpeechPart

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._model_name = self._settings.speech_model
        self._model: Any = None
        self._parselmouth: Any = None
        self._soxr: Any = None
        self._vad: Any = None
        self._recognizer: Recognizer | None = None
        self._vad_model: Any = None
        self._embedder: SpeakerEmbedder | None = None
        self._segmenter: segmentation.SpeechSegmenter | None = None
        #: Why speakers are not told apart in this process (the speaker model is missing).
        self._no_speakers: str | None = None
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
            self._sha256 = file_sha256(weights) if weights.is_file() else None
        return ModelInfo(
            analyzer=self.name,
            name=f"faster-whisper:{Path(self._model_name).name}",
            version=version,
            sha256=self._sha256,
        )

    @property
    def models(self) -> list[ModelInfo]:
        """Whisper, and the speaker models (segmentation, embeddings) where they are loaded."""
        if self._embedder is None or self._segmenter is None:
            return [self.model_info]
        return [
            self.model_info,
            bundle_model_info(self._settings, segmentation.MODEL_NAME),
            self._embedder.model_info,
        ]

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
                ctranslate2 = import_module("ctranslate2")
            except ImportError as exc:
                raise MissingExtra("faster-whisper", "speech") from exc
            try:
                parselmouth = import_module("parselmouth")
                soxr = import_module("soxr")
            except ImportError as exc:
                raise MissingExtra("praat-parselmouth", "speech") from exc
            device = pick_device(
                self._settings.device, ctranslate2.get_cuda_device_count() > 0, "CTranslate2"
            )
            compute_type = self._settings.speech_compute_type
            if compute_type == "auto":
                compute_type = "float16" if device == "cuda" else "int8"
            workers, threads = model_workers(self._settings)
            model = faster_whisper.WhisperModel(
                str(directory),
                device=device,
                compute_type=compute_type,
                cpu_threads=threads,
                num_workers=workers,
                local_files_only=True,
            )
            self._load_speaker_models()
            self._vad_model = vad.get_vad_model()
            self._parselmouth = parselmouth
            self._soxr = soxr
            self._vad = vad
            self._recognizer = Recognizer(model)
            self._device = device
            self._model = model
            if self._model_name in MODEL_SPECS:
                record_loaded(
                    self._model_name, load_time_s=time.monotonic() - started, device=device
                )

    def _load_speaker_models(self) -> None:
        """The segmentation and speaker-embedding models; without either, transcripts are
        still worth having, and the result says why speakers are not told apart."""
        threads = self._settings.speech_speaker_threads
        try:
            started = time.monotonic()
            segmenter = segmentation.SpeechSegmenter(
                model_path(self._settings, segmentation.MODEL_NAME) / segmentation.MODEL_FILE,
                threads,
            )
            segmenter.load()
            record_loaded(
                segmentation.MODEL_NAME, load_time_s=time.monotonic() - started, device="cpu"
            )
            embedder = SpeakerEmbedder(self._settings, threads=threads)
            embedder.load()
        except ModelNotAvailable as exc:
            log.warning("speakers will not be told apart: %s", exc.message)
            self._no_speakers = f"speaker model not available: {exc.message}"
        else:
            self._segmenter = segmenter
            self._embedder = embedder

    # --- per chunk --------------------------------------------------------------------------

    def analyze_audio(
        self, chunk: DecodedAudio, *, on_words: WordsHook | None = None
    ) -> SpeechPart:
        if self._model is None:
            self.load()
        x = self._samples(chunk)
        offset = float(chunk.start)
        duration_s = round(x.size / SAMPLE_RATE, 4)
        signal = voice.signal_figures(x)
        started = time.monotonic()
        probabilities = activity.silero_probabilities(self._vad_model, x)
        vad_s = time.monotonic() - started
        # Silence (or noise without speech) never reaches the decoder: it is where Whisper
        # invents text. Whisper's own voice detection decides, at its own threshold.
        vad = self._vad.VadOptions()
        if x.size == 0 or not (probabilities >= vad.threshold).any():
            started = time.monotonic()
            heard = self._speaker_windows(x, offset, probabilities)
            return SpeechPart(
                start=offset,
                end=float(chunk.end),
                duration_s=duration_s,
                voice=signal,
                speech_regions=heard.speech_regions,
                overlap_regions=heard.overlap_regions,
                speaker_windows=heard.speaker_windows,
                speaker_model=heard.speaker_model,
                timing={
                    "transcribe_s": 0.0,
                    "speakers_s": round(vad_s + time.monotonic() - started, 3),
                },
            )

        started = time.monotonic()
        said = self._words(x, chunk, probabilities, vad)
        transcribe_s = time.monotonic() - started
        if on_words is not None:
            # The words are what people wait for; pitch and the rest follow in the part.
            on_words(
                [
                    PartialSegment(start=row.start, end=row.end, text=row.text.strip())
                    for row in said.rows
                    if row.flag is None and row.text.strip()
                ]
            )

        # Who speaks when after the words: it changes nothing in either, and the words are
        # what a user waiting on the upload sees first.
        started = time.monotonic()
        heard = self._speaker_windows(x, offset, probabilities)
        speakers_s = vad_s + time.monotonic() - started
        started = time.monotonic()
        measured = self._voice(x, offset, said, signal)
        choice = said.choice
        return SpeechPart(
            start=offset,
            end=float(chunk.end),
            duration_s=duration_s,
            language=choice.language,
            language_probability=round(choice.probability, 4),
            language_source=choice.source,
            language_scores=choice.scores,
            filler_prompt=said.prompt is not None,
            beam_size=said.beam_size,
            segments=said.rows,
            voice=signal,
            noise_db_hist=voice.db_hist(measured.rms_db[~measured.speech_mask]),
            track=measured.track,
            voiced_stretches=measured.stretches,
            speech_s=round(sum(end - start for start, end in measured.spans), 3),
            speech_regions=heard.speech_regions,
            overlap_regions=heard.overlap_regions,
            speaker_windows=heard.speaker_windows,
            speaker_model=heard.speaker_model,
            timing={
                "transcribe_s": round(transcribe_s, 3),
                "features_s": round(time.monotonic() - started, 3),
                "speakers_s": round(speakers_s, 3),
            },
        )

    def _samples(self, chunk: DecodedAudio) -> NDArray[np.float32]:
        """The chunk's samples as float32 at SAMPLE_RATE, NaN and infinities made finite."""
        x = np.asarray(chunk.samples, dtype=np.float32).reshape(-1)
        x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
        if chunk.sample_rate != SAMPLE_RATE and x.size:
            # soxr at high quality: what librosa.resample did here, without librosa's import.
            x = np.asarray(
                self._soxr.resample(x, chunk.sample_rate, SAMPLE_RATE, quality="HQ"),
                dtype=np.float32,
            )
        return x

    def _words(
        self, x: NDArray[np.float32], chunk: DecodedAudio, probabilities: Any, vad: Any
    ) -> _Said:
        """The chunk's segments, each passage in its own language (``passages``): decoded
        again with a wider beam when the first decode failed and the second is better; words
        after the speech ends dropped."""
        offset = float(chunk.start)
        heard = _Heard(probabilities, vad.threshold)
        # Whisper's speech chunks from the same Silero pass, the speech joined and encoded
        # once for language and words (``recognition`` says what that saved).
        assert self._recognizer is not None
        speech = self._recognizer.speech(x, activity.speech_chunks(probabilities, x.size, vad))
        choice = self._language(speech, chunk.language, chunk.interview_language)
        pieces = self._pieces(x, probabilities, vad, speech)
        said: _Decoded | None = None
        parts: list[passages.Passage] = []
        if len(pieces) > 1 and self._unsure(x, speech, choice, pieces):
            parts = self._passages(x, speech, choice, pieces)
        else:
            said = self._decode(speech, offset, choice.language, heard)
            words = [(w.start - offset, w.end - offset) for row in said.rows for w in row.words]
            unheard = passages.unheard_seconds(speech.chunks, words)
            off = passages.off_script(
                [(w.start - offset, w.end - offset, w.word) for r in said.rows for w in r.words],
                choice.language,
            )
            other = sum(b - a for a, b in off)
            if len(pieces) > 1 and max(unheard, other) >= passages.LOST_SPEECH_S:
                # Only the pieces left without words or in another script are scored: the
                # rest was heard in the chunk's language.
                for piece in pieces:
                    if not passages.suspect(piece, words, off):
                        piece.language = choice.language
                parts = self._passages(x, speech, choice, pieces)
        if not parts or (len(parts) == 1 and parts[0].language == choice.language):
            said = said or self._decode(speech, offset, choice.language, heard)
        else:
            decoded = [
                self._decode(self._recognizer.speech(x, part.chunks), offset, part.language, heard)
                for part in parts
            ]
            said = _Decoded(
                rows=sorted((row for d in decoded for row in d.rows), key=lambda r: r.start),
                prompt=next((d.prompt for d in decoded if d.prompt is not None), None),
                beam_size=max(d.beam_size for d in decoded),
            )
            main = max(parts, key=lambda part: part.seconds).language
            if main != choice.language:
                choice = LanguageChoice(main, 0.0, "detected", choice.scores)
        drop_after_speech(said.rows, offset, probabilities, activity.SILERO_FRAME_S, vad.threshold)
        return _Said(rows=said.rows, choice=choice, prompt=said.prompt, beam_size=said.beam_size)

    def _decode(self, speech: Speech, offset: float, language: str, heard: _Heard) -> _Decoded:
        """One stretch of speech decoded in ``language`` (again with a wider beam when the
        first decode failed and the second is better), each row saying its language; the
        filled pauses it left out found again in its gaps (``hesitations``)."""
        settings = self._settings
        prompt = FILLER_PROMPTS.get(language)
        beam_used = settings.speech_language_beam_sizes.get(language, settings.speech_beam_size)
        rows = self._transcribe(speech, offset, language, prompt, beam_used)
        max_ratio = settings.speech_max_compression_ratio
        fallback = settings.speech_fallback_beam_size
        if fallback > beam_used and any(decode_failed(row, max_ratio) for row in rows):
            again = self._transcribe(speech, offset, language, prompt, fallback)
            if better_decode(rows, again, max_ratio) is again:
                rows, beam_used = again, fallback
        if prompt is not None:
            self._hesitations(rows, speech, offset, language, heard)
        for row in rows:
            row.language = language
        return _Decoded(rows=rows, prompt=prompt, beam_size=beam_used)

    def _hesitations(
        self, rows: list[SegmentRow], speech: Speech, offset: float, language: str, heard: _Heard
    ) -> None:
        """Filled pauses in the gaps between ``rows``' words, read again from there."""
        recognizer = self._recognizer
        assert recognizer is not None
        words = [
            (w.start - offset, w.end - offset)
            for row in rows
            if row.flag is None
            for w in row.words
        ]
        if not words or not speech.chunks:
            return  # no words to put a hesitation between
        found = hesitations.gaps(
            sorted(words),
            (speech.chunks[0]["start"] / SAMPLE_RATE, speech.chunks[-1]["end"] / SAMPLE_RATE),
            heard.probabilities,
            activity.SILERO_FRAME_S,
            heard.threshold,
        )
        if found:
            hesitations.recover(
                rows,
                offset,
                found,
                lambda at_s: recognizer.read_from(
                    speech, at_s, language, prompt=FILLER_PROMPTS[language]
                ),
                partial(is_filled_pause, language=language),
            )

    def _pieces(
        self, x: NDArray[np.float32], probabilities: Any, vad: Any, speech: Speech
    ) -> list[passages.Piece]:
        """The chunk's speech cut at short pauses (``passages``); none when it is too short to
        hold two languages."""
        if speech.seconds < passages.MIN_CHECK_S:
            return []
        fine = replace(vad, min_silence_duration_ms=passages.PIECE_PAUSE_MS)
        return passages.pieces_of(activity.speech_chunks(probabilities, x.size, fine))

    def _unsure(
        self,
        x: NDArray[np.float32],
        speech: Speech,
        choice: LanguageChoice,
        pieces: list[passages.Piece],
    ) -> bool:
        """Whisper's scores of the chunk, or of its first or last piece (up to
        ``passages.EDGE_S`` of it), leave room for a second language (``passages.unsure``):
        the whole costs one decoder pass over the encoding the decode reuses, each edge a short
        encoder pass (``_part_scores``).

        The whole's scores follow its start: a passage at the end hardly moves them (English
        then German: German at 0.04) and comes out translated, with no word lost and no script
        changed. And a chunk is cut at a pause, often where a passage ends: a sentence of the
        passage before can open it, or one of the next close it."""
        recognizer = self._recognizer
        assert recognizer is not None
        candidates = self._settings.speech_languages
        whole = recognizer.language_scores(speech, speech.samples)
        if passages.unsure(whole, choice.language, candidates):
            return True
        for piece, last in ((pieces[-1], True), (pieces[0], False)):
            chunks = passages.edge(piece.chunks, last=last)
            scores = self._part_scores(speech, x, chunks, choice.language)
            if chunks == piece.chunks:
                piece.scores = scores  # the whole piece: its scores if the pieces are scored
            if passages.unsure(scores, choice.language, candidates):
                return True
        return False

    def _part_scores(
        self, speech: Speech, x: NDArray[np.float32], chunks: list[passages.Chunk], around: str
    ) -> dict[str, float]:
        """Whisper's scores of the speech in ``chunks`` from a short encoder pass
        (``recognition.short_window``), or from a 30 s window when a language outside the
        listed ones comes out first: that is how such a language is found, and the short
        window moves its share."""
        recognizer = self._recognizer
        assert recognizer is not None
        samples = speech_only(x, chunks)
        scores = recognizer.language_scores(speech, samples, short=True)
        listed = {*self._settings.speech_languages, around}
        if max(scores, key=lambda name: scores[name]) in listed:
            return scores
        return recognizer.language_scores(speech, samples)

    def _passages(
        self,
        x: NDArray[np.float32],
        speech: Speech,
        choice: LanguageChoice,
        pieces: list[passages.Piece],
    ) -> list[passages.Passage]:
        """The chunk's passages, each piece scored on its own (``passages``)."""
        passages.score_pieces(
            pieces,
            lambda chunks: self._part_scores(speech, x, chunks, choice.language),
            around=choice.language,
            candidates=self._settings.speech_languages,
            source=choice.source,
        )
        return passages.passages(pieces, choice.language)

    def _voice(self, x: NDArray[np.float32], offset: float, said: _Said, signal: Any) -> _Measured:
        """Pitch, level and voice measures over the kept segments' speech (Praat); the first
        words' onsets and filled pauses refined with them. Fills ``signal``'s frame counts."""
        kept = [row for row in said.rows if row.flag is None]
        rms_db = voice.rms_db(x)
        threshold = onset_threshold(rms_db)
        for row in kept:
            refine_first_word(row, offset, rms_db, threshold)
        spans = [(row.start - offset, row.end - offset) for row in kept]
        measured = _Measured(
            rms_db=rms_db, spans=spans, speech_mask=voice.span_mask(spans, rms_db.size)
        )
        if not kept:
            return measured
        praat_measures = praat.measure(
            self._parselmouth, x, frames=rms_db.size, hop_s=voice.HOP_S, offset=offset, speech=spans
        )
        measured.track = voice.track(offset, praat_measures, rms_db)
        measured.stretches = praat_measures.stretches
        signal.speech_frames = int(measured.speech_mask.sum())
        signal.voiced_frames = int((measured.speech_mask & praat_measures.voiced).sum())
        for language in dict.fromkeys(row.language or said.choice.language for row in kept):
            refine_filled_pauses(
                [row for row in kept if (row.language or said.choice.language) == language],
                offset,
                praat_measures.voiced,
                partial(is_filled_pause, language=language),
            )
        return measured

    def _transcribe(
        self,
        speech: Speech,
        offset: float,
        language: str,
        prompt: str | None,
        beam_size: int,
    ) -> list[SegmentRow]:
        """One decode of the chunk's speech, as rows in video time.

        Temperature 0 only: faster-whisper's default fallback samples at random when a
        greedy decode fails its thresholds, so the same noisy answer gave different
        transcripts on each run (GRID clips with noise at 0 dB SNR: 4 of 10 differed
        between three runs). The caller falls back to a wider beam instead, which is as
        deterministic as the first decode.
        """
        assert self._recognizer is not None
        segments = self._recognizer.transcribe(speech, language, beam_size=beam_size, prompt=prompt)
        return [
            segment_row(seg, offset, self._settings.speech_max_compression_ratio)
            for seg in segments
        ]

    def _speaker_windows(
        self, x: NDArray[np.float32], offset: float, probabilities: NDArray[np.float32]
    ) -> HeardSpeech:
        """The chunk's speech regions, where two people speak at once, and its embedded
        windows (times from the video start), for the clustering in the join.

        Speech is where either model hears it: Silero (``probabilities``) misses far-field
        speech that the segmentation model finds, and the other way round. On the nine AMI
        excerpts the union found 55% of one meeting's single-speaker speech where Silero alone
        found 27%, and lost nothing elsewhere (benchmarks/speakers.py). A window's clarity is
        the higher of the two models' mean speech probability over it.
        """
        duration = x.size / SAMPLE_RATE
        regions = activity.regions(
            probabilities,
            activity.SILERO_FRAME_S,
            min_silence_s=self._settings.speech_min_pause_s,
            duration_s=duration,
        )
        overlaps: list[tuple[float, float]] = []
        windows: list[WindowRow] = []
        if self._embedder is not None and self._segmenter is not None and x.size:
            heard = self._segmenter.activity(x)
            regions = activity.union(regions, segmentation.speaker_regions(heard))
            overlaps = segmentation.overlap_regions(heard)
            spans = speakers.window_spans(regions, duration)
            if spans:
                clarity = [
                    max(
                        activity.mean_over(probabilities, activity.SILERO_FRAME_S, a, b),
                        heard.mean_speech(a, b),
                    )
                    for a, b in spans
                ]
                embeddings = self._embedder.embed(x, spans)
                windows = speakers.window_rows(spans, embeddings, clarity, offset)
        return HeardSpeech(
            speech_regions=activity.shift(regions, offset),
            overlap_regions=activity.shift(overlaps, offset),
            speaker_windows=windows,
            speaker_model=None if self._embedder is not None else self._no_speakers,
        )

    def _language(
        self, speech: Speech, override: str | None, interview: str | None
    ) -> LanguageChoice:
        """The chunk's language: the upload's override, the configured one, or detected over
        the chunk's speech with the interview's language, when known, as the prior
        (``language.detect``)."""
        settings = self._settings
        if override:
            return given(override, "metadata")
        if settings.speech_language:
            return given(settings.speech_language, "setting")
        recognizer = self._recognizer
        assert recognizer is not None
        return detect(
            speech.samples,
            lambda samples: recognizer.language_scores(speech, samples),
            candidates=settings.speech_languages,
            default=settings.speech_default_language,
            margin=settings.speech_language_margin,
            interview=interview,
        )

    # --- per video --------------------------------------------------------------------------

    @staticmethod
    def summarize(parts: SummaryInput[PartData, SpeechPart]) -> dict[str, BaseModel]:
        return {"speech": summarize_speech(parts)}


def model_workers(settings: Settings) -> tuple[int, int]:
    """CTranslate2 model workers and threads per worker: one worker per chunk the process
    analyses at once, the cores shared between them.

    One worker serialises concurrent chunks, and one chunk alone leaves cores idle while its
    speakers and voice are measured: two chunks of real dense speech at once with a worker and
    a thread each ran 11.6x real time on two cores, one chunk on both threads 7.4x
    (benchmarks/speech.py; +170 MiB for the second worker)."""
    workers = settings.analysis_threads
    return workers, settings.speech_cpu_threads or max(1, settings.cores // workers)
