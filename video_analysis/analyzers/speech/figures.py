"""The figures of one speaker: rate, pauses, fillers, pitch, energy and response delay.

A speaker's words are taken in runs: a run ends where another speaker's word comes between.
Pauses are gaps inside a run (a gap while someone else talks is not a pause of this speaker);
speaking time is the runs' time without their pauses. Pitch and energy are read from the
frames under the speaker's own words.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from . import fluency, voice
from .fillers import count_fillers, filler_method, fillers_figures


def runs_of(words: list[dict[str, Any]], speaker: str | None) -> list[list[dict[str, Any]]]:
    """The speaker's words (all words when ``speaker`` is None) in runs not interrupted by
    another speaker's word; ``words`` are in time order."""
    runs: list[list[dict[str, Any]]] = []
    previous: str | None = None
    for word in words:
        own = speaker is None or word.get("speaker") == speaker
        if own:
            if runs and previous == "own":
                runs[-1].append(word)
            else:
                runs.append([word])
        previous = "own" if own else "other"
    return runs


def response_delays(words: list[dict[str, Any]], speaker: str) -> list[dict[str, Any]]:
    """Each time ``speaker`` takes over from another speaker: after whom, when, and the gap
    from the other's last word to their first (negative when they start before it ends)."""
    out = []
    for before, word in zip(words, words[1:], strict=False):
        if word.get("speaker") == speaker and before.get("speaker") not in (speaker, None):
            out.append(
                {
                    "after": before["speaker"],
                    "at": round(float(word["start"]), 3),
                    "delay_s": round(float(word["start"]) - float(before["end"]), 3),
                }
            )
    return out


def speaker_figures(
    words: list[dict[str, Any]],
    speaker: str | None,
    *,
    chunks: list[dict[str, Any]],
    language: str | None,
    min_pause: float,
    received_s: float,
) -> dict[str, Any] | None:
    """Fluency, fillers, pitch, energy and response delay of ``speaker`` (everyone when None);
    None when they said no word."""
    runs = runs_of(words, speaker)
    own = [w for run in runs for w in run]
    if not own:
        return None
    gaps = [g for run in runs for g in fluency.pauses(run, min_pause)]
    spoken_s = sum(float(run[-1]["end"]) - float(run[0]["start"]) for run in runs)
    speaking_s = max(1e-6, spoken_s - sum(gaps))
    found: Counter[str] = Counter()
    for run in runs:
        found += count_fillers([str(w["word"]) for w in run], language)
    fillers: dict[str, Any] = {"count": None, "by_word": {}, "per_min": None}
    method = filler_method(chunks, language)
    if method != "unsupported_language":
        fillers = fillers_figures(found, language, speaking_s)
    fillers["method"] = method
    spans = [(float(w["start"]), float(w["end"])) for w in own]
    delays = response_delays(words, speaker) if speaker is not None else []
    first = float(own[0]["start"])
    return {
        "words_per_minute": fluency.words_per_minute(own, speaking_s, received_s, language),
        "pauses": fluency.pause_summary(gaps, spoken_s, min_pause),
        "fillers": fillers,
        "pitch": voice.pitch_of(voice.frames_within(chunks, spans, "f0")),
        "energy": voice.energy_of(voice.frames_within(chunks, spans, "db")),
        "first_word_s": round(first, 3),
        "response_delays": delays,
        # Answering someone: the typical gap after them; alone on the recording: the time
        # before the first word.
        "response_delay_s": round(float(np.median([d["delay_s"] for d in delays])), 3)
        if delays
        else round(first, 3),
        "response_delay_basis": "median_after_other_speakers" if delays else "from_video_start",
        "confidence": round(float(np.mean([float(w["probability"]) for w in own])), 4),
    }
