"""Filled pauses Whisper leaves out: found again in the gaps between the words it wrote.

Prompted with fillers (``fillers.FILLER_PROMPTS``), Whisper writes most hesitation sounds, but
not all, and which ones depends on the machine it runs on: on the real verbatim recording of
``../shared/data/fillers`` one build wrote all three ("um" 8.0 s, "uh" 14.5 s, "um" 22.9 s),
another only the first, the other two falling in gaps it left without words. So each gap
between words (and before the first, after the last) that has speech in it, by Silero, is
read again: the decoder is started at the gap's time on the encoding the chunk's decode
already made (a timestamp token as the prefix, the filler prompt before it) and reads a few
tokens from there. When the first word it reads is a hesitation sound, that word goes into
the transcript at the sound's time. A gap whose first word is an ordinary word (a word Whisper
skipped, another speaker) is left as it was, and so is a gap with a filled pause written just
beside it, which the decoder reads on into. This only adds filled pauses.

One short decoder pass per gap, on the encoder output already computed; no new encoder pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...schemas.parts import SegmentRow, WordRow

#: A gap shorter than this holds no hesitation sound besides its pauses (seconds).
MIN_GAP_S = 0.3
#: A run of speech that starts this close after the word before the gap is that word's end
#: (Whisper's word ends are estimates: "intensity." ended 0.4 s after its end time).
EDGE_S = 0.06
#: The least speech in a gap (its runs after the word before) and the longest stretch they
#: may span to be read again (seconds): a hesitation sound is about 0.2-1 s; longer is words.
MIN_SOUND_S = 0.15
MAX_SOUND_S = 1.5
#: The decoder starts this long before the sound (seconds): started inside it, it read
#: the rest of the sentence and skipped the "uh" of the verbatim recording.
LEAD_S = 0.08
#: Most gaps read again per chunk, those with the most speech first: bounds the cost on
#: dense speech.
MAX_GAPS = 8
#: A filled pause already written this close to the sound is that sound (seconds).
SAME_S = 0.3
#: A filled pause written beside the gap (the word just before or just after it, no word in
#: between) and at most this far from the sound is what the gap's read finds: the decoder
#: started in the gap reads on into it (seconds). On the verbatim recording an AMX machine's
#: decode wrote the "uh" at its time, right after a gap whose only sound was a breath; read
#: from the breath, the decoder gave " uh, we're" and the "uh" was written twice.
BESIDE_S = 1.0
#: The least probability of what is read for its hesitation sound to count: the three of the
#: verbatim recording read at 0.67-0.79; a meeting's "Mmm." (AMI trn04, someone agreeing) at
#: 0.31.
MIN_PROBABILITY = 0.5
#: Word times and gap edges in video time are the same time within this (seconds; sums of
#: rounded floats).
TIME_TOLERANCE_S = 1e-3


@dataclass(frozen=True)
class Gap:
    """A stretch between two words (seconds of the chunk) and the speech inside it: from its
    first run of speech frames to its last (the word before's tail left out)."""

    start: float
    end: float
    sound_start: float
    sound_end: float
    speech_s: float


def gaps(
    words: Sequence[tuple[float, float]],
    speech: tuple[float, float],
    probabilities: NDArray[Any],
    frame_s: float,
    threshold: float,
) -> list[Gap]:
    """The gaps of MIN_GAP_S or more between ``words`` ((start, end) in seconds of the chunk,
    in time order), and before the first and after the last within ``speech`` (where the
    chunk's speech starts and ends), with MIN_SOUND_S of Silero ``probabilities`` (a frame per
    ``frame_s``) at or above ``threshold`` in them, spanning at most MAX_SOUND_S; at most
    MAX_GAPS, those with the most speech."""
    edges = [speech[0], *(t for start, end in words for t in (start, end)), speech[1]]
    found: list[Gap] = []
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if end - start < MIN_GAP_S:
            continue
        runs = _runs(probabilities >= threshold, frame_s, start, end)
        if runs and runs[0][0] < start + EDGE_S:
            runs = runs[1:]  # the word before, ending later than Whisper said
        speech_s = sum(b - a for a, b in runs)
        if runs and speech_s >= MIN_SOUND_S and runs[-1][1] - runs[0][0] <= MAX_SOUND_S:
            found.append(Gap(start, end, runs[0][0], runs[-1][1], speech_s))
    found.sort(key=lambda gap: (-gap.speech_s, gap.start))
    return sorted(found[:MAX_GAPS], key=lambda gap: gap.start)


def _runs(
    mask: NDArray[np.bool_], frame_s: float, start: float, end: float
) -> list[tuple[float, float]]:
    """The runs of ``mask``'s frames inside [start, end), in seconds, cut at its edges."""
    a = max(0, math.ceil(start / frame_s))
    b = min(mask.size, math.floor(end / frame_s))
    if b <= a:
        return []
    inside = np.concatenate(([False], mask[a:b], [False])).astype(np.int8)
    bounds = np.flatnonzero(np.diff(inside))
    return [
        ((a + int(on)) * frame_s, min(end, (a + int(off)) * frame_s))
        for on, off in zip(bounds[::2], bounds[1::2], strict=True)
    ]


def first_word(text: str) -> str:
    """The first word of decoded ``text`` as Whisper writes words: its leading space and the
    punctuation attached to it (" Um," of " Um, this is")."""
    stripped = text.lstrip()
    if not stripped:
        return ""
    return " " + stripped.split(maxsplit=1)[0]


def recover(
    rows: list[SegmentRow],
    offset: float,
    found: Sequence[Gap],
    read_at: Callable[[float], tuple[str, float]],
    is_filled_pause: Callable[[str], bool],
) -> int:
    """Read each gap again (``read_at(seconds of the chunk)`` gives the decoded text from there
    and its probability) and put each hesitation sound read first into ``rows`` (times from
    the video start, ``offset`` its chunk's start), in the row it falls in or the one before.
    A gap whose sound is a filled pause already written (``_written``) is not read.
    Returns how many were added."""
    kept = [row for row in rows if row.flag is None and row.words]
    if not kept:
        return 0
    added = 0
    for gap in found:
        if _written(kept, gap, offset, is_filled_pause):
            continue
        text, probability = read_at(max(gap.start, gap.sound_start - LEAD_S))
        word = first_word(text)
        if probability < MIN_PROBABILITY or not word or not is_filled_pause(word):
            continue
        start, end = offset + gap.sound_start, offset + gap.sound_end
        filler = WordRow(
            start=round(start, 3),
            end=round(end, 3),
            word=word,
            probability=round(min(1.0, max(0.0, probability)), 4),
        )
        _insert(kept, filler)
        added += 1
    return added


def _written(
    rows: list[SegmentRow], gap: Gap, offset: float, is_filled_pause: Callable[[str], bool]
) -> bool:
    """Whether the gap's sound is a filled pause already written (video times, ``offset`` the
    chunk's start): one starting within SAME_S of the sound, or one just beside the gap (the
    word that ends where it starts or starts where it ends) within BESIDE_S of the sound,
    which the gap's read would run on into."""
    start, end = offset + gap.sound_start, offset + gap.sound_end
    gap_start, gap_end = offset + gap.start, offset + gap.end
    for row in rows:
        for word in row.words:
            if not is_filled_pause(word.word):
                continue
            if abs(word.start - start) <= SAME_S:
                return True
            beside = (
                abs(word.end - gap_start) < TIME_TOLERANCE_S
                or abs(word.start - gap_end) < TIME_TOLERANCE_S
            )
            if beside and max(0.0, start - word.end, word.start - end) <= BESIDE_S:
                return True
    return False


def _insert(rows: list[SegmentRow], word: WordRow) -> None:
    """``word`` into the row whose words it falls among, else the last row before it (the
    first row when none is), in time order; the row's text and span follow."""
    before = [row for row in rows if row.words[0].start <= word.start]
    row = before[-1] if before else rows[0]
    row.words.append(word)
    row.words.sort(key=lambda w: w.start)
    row.text = "".join(w.word for w in row.words).strip()
    row.start = min(row.start, word.start)
    row.end = max(row.end, word.end)
