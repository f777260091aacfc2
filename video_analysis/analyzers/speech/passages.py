"""The languages inside one chunk: its speech cut at short pauses into pieces, each piece's
language, and the passages (consecutive pieces of one language) that are decoded each in its
own language.

Whisper decodes a whole chunk in one language. Forced to English, Korean comes out as nothing
(speech lost) and German as an English translation presented as what was said. So a chunk is
checked piece by piece when its speech may hold more than one language: before any decode
when Whisper, over the whole or over the first or last ``EDGE_S`` of its speech (a chunk is
cut at a pause, often where a passage ends), gives the chunk's language under ``CHECK_BELOW``
of the configured languages' probability or hears a language outside them (``unsure``);
after its decode when that left ``LOST_SPEECH_S`` of speech without a word or wrote that much
in another script (English words kept in Latin letters in a Korean decode, ``off_script``),
and then only the pieces concerned (``suspect``). A monolingual chunk costs one decoder pass
over the encoding its decode uses and two short encoder passes (``recognition.short_window``).

A piece takes a language other than the chunk's only on clear evidence (``piece_language``):
one of the configured languages at ``CLEAR_SHARE`` of their probability (``SHORT_SHARE`` for a
piece under ``SHORT_PIECE_S``: on one to three words of real spontaneous Korean, whisper-base
put English first at up to 0.90, while English words of GRID scored English at 0.969 or more),
or a language outside them that Whisper hears at ``OUTSIDE_SHARE`` of all its probability over
``OUTSIDE_MIN_S`` (a German passage is decoded as German, never translated; a short English
clip misread as Welsh scored under 0.6). Short or unclear pieces keep the chunk's language, so
the Welsh misreadings of short English clips stay fixed. A language the upload gives
(``metadata.language``) or the setting gives yields only to ``GIVEN_SHARE``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .language import LanguageSource, combine
from .voice import SAMPLE_RATE

#: Pieces: speech cut where Silero hears this long a pause (Whisper's own VAD cuts at 2 s).
PIECE_PAUSE_MS = 300
#: A chunk with less speech than this is one passage.
MIN_CHECK_S = 3.0
#: The chunk's language under this share of the configured languages' probability, or a
#: language outside them at ``OUTSIDE_SUSPECT`` of all of it: checked. Far-field English of
#: AMI often holds under 0.9 of all Whisper's probability but not of en and ko's: checking it
#: there cost 73% more recognition on the AMI benchmark and changed no word.
CHECK_BELOW = 0.9
OUTSIDE_SUSPECT = 0.5
#: Speech without a decoded word over this many seconds: checked (a language decoded in
#: another one's words comes out empty).
LOST_SPEECH_S = 2.0
#: Speech at each edge of a chunk scored on its own (``edge``).
EDGE_S = 5.0
#: Pieces are at least this long where the speech allows (shorter ones are joined).
MIN_PIECE_S = 2.0
#: A pause this long ends a piece whatever its length: it is where one passage most likely
#: ends and another begins (a short sentence in another language at a chunk's edge, joined to
#: its neighbour across it, scored as neither language).
PASSAGE_PAUSE_S = 1.0
SHORT_PIECE_S = 5.0
CLEAR_SHARE = 0.8
SHORT_SHARE = 0.95
OUTSIDE_SHARE = 0.8
OUTSIDE_MIN_S = 5.0
GIVEN_SHARE = 0.95
SCRIPT_SHARE = 0.5
#: Scripts by the languages that write in them; a language not listed is not checked.
_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
SCRIPTS: dict[str, re.Pattern[str]] = {"ko": _HANGUL, "en": _LATIN, "de": _LATIN, "fr": _LATIN}

Chunk = dict[str, int]


@dataclass
class Piece:
    """A stretch of speech between pauses: its Silero chunks (samples of the chunk)."""

    chunks: list[Chunk]
    language: str | None = None  # None: not scored (short), or no clear evidence
    share: float = 0.0
    #: Decoded in the chunk's language, Whisper wrote it in another script: evidence that
    #: it is another language, so the scores need only favour one (``SCRIPT_SHARE``).
    off_script: bool = False
    #: The language Whisper hears best in it when that is none of the configured ones.
    outside: str | None = None
    outside_share: float = 0.0
    #: Whisper's scores of it, once taken (a chunk's first and last piece are, when no longer
    #: than ``EDGE_S``, as its edges are checked).
    scores: Mapping[str, float] | None = None

    @property
    def seconds(self) -> float:
        return speech_seconds(self.chunks)


@dataclass
class Passage:
    """Consecutive pieces in one language, decoded together in it."""

    language: str
    chunks: list[Chunk]

    @property
    def seconds(self) -> float:
        return speech_seconds(self.chunks)


def speech_seconds(chunks: Sequence[Chunk]) -> float:
    """Seconds of speech in Silero's ``chunks`` (samples of the chunk)."""
    return sum(c["end"] - c["start"] for c in chunks) / SAMPLE_RATE


