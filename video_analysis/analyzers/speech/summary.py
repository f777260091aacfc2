"""The speech section of a video, from its speech parts (the join's side of the speech
analyzer): segments stitched in time order, words duplicated at chunk edges removed, flagged
segments dropped, speakers clustered over the whole video, and fluency, fillers, pitch,
energy, voice measures and voice quality over the video and over each question the upload's
metadata marks out, for the candidate and for everyone."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...schemas import QuestionSpan
from ...schemas.parts import PartData, SpeechPart
from ...schemas.reasons import Reason, reason
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
from ..base import SummaryInput
from . import activity, speakers, voice
from .figures import speaker_figures
from .fillers import mark_fillers
from .transcript import language_shares, stitch, unique_chunks, video_language

SPEAKER_METHOD = (
    "CAM++ speaker embeddings (3D-Speaker) of 1.5 s speech windows, "
    "average-linkage cosine clustering over the whole video"
)
OVERLAP_METHOD = "pyannote segmentation-3.0: P(two speakers) >= 0.5"


@dataclass(frozen=True)
class _Figures:
    """A speaker's figures over some words, over the video or over a question's span."""

    chunks: list[SpeechPart]
    language: str | None
    min_pause: float
    received_s: float

    def __call__(
        self, spoken: list[Word], speaker: str | None, span: QuestionSpan | None = None
    ) -> SpeakerFigures | None:
        return speaker_figures(
            spoken,
            speaker,
            chunks=self.chunks,
            language=self.language,
            min_pause=self.min_pause,
            received_s=self.received_s if span is None else span.end - span.start,
            since=0.0 if span is None else span.start,
            since_basis="from_video_start" if span is None else "from_question_start",
        )


def summarize_speech(parts: SummaryInput[PartData, SpeechPart]) -> SpeechSection:
    """The video's speech section from whatever speech parts arrived."""
    settings = parts.settings
    manifest = parts.manifest
    questions = manifest.metadata.questions
    chunks = unique_chunks(parts.audio)
    if not chunks:
        why = reason("no_audio_track" if not manifest.media.has_audio else "no_audio_received")
        unheard = [_question(q, None, None) for q in questions]
        return SpeechSection.not_assessed(why, questions=unheard)
    received_s = sum(c.duration_s for c in chunks)
    duration = float(manifest.media.duration_s or 0.0) or received_s
    coverage = min(1.0, received_s / duration) if duration > 0 else 0.0

    # Speakers first: the clustering is the build's peak of memory, and the words stitched
    # below are not needed for it (an hour's are 1.2 MiB).
    turns, speaker_note = _turns(chunks, settings)
    segments, dropped = stitch(chunks, settings.speech_max_compression_ratio)
    language, language_source = video_language(chunks)
    overlaps = activity.union([(a, b) for c in chunks for a, b in c.overlap_regions])
    segments = speakers.mark_overlaps(speakers.label_words(segments, turns), overlaps)
    words = [w for s in segments for w in s.words]
    mark_fillers(words, language)
    talk = speakers.talk_seconds(turns) or _word_seconds(words)
    total = sum(talk.values()) or 1.0
    candidate, rule = _candidate(talk, manifest.metadata.candidate_speaker)
    figures_of = _Figures(chunks, language, settings.speech_min_pause_s, received_s)
    per_speaker = {name: figures_of(words, name) for name in sorted(talk)}
    section = SpeechSection(
        coverage=round(coverage, 4),
        language=language,
        language_source=language_source,
        languages=language_shares(segments, language),
        hallucinations_dropped=dropped,
        audio_s=round(received_s, 3),
        turns=[Turn(start=t.start, end=t.end, speaker=t.speaker) for t in turns],
        pitch_baseline=_pitch_baseline(words, candidate, chunks, settings.baseline_s)
        if candidate
        else None,
        # Where two people speak at once: marked, not split between them. Each turn still
        # has one speaker (the voice that dominates its windows); words inside say ``overlap``.
        overlaps=Overlaps(
            count=len(overlaps),
            total_s=round(sum(b - a for a, b in overlaps), 3),
            regions=[OverlapRegion(start=round(a, 3), end=round(b, 3)) for a, b in overlaps],
            method=OVERLAP_METHOD,
            cannot_assess=speaker_note and speaker_note.english,
            cannot_assess_reason=speaker_note,
        ),
        speakers=Speakers(
            count=len(talk),
            talk_ratio={name: round(talk[name] / total, 4) for name in sorted(talk)},
            talk_s={name: round(talk[name], 3) for name in sorted(talk)},
            candidate=candidate,
            candidate_source=rule,
            cannot_assess=speaker_note and speaker_note.english,
            cannot_assess_reason=speaker_note,
            method=SPEAKER_METHOD,
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
        section.cannot(reason("no_speech" if not turns else "no_words"))
        section.transcript = ""
        return section
    everyone = figures_of(words, None)
    assert everyone is not None  # there are words
    own = per_speaker.get(candidate) if candidate is not None else None
    section.segments = segments
    return _with_figures(section, everyone, own, (candidate, rule), chunks)


def _with_figures(
    section: SpeechSection,
    everyone: SpeakerFigures,
    own: SpeakerFigures | None,
    chosen_by: tuple[str | None, str],
    chunks: list[SpeechPart],
) -> SpeechSection:
    """``section`` with its figures: the candidate's own (an interviewer's questions are not
    the answer) when they said a word, else everyone's; and everyone's beside them."""
    chosen = own if own is not None else everyone
    segments = section.segments
    section.confidence = everyone.confidence
    section.transcript = " ".join(s.text for s in segments).strip()
    candidate, rule = chosen_by
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
    spans = [(s.start, s.end) for s in segments]
    section.voice_quality = voice.voice_quality(chunks, voice.frames_within(chunks, spans, "db"))
    return section


def _turns(
    chunks: list[SpeechPart], settings: Settings
) -> tuple[list[speakers.Turn], Reason | None]:
    """Speaker turns over the video, or none and why."""
    windows = [speakers.SpeakerWindow.from_row(w) for c in chunks for w in c.speaker_windows]
    regions = [region for c in chunks for region in c.speech_regions]
    missing = next((c.speaker_model for c in chunks if c.speaker_model), None)
    if missing:
        return [], reason("speaker_model_missing", detail=missing)
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
