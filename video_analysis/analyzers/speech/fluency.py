"""Fluency from timed words: speaking rate, pauses and the delay before the first word.

A silent gap of ``speech_min_pause_s`` (0.3 s) or more between words is a pause: shorter gaps
are articulation (stop closures, breaths between phrases run at 0.1-0.25 s); 0.25-0.3 s is the
usual threshold in fluency research (Goldman-Eisler's 0.25 s; de Jong & Bosker 2013 found
~0.25-0.3 s best).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ...schemas.speech import Pauses, Word, WordsPerMinute

# Pauses of 2 s or more are counted apart as long pauses (a lost thread, not a breath).
LONG_PAUSE_S = 2.0
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def pauses(words: Sequence[Word], min_pause: float) -> list[float]:
    """The gaps of at least ``min_pause`` seconds between consecutive ``words``."""
    gaps = [b.start - a.end for a, b in zip(words, words[1:], strict=False)]
    return [round(g, 3) for g in gaps if g >= min_pause]


@dataclass(frozen=True)
class TalkTime:
    """How long one speaker talked in some runs of their words (stretches no other speaker's
    word interrupts): the pauses, the time from each run's first word to its last, and that
    time without the pauses, which a speaking rate divides by."""

    pauses: list[float]
    spoken_s: float
    speaking_s: float


def talk_time(runs: Sequence[Sequence[Word]], min_pause: float) -> TalkTime:
    """The talk time of ``runs`` with pauses of ``min_pause`` seconds or more left out: the one
    definition behind every words-per-minute figure (a speaker's, a question's, the
    baseline's)."""
    gaps = [g for run in runs for g in pauses(run, min_pause)]
    spoken_s = sum(run[-1].end - run[0].start for run in runs if run)
    return TalkTime(gaps, spoken_s, max(0.0, spoken_s - sum(gaps)))


def words_per_minute(
    words: Sequence[Word],
    speaking_s: float,
    received_s: float,
    language: str | None,
) -> WordsPerMinute:
    """Words per minute of ``speaking_s`` and of ``received_s``; Korean also in syllables,
    over the share of the speaking time its Korean words take (each word's language, else
    ``language``): English passages of a Korean answer neither add syllables nor time."""
    syllables = None
    korean = [w for w in words if (w.language or language) == "ko"]
    if korean:
        # An eojeol (space-separated word) carries its particles: syllables are the usual
        # Korean rate measure too.
        count = sum(len(_HANGUL.findall(w.word)) for w in korean)
        every = sum(max(0.0, w.end - w.start) for w in words)
        share = sum(max(0.0, w.end - w.start) for w in korean) / every if every > 0 else 1.0
        syllables = round(count * 60 / max(1e-6, speaking_s * share), 1)
    return WordsPerMinute(
        speaking=round(len(words) * 60 / speaking_s, 1),
        overall=round(len(words) * 60 / received_s, 1) if received_s > 0 else None,
        words=len(words),
        speaking_s=round(speaking_s, 3),
        syllables_per_minute=syllables,
    )


def pause_summary(gaps: list[float], spoken_s: float, min_pause: float) -> Pauses:
    """Pauses of a speaker: ``gaps`` found in ``spoken_s`` seconds from first to last word."""
    return Pauses(
        count=len(gaps),
        mean_s=round(float(np.mean(gaps)), 3) if gaps else 0.0,
        longest_s=round(max(gaps), 3) if gaps else 0.0,
        total_s=round(sum(gaps), 3),
        long_count=sum(g >= LONG_PAUSE_S for g in gaps),
        per_min=round(len(gaps) * 60 / spoken_s, 2) if spoken_s > 0 else 0.0,
        min_pause_s=min_pause,
    )
