"""Fluency from timed words: speaking rate, pauses and the delay before the first word.

A silent gap of ``speech_min_pause_s`` (0.3 s) or more between words is a pause: shorter gaps
are articulation (stop closures, breaths between phrases run at 0.1-0.25 s); 0.25-0.3 s is the
usual threshold in fluency research (Goldman-Eisler's 0.25 s; de Jong & Bosker 2013 found
~0.25-0.3 s best).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ...schemas.speech import Pauses, Word, WordsPerMinute

# Pauses of 2 s or more are counted apart as long pauses (a lost thread, not a breath).
LONG_PAUSE_S = 2.0
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def pauses(words: Sequence[Word], min_pause: float) -> list[float]:
    """The gaps of at least ``min_pause`` seconds between consecutive ``words``."""
    gaps = [b.start - a.end for a, b in zip(words, words[1:], strict=False)]
    return [round(g, 3) for g in gaps if g >= min_pause]


def words_per_minute(
    words: Sequence[Word],
    speaking_s: float,
    received_s: float,
    language: str | None,
) -> WordsPerMinute:
    """Words per minute of ``speaking_s`` and of ``received_s``; Korean also in syllables."""
    syllables = None
    if language == "ko":
        # An eojeol (space-separated word) carries its particles: syllables are the usual
        # Korean rate measure too.
        count = sum(len(_HANGUL.findall(w.word)) for w in words)
        syllables = round(count * 60 / speaking_s, 1)
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
