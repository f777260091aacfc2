"""Fluency from timed words: speaking rate, pauses and the delay before the first word.

A silent gap of ``speech_min_pause_s`` (0.3 s) or more between words is a pause: shorter gaps
are articulation (stop closures, breaths between phrases run at 0.1-0.25 s); 0.25-0.3 s is the
usual threshold in fluency research (Goldman-Eisler's 0.25 s; de Jong & Bosker 2013 found
~0.25-0.3 s best).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

# Pauses of 2 s or more are counted apart as long pauses (a lost thread, not a breath).
LONG_PAUSE_S = 2.0
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def pauses(words: list[dict[str, Any]], min_pause: float) -> list[float]:
    gaps = [float(b["start"]) - float(a["end"]) for a, b in zip(words, words[1:], strict=False)]
    return [round(g, 3) for g in gaps if g >= min_pause]


def words_per_minute(
    words: list[dict[str, Any]],
    speaking_s: float,
    received_s: float,
    language: str | None,
) -> dict[str, Any]:
    wpm: dict[str, Any] = {
        "speaking": round(len(words) * 60 / speaking_s, 1),
        "overall": round(len(words) * 60 / received_s, 1) if received_s > 0 else None,
        "words": len(words),
        "speaking_s": round(speaking_s, 3),
    }
    if language == "ko":
        # An eojeol (space-separated word) carries its particles: syllables are the usual
        # Korean rate measure too.
        syllables = sum(len(_HANGUL.findall(str(w["word"]))) for w in words)
        wpm["syllables_per_minute"] = round(syllables * 60 / speaking_s, 1)
    return wpm


def pause_summary(gaps: list[float], spoken_s: float, min_pause: float) -> dict[str, Any]:
    """Pauses of a speaker: ``gaps`` found in ``spoken_s`` seconds from first to last word."""
    return {
        "count": len(gaps),
        "mean_s": round(float(np.mean(gaps)), 3) if gaps else 0.0,
        "longest_s": round(max(gaps), 3) if gaps else 0.0,
        "total_s": round(sum(gaps), 3),
        "long_count": sum(g >= LONG_PAUSE_S for g in gaps),
        "per_min": round(len(gaps) * 60 / spoken_s, 2) if spoken_s > 0 else 0.0,
        "min_pause_s": min_pause,
    }
