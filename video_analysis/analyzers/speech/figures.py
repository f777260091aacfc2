"""The figures of one speaker: rate, pauses, fillers, pitch, energy, voice measures and
response delay.

A speaker's words are taken in runs: a run ends where another speaker's word comes between.
Pauses are gaps inside a run (a gap while someone else talks is not a pause of this speaker);
speaking time is the runs' time without their pauses. Pitch, energy and harmonics-to-noise
ratio are read from the frames under the speaker's own words, jitter and shimmer from the
voiced stretches whose middle lies under them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from ...schemas.parts import SpeechPart
from ...schemas.speech import Fillers, ResponseDelay, ResponseDelayBasis, SpeakerFigures, Word
from . import activity, fluency, voice
from .fillers import count_fillers, filler_method, fillers_figures, speaker_runs


def runs_of(words: Sequence[Word], speaker: str | None) -> list[list[Word]]:
    """The speaker's words (all words when ``speaker`` is None) in runs not interrupted by
    another speaker's word; ``words`` are in time order."""
    if speaker is None:
        return [list(words)] if words else []
    return [run for run in speaker_runs(words) if run[0].speaker == speaker]


def takeover(before: Word, word: Word) -> ResponseDelay | None:
    """``word``'s speaker taking over from ``before``'s (None when it is the same speaker, or
    either is unknown): after whom, when, and the gap from the other's last word to their
    first (negative when they start before it ends). The one definition of a response delay:
    a speaker's, an answer's, a question's."""
    if word.speaker is None or before.speaker is None or before.speaker == word.speaker:
        return None
    return ResponseDelay(
        after=before.speaker, at=round(word.start, 3), delay_s=round(word.start - before.end, 3)
    )


def response_delays(words: Sequence[Word], speaker: str) -> list[ResponseDelay]:
    """Each time ``speaker`` takes over from another speaker in ``words`` (in time order)."""
    found = (takeover(a, b) for a, b in zip(words, words[1:], strict=False) if b.speaker == speaker)
    return [delay for delay in found if delay is not None]


def first_response_delay(words: Sequence[Word], speaker: str, since: float) -> float | None:
    """The delay before ``speaker``'s first word in ``words``: after the other speaker's word
    just before it, or else from ``since`` (a question's start); None when they said nothing."""
    for k, word in enumerate(words):
        if word.speaker == speaker:
            delay = takeover(words[k - 1], word) if k else None
            return delay.delay_s if delay is not None else round(word.start - since, 3)
    return None


def speaker_figures(
    words: Sequence[Word],
    speaker: str | None,
    *,
    chunks: Sequence[SpeechPart],
    language: str | None,
    min_pause: float,
    received_s: float,
    since: float = 0.0,
    since_basis: ResponseDelayBasis = "from_video_start",
) -> SpeakerFigures | None:
    """Fluency, fillers, pitch, energy, voice measures and response delay of ``speaker``
    (everyone when None)
    over ``words``; None when they said no word.

    ``received_s`` is the audio the words come from (the overall rate's denominator); without
    a take-over from another speaker, the response delay runs from ``since`` (the video's
    start, or a question's) to the first word, and ``since_basis`` names it.
    """
    runs = runs_of(words, speaker)
    own = [w for run in runs for w in run]
    if not own:
        return None
    talk = fluency.talk_time(runs, min_pause)
    gaps, spoken_s = talk.pauses, talk.spoken_s
    speaking_s = max(1e-6, talk.speaking_s)
    method = filler_method(chunks, language)
    if method == "unsupported_language":
        fillers = Fillers(method=method)
    else:
        found: Counter[str] = Counter()
        # Found in each speaker's own stretches, as ``mark_fillers`` marks the words.
        for run in runs if speaker is not None else speaker_runs(words):
            found += count_fillers([w.word for w in run], run[0].language or language)
        fillers = fillers_figures(found, language, speaking_s, method)
    spans = activity.union([(w.start, w.end) for w in own])
    db = voice.frames_within(chunks, spans, "db")
    delays = response_delays(words, speaker) if speaker is not None else []
    first = own[0].start
    return SpeakerFigures(
        words_per_minute=fluency.words_per_minute(own, speaking_s, received_s, language),
        pauses=fluency.pause_summary(gaps, spoken_s, min_pause),
        fillers=fillers,
        pitch=voice.pitch_of(voice.frames_within(chunks, spans, "f0"), db.size),
        energy=voice.energy_of(db),
        voice=voice.voice_measures_of(
            voice.stretches_within(chunks, spans),
            voice.frames_within(chunks, spans, "hnr"),
            db.size,
        ),
        first_word_s=round(first, 3),
        response_delays=delays,
        # Answering someone: the typical gap after them; alone: the time before the first
        # word.
        response_delay_s=round(float(np.median([d.delay_s for d in delays])), 3)
        if delays
        else round(first - since, 3),
        response_delay_basis="median_after_other_speakers" if delays else since_basis,
        confidence=round(float(np.mean([w.probability for w in own])), 4),
    )