def unsure(scores: Mapping[str, float], language: str, candidates: Sequence[str]) -> bool:
    """Whether Whisper's scores of a chunk's speech leave room for a second language in it:
    the chunk's language under ``CHECK_BELOW`` of the configured languages' probability, or a
    language outside them at ``OUTSIDE_SUSPECT`` of all of it."""
    listed = list(dict.fromkeys([*candidates, language]))
    if combine([(1.0, scores)], listed)[language] < CHECK_BELOW:
        return True
    top, p_top = next(iter(combine([(1.0, scores)], []).items()))
    return top not in listed and p_top >= OUTSIDE_SUSPECT


def edge(chunks: Sequence[Chunk], *, last: bool) -> list[Chunk]:
    """The first (or ``last``) ``EDGE_S`` of speech in ``chunks``: what a passage across the
    chunk's cut leaves on this side of it, cut short so its check is one short encoder pass."""
    keep = int(EDGE_S * SAMPLE_RATE)
    out: list[Chunk] = []
    for chunk in reversed(chunks) if last else chunks:
        if keep <= 0:
            break
        start, end = chunk["start"], chunk["end"]
        if end - start > keep:
            start, end = (end - keep, end) if last else (start, start + keep)
        out.append({"start": start, "end": end})
        keep -= end - start
    return out[::-1] if last else out


def pieces_of(chunks: Sequence[Chunk]) -> list[Piece]:
    """Silero's chunks at short pauses as pieces of at least ``MIN_PIECE_S`` of speech where
    they can be: fewer encoder passes, and a word or two is no evidence of a language. A
    shorter piece joins a neighbour across the shortest pause next to a short piece first
    (the earlier one on a tie), never across ``PASSAGE_PAUSE_S``."""
    pieces = [Piece(chunks=[chunk]) for chunk in chunks]

    def pause(k: int) -> int:
        return pieces[k + 1].chunks[0]["start"] - pieces[k].chunks[-1]["end"]

    longest = PASSAGE_PAUSE_S * SAMPLE_RATE
    while True:
        joinable = [
            k
            for k in range(len(pieces) - 1)
            if min(pieces[k].seconds, pieces[k + 1].seconds) < MIN_PIECE_S and pause(k) < longest
        ]
        if not joinable:
            return pieces
        k = min(joinable, key=lambda j: (pause(j), j))
        pieces[k].chunks.extend(pieces.pop(k + 1).chunks)


def piece_language(
    scores: Mapping[str, float],
    seconds: float,
    *,
    around: str,
    candidates: Sequence[str],
    source: LanguageSource,
    off_script: bool = False,
) -> tuple[str | None, float]:
    """A piece's own language and its share, or (None, share) when the evidence does not
    overrule ``around``, the chunk's language (see the module notes)."""
    everything = combine([(1.0, scores)], [])
    outside, p_outside = next(iter(everything.items()))
    if (
        outside not in candidates
        and outside != around
        and p_outside >= OUTSIDE_SHARE
        and seconds >= OUTSIDE_MIN_S
        and source not in ("metadata", "setting")
    ):
        return outside, p_outside
    allowed = list(dict.fromkeys([*candidates, around]))
    shares = combine([(1.0, scores)], allowed)
    best, p_best = next(iter(shares.items()))
    if best == around:
        return around, p_best
    if off_script and SCRIPTS.get(best) is not SCRIPTS.get(around):
        needed = SCRIPT_SHARE
    elif source in ("metadata", "setting"):
        needed = GIVEN_SHARE
    else:
        needed = SHORT_SHARE if seconds < SHORT_PIECE_S else CLEAR_SHARE
    return (best, p_best) if p_best >= needed else (None, p_best)


