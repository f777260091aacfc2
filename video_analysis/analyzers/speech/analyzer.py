"""The speech analyzer: faster-whisper recognition per chunk, the video-wide summary in the join.

``analyze_audio`` works on one chunk alone: it transcribes, flags hallucinated segments and
measures the voice, every time relative to the video start. ``summarize`` does the video-wide
work over the parts of a video, whichever workers analysed them: it stitches segments in time
order, removes words duplicated at chunk edges, drops flagged segments, and computes fluency,
fillers, pitch, energy, voice measures (jitter, shimmer, harmonics-to-noise ratio), voice
quality and the speaker clustering, over the whole video and over each question the upload's
metadata marks out.

Parts are ``schemas.parts.SpeechPart`` models and the section a ``schemas.speech.SpeechSection``:
no figure travels as an untyped dict.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
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
from ...schemas import ModelInfo, PartialSegment, PartSource, QuestionSpan
from ...schemas.parts import PartData, SegmentRow, SpeechPart, VoicedStretch
from ...schemas.parts import SpeakerWindow as WindowRow
from ...schemas.speech import (
    FiguresFor,
    OverlapRegion,
    Overlaps,
    PitchBaseline,
    QuestionSpeech,
    SpeakerFigures,
    Speakers,
    SpeechSection,
    Turn,
    VoiceFigures,
    Word,
)
from ...settings import Settings
from ..base import Analyzer, DecodedAudio, SummaryInput, WordsHook
from ..speaker_embedding import SpeakerEmbedder
from . import activity, praat, segmentation, speakers, voice
from .figures import speaker_figures
from .fillers import FILLER_PROMPTS, is_filled_pause, mark_fillers
from .language import LanguageChoice, detect, given
from .recognition import Recognizer, Speech
from .transcript import (
    better_decode,
    decode_failed,
    drop_after_speech,
    onset_threshold,
    refine_filled_pauses,
    refine_first_word,
    segment_row,
    stitch,
    unique_chunks,
    video_language,
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
        settings = self._settings
        x = np.asarray(chunk.samples, dtype=np.float32).reshape(-1)
        x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
        if chunk.sample_rate != SAMPLE_RATE and x.size:
            # soxr at high quality: what librosa.resample did here, without librosa's import.
            x = np.asarray(
                self._soxr.resample(x, chunk.sample_rate, SAMPLE_RATE, quality="HQ"),
                dtype=np.float32,
            )
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
        # Whisper's speech chunks from the same Silero pass, the speech joined and encoded
        # once for language and words (``recognition`` says what that saved).
        assert self._recognizer is not None
        speech = self._recognizer.speech(x, activity.speech_chunks(probabilities, x.size, vad))
        choice = self._language(speech, chunk.language, chunk.interview_language)
        prompt = FILLER_PROMPTS.get(choice.language)
        beam_used = settings.speech_language_beam_sizes.get(
            choice.language, settings.speech_beam_size
        )
        rows = self._transcribe(speech, offset, choice.language, prompt, beam_used)
        max_ratio = settings.speech_max_compression_ratio
        fallback = settings.speech_fallback_beam_size
        if fallback > beam_used and any(decode_failed(row, max_ratio) for row in rows):
            again = self._transcribe(speech, offset, choice.language, prompt, fallback)
            if better_decode(rows, again, max_ratio) is again:
                rows, beam_used = again, fallback
        drop_after_speech(rows, offset, probabilities, activity.SILERO_FRAME_S, vad.threshold)
        transcribe_s = time.monotonic() - started
        if on_words is not None:
            # The words are what people wait for; pitch and the rest follow in the part.
            on_words(
                [
                    PartialSegment(start=row.start, end=row.end, text=row.text.strip())
                    for row in rows
                    if row.flag is None and row.text.strip()
                ]
            )

        # Who speaks when after the words: it changes nothing in either, and the words are
        # what a user waiting on the upload sees first.
        started = time.monotonic()
        heard = self._speaker_windows(x, offset, probabilities)
        speakers_s = vad_s + time.monotonic() - started
        started = time.monotonic()
        kept = [row for row in rows if row.flag is None]
        rms_db = voice.rms_db(x)
        threshold = onset_threshold(rms_db)
        for row in kept:
            refine_first_word(row, offset, rms_db, threshold)
        spans = [(row.start - offset, row.end - offset) for row in kept]
        speech_mask = voice.span_mask(spans, rms_db.size)
        track = None
        stretches: list[VoicedStretch] = []
        if kept:
            measured = praat.measure(
                self._parselmouth,
                x,
                frames=rms_db.size,
                hop_s=voice.HOP_S,
                offset=offset,
                speech=spans,
            )
            track = voice.track(offset, measured, rms_db)
            stretches = measured.stretches
            signal.speech_frames = int(speech_mask.sum())
            signal.voiced_frames = int((speech_mask & measured.voiced).sum())
            refine_filled_pauses(
                kept, offset, measured.voiced, partial(is_filled_pause, language=choice.language)
            )
        return SpeechPart(
            start=offset,
            end=float(chunk.end),
            duration_s=duration_s,
            language=choice.language,
            language_probability=round(choice.probability, 4),
            language_source=choice.source,
            language_scores=choice.scores,
            filler_prompt=prompt is not None,
            beam_size=beam_used,
            segments=rows,
            voice=signal,
            noise_db_hist=voice.db_hist(rms_db[~speech_mask]),
            track=track,
            voiced_stretches=stretches,
            speech_s=round(sum(end - start for start, end in spans), 3),
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
        settings = parts.settings
        manifest = parts.manifest
        questions = manifest.metadata.questions
        chunks = unique_chunks(parts.audio)
        if not chunks:
            reason = "no audio track" if not manifest.media.has_audio else "no audio received"
            unheard = [_question(q, None, None) for q in questions]
            return {"speech": SpeechSection.not_assessed(reason, questions=unheard)}
        received_s = sum(c.duration_s for c in chunks)
        duration = float(manifest.media.duration_s or 0.0) or received_s
        coverage = min(1.0, received_s / duration) if duration > 0 else 0.0

        segments, dropped = stitch(chunks, settings.speech_max_compression_ratio)
        language, language_source = video_language(chunks)
        turns, speaker_note = _turns(chunks, settings)
        overlaps = activity.union([(a, b) for c in chunks for a, b in c.overlap_regions])
        segments = speakers.mark_overlaps(speakers.label_words(segments, turns), overlaps)
        words = [w for s in segments for w in s.words]
        mark_fillers(words, language)
        talk = speakers.talk_seconds(turns) or _word_seconds(words)
        total = sum(talk.values()) or 1.0
        candidate, rule = _candidate(talk, manifest.metadata.candidate_speaker)

        def figures_of(
            spoken: list[Word], speaker: str | None, span: QuestionSpan | None = None
        ) -> SpeakerFigures | None:
            """``speaker``'s figures over ``spoken``, over the video or a question's span."""
            return speaker_figures(
                spoken,
                speaker,
                chunks=chunks,
                language=language,
                min_pause=settings.speech_min_pause_s,
                received_s=received_s if span is None else span.end - span.start,
                since=0.0 if span is None else span.start,
                since_basis="from_video_start" if span is None else "from_question_start",
            )

        per_speaker = {name: figures_of(words, name) for name in sorted(talk)}
        section = SpeechSection(
            coverage=round(coverage, 4),
            language=language,
            language_source=language_source,
            hallucinations_dropped=dropped,
            audio_s=round(received_s, 3),
            turns=[Turn(start=t.start, end=t.end, speaker=t.speaker) for t in turns],
            pitch_baseline=_pitch_baseline(words, candidate, chunks, settings.baseline_s)
            if candidate
            else None,
            # Where two people speak at once: marked, not split between them. Each turn still
            # has one speaker (the voice that dominates its windows); words inside say
            # ``overlap``.
            overlaps=Overlaps(
                count=len(overlaps),
                total_s=round(sum(b - a for a, b in overlaps), 3),
                regions=[OverlapRegion(start=round(a, 3), end=round(b, 3)) for a, b in overlaps],
                method="pyannote segmentation-3.0: P(two speakers) >= 0.5",
                cannot_assess=speaker_note,
            ),
            speakers=Speakers(
                count=len(talk),
                talk_ratio={name: round(talk[name] / total, 4) for name in sorted(talk)},
                talk_s={name: round(talk[name], 3) for name in sorted(talk)},
                candidate=candidate,
                candidate_source=rule,
                cannot_assess=speaker_note,
                method="CAM++ speaker embeddings (3D-Speaker) of 1.5 s speech windows, "
                "average-linkage cosine clustering over the whole video",
                per_speaker=per_speaker,
            ),
            # The candidate's figures over each question's words, as over the whole video.
            questions=[
                _question(
                    q,
                    candidate,
                    None if candidate is None else figures_of(_within(words, q), candidate, q),
                )
                for q in questions
            ],
        )
        if not words:
            section.confidence = 0.0
            section.cannot_assess = "no speech detected" if not turns else "no words recognised"
            section.transcript = ""
            return {"speech": section}

        everyone = figures_of(words, None)
        assert everyone is not None  # there are words
        own = per_speaker.get(candidate) if candidate is not None else None
        chosen = own if own is not None else everyone
        spans = [(s.start, s.end) for s in segments]
        section.confidence = everyone.confidence
        section.transcript = " ".join(s.text for s in segments).strip()
        section.segments = segments
        # The candidate's own figures: an interviewer's questions are not the answer.
        section.figures_for = (
            FiguresFor(speaker=candidate, rule=rule)
            if own is not None
            else FiguresFor(speaker=None, rule="everyone: the candidate said no word")
        )
        section.words_per_minute = chosen.words_per_minute
        section.pauses = chosen.pauses
        section.response_delay_s = chosen.response_delay_s
        section.response_delay_basis = chosen.response_delay_basis
        section.response_delays = chosen.response_delays
        section.fillers = chosen.fillers
        section.pitch = chosen.pitch
        section.energy = chosen.energy
        section.voice = chosen.voice
        section.everyone = VoiceFigures(
            words_per_minute=everyone.words_per_minute,
            pauses=everyone.pauses,
            fillers=everyone.fillers,
            pitch=everyone.pitch,
            energy=everyone.energy,
            voice=everyone.voice,
        )
        section.voice_quality = voice.voice_quality(
            chunks, voice.frames_within(chunks, spans, "db")
        )
        return {"speech": section}


def model_workers(settings: Settings) -> tuple[int, int]:
    """CTranslate2 model workers and threads per worker: one worker per chunk the process
    analyses at once, the cores shared between them.

    One worker serialises concurrent chunks, and one chunk alone leaves cores idle while its
    speakers and voice are measured: two chunks of real dense speech at once with a worker and
    a thread each ran 11.6x real time on two cores, one chunk on both threads 7.4x
    (benchmarks/speech.py; +170 MiB for the second worker)."""
    workers = settings.analysis_threads
    return workers, settings.speech_cpu_threads or max(1, settings.cores // workers)


def _turns(chunks: list[SpeechPart], settings: Settings) -> tuple[list[speakers.Turn], str | None]:
    """Speaker turns over the video, or none and why."""
    windows = [speakers.SpeakerWindow.from_row(w) for c in chunks for w in c.speaker_windows]
    regions = [region for c in chunks for region in c.speech_regions]
    missing = next((c.speaker_model for c in chunks if c.speaker_model), None)
    if missing:
        return [], missing
    turns = speakers.diarize(
        windows,
        regions,
        min_similarity=settings.speech_speaker_min_similarity,
        max_speakers=settings.speech_max_speakers,
    )
    return turns, None


def _word_seconds(words: list[Word]) -> dict[str, float]:
    talk: dict[str, float] = {}
    for word in words:
        name = word.speaker or "S1"
        talk[name] = talk.get(name, 0.0) + word.end - word.start
    return talk


def _within(words: list[Word], span: QuestionSpan) -> list[Word]:
    """The words whose midpoint lies in the question's span."""
    return [w for w in words if span.start <= w.midpoint < span.end]


