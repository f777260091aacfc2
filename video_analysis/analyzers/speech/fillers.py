"""Filler words in English and Korean transcripts.

Whisper leaves filler words out of its text. Prompting it with a sentence that itself contains
fillers makes it keep them (an espeak-ng "Um, ..., uh, ..." answer: none written without the
prompt, both with it), so English and Korean chunks are transcribed with such a prompt and the
result says so in ``fillers.method``. On the real AMI meeting excerpts the prompted base model
wrote "um" or "uh" in four of the seven excerpts with words.

Two kinds are counted apart, so that each figure says what it counts: *filled pauses*, the
hesitation sounds ("um", "uh", "er", 음, 어), and *lexical fillers*, ordinary words used as
fillers ("like,", "you know", "I mean", 그, 저, 뭐, 이제).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from ...schemas.parts import SpeechPart
from ...schemas.speech import FillerCounts, Fillers, Word
from .transcript import norm

FILLER_PROMPTS: dict[str, str] = {
    "en": "So, um, I was, uh, thinking that, um, we could, uh, you know, try it.",
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


def count_fillers(tokens: list[str], language: str | None) -> Counter[str]:
    """Filler words in a token list (words as Whisper writes them, punctuation attached)."""
    return Counter(name for _start, _length, name in filler_spans(tokens, language))


def filler_spans(tokens: Sequence[str], language: str | None) -> list[tuple[int, int, str]]:
    """Where the fillers are in a token list: (first token, tokens, filler's name) each, in
    order; "you know" spans two tokens. The report marks these; ``count_fillers`` counts them."""
    found: list[tuple[int, int, str]] = []
    if language not in (None, "en", "ko"):
        return found  # no rules for it: German "er" is a word, not an English "er"
    normed = [norm(t) for t in tokens]
    i = 0
    while i < len(tokens):
        word = normed[i]
        if not word:
            i += 1
            continue
        if language == "ko":
            if _KO_SOUNDS.match(word) or word in _KO_WORDS:
                found.append((i, 1, word if word in _KO_WORDS else word[0]))
            elif word in _KO_DETERMINERS and _set_off(tokens[i]):
                found.append((i, 1, word))
            i += 1
            continue
        if _EN_SOUNDS.match(word):
            found.append((i, 1, _en_sound(word)))
            i += 1
            continue
        for marker in _EN_MARKERS:
            k = len(marker)
            if tuple(normed[i : i + k]) == marker:
                if (i > 0 and _set_off(tokens[i - 1])) or _set_off(tokens[i + k - 1]):
                    found.append((i, k, " ".join(marker)))
                    i += k - 1
                    break
        i += 1
    return found


def speaker_runs(words: Sequence[Word]) -> list[list[Word]]:
    """``words`` (in time order) cut where the speaker or the language changes: the stretches
    fillers are found in, so that "you know" said by two people is no filler of either, and
    each stretch is read by its own language's rules."""
    runs: list[list[Word]] = []
    for word in words:
        last = runs[-1][-1] if runs else None
        if last is not None and (last.speaker, last.language) == (word.speaker, word.language):
            runs[-1].append(word)
        else:
            runs.append([word])
    return runs


def mark_fillers(words: Sequence[Word], language: str | None) -> None:
    """Set ``filler`` on each word that is (part of) a filler, found in each speaker's
    stretches of ``words`` as the fillers figures count them."""
    for run in speaker_runs(words):
        marked = {
            k
            for start, length, _name in filler_spans(
                [w.word for w in run], run[0].language or language
            )
            for k in range(start, start + length)
        }
        for k, word in enumerate(run):
            word.filler = k in marked


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


def is_filled_pause(word: str, language: str | None) -> bool:
    """Whether a filler as :func:`count_fillers` names it, or a word as Whisper writes it
    (" Um,"), is a hesitation sound (else a word)."""
    sound = norm(word)
    if language == "ko":
        return bool(_KO_SOUNDS.match(sound))
    return bool(_EN_SOUNDS.match(sound))


def fillers_figures(
    found: Counter[str], language: str | None, speaking_s: float, method: str
) -> Fillers:
    """The ``fillers`` of a speaker: every filler, and filled pauses and lexical fillers
    apart, each with its count, rate per minute of speaking and count by word; ``method``
    says how the transcript was made (``filler_method``)."""

    def figures(counts: Counter[str]) -> FillerCounts:
        count = sum(counts.values())
        return FillerCounts(
            count=count,
            per_min=round(count * 60 / speaking_s, 2) if speaking_s > 0 else 0.0,
            by_word=dict(counts.most_common()),
        )

    sounds = Counter({w: n for w, n in found.items() if is_filled_pause(w, language)})
    every = figures(found)
    return Fillers(
        count=every.count,
        per_min=every.per_min,
        by_word=every.by_word,
        filled_pauses=figures(sounds),
        lexical=figures(found - sounds),
        method=method,
    )


def filler_method(chunks: Sequence[SpeechPart], language: str | None) -> str:
    """How fillers of ``language`` are counted over ``chunks``: with Whisper's filler prompt
    on every chunk with speech, on a plain transcript, or not at all."""
    if language not in FILLER_PROMPTS:
        return "unsupported_language"
    spoken = [c for c in chunks if c.segments]
    if spoken and all(c.filler_prompt for c in spoken):
        return "whisper_filler_prompt"
    return "transcript"