def passages(pieces: Sequence[Piece], around: str) -> list[Passage]:
    """The pieces joined into passages of one language: a piece without its own language
    takes the one before it (the first ones the one after, else ``around``)."""
    known = [p.language for p in pieces]
    first = next((lang for lang in known if lang is not None), around)
    out: list[Passage] = []
    current = first
    for piece in pieces:
        current = piece.language or current
        if out and out[-1].language == current:
            out[-1].chunks.extend(piece.chunks)
        else:
            out.append(Passage(language=current, chunks=list(piece.chunks)))
    return out


def suspect(
    piece: Piece,
    words: Sequence[tuple[float, float]],
    off_script: Sequence[tuple[float, float]],
) -> bool:
    """Whether a piece of a decoded chunk may be in another language: half of its speech
    under no word, or a row in another script over it (times in seconds of the chunk; the
    piece is marked ``off_script`` then)."""
    start = piece.chunks[0]["start"] / SAMPLE_RATE
    end = piece.chunks[-1]["end"] / SAMPLE_RATE
    piece.off_script = any(a < end and b > start for a, b in off_script)
    return piece.off_script or unheard_seconds(piece.chunks, words) >= 0.5 * piece.seconds


def score_pieces(
    pieces: Sequence[Piece],
    score: Callable[[list[Chunk]], Mapping[str, float]],
    *,
    around: str,
    candidates: Sequence[str],
    source: LanguageSource,
) -> None:
    """Each piece not yet given a language scored (one Whisper encoder pass) and its
    language set where the evidence is clear; a run of neighbouring pieces in which Whisper
    clearly hears one language outside the configured ones, together at least
    ``OUTSIDE_MIN_S``, takes that language (sentences of a German passage are a few seconds
    each)."""
    listed = set(candidates) | {around}
    for piece in pieces:
        if piece.language is not None:
            continue  # heard in the chunk's language by its decode
        scores = piece.scores if piece.scores is not None else score(piece.chunks)
        piece.language, piece.share = piece_language(
            scores,
            piece.seconds,
            around=around,
            candidates=candidates,
            source=source,
            off_script=piece.off_script,
        )
        top, p_top = next(iter(combine([(1.0, scores)], []).items()))
        if top not in listed and p_top >= OUTSIDE_SUSPECT:
            piece.outside, piece.outside_share = top, p_top
    if source not in ("metadata", "setting"):
        for run in _outside_runs(pieces):
            clear = max(p.outside_share for p in run) >= OUTSIDE_SHARE
            if clear and sum(p.seconds for p in run) >= OUTSIDE_MIN_S:
                for member in run:
                    member.language, member.share = member.outside, member.outside_share


def _outside_runs(pieces: Sequence[Piece]) -> list[list[Piece]]:
    """Runs of consecutive pieces in which Whisper hears best one and the same language
    outside the configured ones."""
    runs: list[list[Piece]] = []
    for k, piece in enumerate(pieces):
        if piece.outside is None:
            continue
        if (
            runs
            and k > 0
            and runs[-1][-1] is pieces[k - 1]
            and runs[-1][-1].outside == piece.outside
        ):
            runs[-1].append(piece)
        else:
            runs.append([piece])
    return runs


def unheard_seconds(
    chunks: Sequence[Chunk], words: Sequence[tuple[float, float]], offset_s: float = 0.0
) -> float:
    """Seconds of speech (``chunks``, samples of the chunk) under no decoded word
    (``words``: start, end in seconds of the chunk), with a little slack around each word."""
    slack = 0.3
    spans: list[tuple[float, float]] = []
    for a, b in sorted((a - slack - offset_s, b + slack - offset_s) for a, b in words):
        if spans and a <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], b))
        else:
            spans.append((a, b))
    total = 0.0
    for chunk in chunks:
        start, end = chunk["start"] / SAMPLE_RATE, chunk["end"] / SAMPLE_RATE
        covered = 0.0
        for a, b in spans:
            lo, hi = max(a, start), min(b, end)
            if hi > lo:
                covered += hi - lo
        total += max(0.0, (end - start) - covered)
    return total


def off_script(
    words: Sequence[tuple[float, float, str]], language: str
) -> list[tuple[float, float]]:
    """The decoded words (start, end, text) written in another script than ``language``'s:
    Whisper kept to the words it heard (English words in a Korean decode come out in Latin
    letters), so they are in another language than they were decoded in. A word needs two
    letters; a language whose script is not listed is not checked."""
    own = SCRIPTS.get(language)
    if own is None:
        return []
    spans = []
    for start, end, text in words:
        letters = [c for c in text if c.isalpha()]
        if len(letters) >= 2 and not any(own.match(c) for c in letters):
            spans.append((start, end))
    return spans