def _question(
    span: QuestionSpan, speaker: str | None, figures: SpeakerFigures | None
) -> QuestionSpeech:
    return QuestionSpeech(
        question_id=span.question_id,
        start=span.start,
        end=span.end,
        speaker=speaker,
        figures=figures,
    )


def _pitch_baseline(
    words: list[Word], candidate: str, chunks: list[SpeechPart], seconds: float
) -> PitchBaseline | None:
    """The candidate's median pitch over their first ``seconds`` from their first word, and
    over the rest of the video: a naturally low voice is not read as a change."""
    own = [w for w in words if w.speaker == candidate]
    if not own:
        return None
    start = own[0].start
    end = start + seconds
    early = voice.frames_within(chunks, [(w.start, w.end) for w in own if w.midpoint < end], "f0")
    late = voice.frames_within(chunks, [(w.start, w.end) for w in own if w.midpoint >= end], "f0")
    # As pitch_of: too few voiced frames give no figure.
    base = float(np.median(early)) if early.size >= voice.MIN_PITCH_FRAMES else None
    rest = float(np.median(late)) if late.size >= voice.MIN_PITCH_FRAMES else None
    return PitchBaseline(
        window=(round(start, 3), round(end, 3)),
        median_hz=None if base is None else round(base, 1),
        rest_median_hz=None if rest is None else round(rest, 1),
        change_semitones=None
        if base is None or rest is None
        else round(12 * float(np.log2(rest / base)), 2),
    )


def _candidate(talk: dict[str, float], named: str | None) -> tuple[str | None, str]:
    """The candidate and the rule that chose them: the upload's ``candidate_speaker`` when it
    names a speaker found, else whoever talks most."""
    if named and named in talk:
        return named, "metadata"
    if not talk:
        return None, "no_speech"
    best = max(sorted(talk), key=lambda name: talk[name])
    return best, "most_talk" if not named else f"most_talk (metadata named {named}, not found)"
