"""The transcript: Whisper segments as rows, hallucinations flagged, chunks stitched in time.

Per chunk, each faster-whisper segment becomes a row with its words (times from the video
start) and a ``flag`` when it looks invented. Per video, the kept rows of every chunk are put
in time order and the words repeated across a chunk edge are removed.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...schemas.parts import SegmentRow, SpeechPart, WordRow
from ...schemas.speech import HallucinationsDropped, LanguageShare, Segment, Word
from .activity import max_over
from .voice import HOP_S

# A hesitation sound's voicing: at least 3 voiced frames in a row (60 ms on the 20 ms grid).
SUSTAINED_VOICING_FRAMES = 3

# --- hallucination rules (Whisper's own fallback thresholds, applied to drop, not retry) -----
# "No speech" above 0.6 with a mean log-probability under -1: text made up over silence.
NO_SPEECH_PROB = 0.6
NO_SPEECH_LOGPROB = -1.0
# Every word under this probability: the model was guessing the whole segment.
MIN_WORD_PROBABILITY = 0.15
# A word's start is where its level rises to 25 dB under the loud frames of the chunk.
ONSET_BELOW_SPEECH_DB = 25.0
# Words at the end of a chunk's transcript with no speech under them (Silero below its own
# threshold over the whole word) are cut: Whisper goes on past the end of the audio ("... 이
# 영상은" after a short Korean answer; "1, 2, 3." after the ten Korean utterances joined, its
# "3." at probability 0.74, so a word's probability is no sign of it).
AFTER_SPEECH = "after_speech"

PUNCT = ".,!?;:…\"'“”‘’()[]-–—~"


def norm(word: str) -> str:
    """A word without surrounding punctuation, lower case: what fillers and duplicates match."""
    return word.strip().strip(PUNCT).lower()


def hallucination(
    *,
    compression_ratio: float,
    no_speech_prob: float,
    avg_logprob: float,
    word_probabilities: list[float],
    max_compression_ratio: float,
) -> str | None:
    """Why a segment looks invented (``repetition``, ``silence``, ``low_probability``), or
    None for a segment to keep."""
    if compression_ratio > max_compression_ratio:
        return "repetition"
    if no_speech_prob > NO_SPEECH_PROB and avg_logprob < NO_SPEECH_LOGPROB:
        return "silence"
    if word_probabilities and max(word_probabilities) < MIN_WORD_PROBABILITY:
        return "low_probability"
    if not word_probabilities:
        return "no_words"
    return None


def drop_after_speech(
    rows: list[SegmentRow],
    offset: float,
    speech_probability: NDArray[np.float32],
    frame_s: float,
    threshold: float,
) -> int:
    """Cut from the end of the chunk's kept rows the words decoded after its last speech:
    nothing heard under them (``speech_probability``, frames of ``frame_s`` from ``offset``,
    under ``threshold`` over the whole word). A row left without words is flagged
    ``after_speech``. Returns the number of words cut."""

    def unheard(word: WordRow) -> bool:
        start, end = word.start - offset, word.end - offset
        return max_over(speech_probability, frame_s, start, end) < threshold

    cut = 0
    for row in reversed([r for r in rows if r.flag is None]):
        while row.words and unheard(row.words[-1]):
            row.words.pop()
            row.words_after_speech += 1
            cut += 1
        if row.words:
            if row.words_after_speech:
                row.end = row.words[-1].end
                row.text = "".join(w.word for w in row.words).strip()
            break
        row.flag = AFTER_SPEECH
    return cut


def decode_failed(row: SegmentRow, max_compression_ratio: float) -> bool:
    """Whisper's own test of a decode worth redoing (faster-whisper's thresholds): a
    repetition loop, or a low mean log-probability where the model does not think it heard
    silence."""
    return row.compression_ratio > max_compression_ratio or (
        row.avg_logprob < NO_SPEECH_LOGPROB and row.no_speech_prob <= NO_SPEECH_PROB
    )


def better_decode(
    first: list[SegmentRow], second: list[SegmentRow], max_compression_ratio: float
) -> list[SegmentRow]:
    """Of two decodes of the same audio, the one with fewer failed segments; on a tie the one
    with the higher mean log-probability (weighted by segment length); else ``first``."""

    def rank(rows: list[SegmentRow]) -> tuple[int, float]:
        failed = sum(decode_failed(row, max_compression_ratio) for row in rows)
        seconds = sum(max(0.0, row.end - row.start) for row in rows)
        logprob = (
            sum(row.avg_logprob * max(0.0, row.end - row.start) for row in rows) / seconds
            if seconds
            else 0.0
        )
        return -failed, logprob

    return second if rank(second) > rank(first) else first


def segment_row(seg: Any, offset: float, max_compression_ratio: float) -> SegmentRow:
    """A faster-whisper segment as a row, times from the video start, flagged or not."""
    words = [
        WordRow(
            start=round(float(w.start) + offset, 3),
            end=round(float(w.end) + offset, 3),
            word=str(w.word),
            probability=round(float(w.probability), 4),
        )
        for w in (seg.words or [])
        if str(w.word).strip()
    ]
    row = SegmentRow(
        start=round(float(seg.start) + offset, 3),
        end=round(float(seg.end) + offset, 3),
        text=str(seg.text).strip(),
        avg_logprob=round(float(seg.avg_logprob), 4),
        no_speech_prob=round(float(seg.no_speech_prob), 4),
        compression_ratio=round(float(seg.compression_ratio), 4),
        words=words,
    )
    row.flag = flag_of(row, max_compression_ratio)
    return row


def flag_of(row: SegmentRow, max_compression_ratio: float) -> str | None:
    """Why the row looks invented (see ``hallucination``), or None."""
    return hallucination(
        compression_ratio=row.compression_ratio,
        no_speech_prob=row.no_speech_prob,
        avg_logprob=row.avg_logprob,
        word_probabilities=[w.probability for w in row.words],
        max_compression_ratio=max_compression_ratio,
    )


def onset_threshold(rms_db: NDArray[Any]) -> float:
    """Frame level above which the voice has started: 25 dB under the loud frames (90th
    percentile), never under -55 dBFS."""
    if rms_db.size == 0:
        return 0.0
    return max(-55.0, float(np.percentile(rms_db, 90)) - ONSET_BELOW_SPEECH_DB)


def refine_first_word(
    row: SegmentRow, offset: float, rms_db: NDArray[Any], threshold: float
) -> None:
    """Whisper puts a word after silence up to ~0.4 s early; move its start to where the
    level first rises, when that is inside the word."""
    if row.words:
        onset = _first_frame(row.words[0], offset, rms_db >= threshold)
        if onset is not None:
            row.words[0].start = onset
            row.start = max(row.start, onset)


def refine_filled_pauses(
    rows: list[SegmentRow],
    offset: float,
    voiced: NDArray[np.bool_],
    is_filled_pause: Callable[[str], bool],
) -> None:
    """A hesitation sound ("um", "uh") is voiced from its first moment: in each of ``rows``,
    move its start to
    its first voiced frame when Whisper put it earlier. On the real verbatim recording of
    ../shared/data/fillers Whisper started an "uh" 0.28 s early, in breath noise only 6 dB
    under the voice, where the level rule cannot see the onset. Voicing counts from its
    first run of ``SUSTAINED_VOICING_FRAMES``: single voiced frames turn up in noise."""
    sustained = _runs_of_at_least(voiced, SUSTAINED_VOICING_FRAMES)
    for row in rows:
        for word in row.words:
            if is_filled_pause(word.word):
                onset = _first_frame(word, offset, sustained)
                if onset is not None:
                    word.start = onset
                    if word is row.words[0]:
                        row.start = max(row.start, onset)


def _runs_of_at_least(mask: NDArray[np.bool_], frames: int) -> NDArray[np.bool_]:
    """``mask`` without its runs shorter than ``frames``."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    out = np.zeros_like(mask, dtype=bool)
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - start >= frames:
            out[start:stop] = True
    return out


def _first_frame(word: WordRow, offset: float, mask: NDArray[np.bool_]) -> float | None:
    """The time of the first frame of ``mask`` (``HOP_S`` frames from ``offset``) inside
    the word, when that is after its start."""
    a = max(0, int((word.start - offset) / HOP_S))
    b = min(mask.size, int(math.ceil((word.end - offset) / HOP_S)))
    hit = np.flatnonzero(mask[a:b])
    if not hit.size:
        return None
    onset = round(offset + (a + int(hit[0])) * HOP_S, 3)
    return onset if word.start < onset < word.end else None


# --- per video --------------------------------------------------------------------------------


def unique_chunks(parts: list[SpeechPart]) -> list[SpeechPart]:
    """The parts in time order, each once: keyed by start time, so a part delivered twice
    counts once."""
    unique = {part.start: part for part in parts}
    return [unique[k] for k in sorted(unique)]


def stitch(
    chunks: list[SpeechPart], max_compression_ratio: float
) -> tuple[list[Segment], HallucinationsDropped]:
    """Kept segments of every chunk in time order, words repeated across a chunk edge removed;
    and what was dropped as hallucinated. Segments are flagged again with this deployment's
    thresholds: the chunk may have been analysed by a worker with other settings."""
    reasons: Counter[str] = Counter()
    after_speech = 0
    segments: list[Segment] = []
    for chunk in chunks:
        own: list[Segment] = []
        for row in chunk.segments:
            after_speech += row.words_after_speech
            flag = AFTER_SPEECH if row.flag == AFTER_SPEECH else flag_of(row, max_compression_ratio)
            if flag is not None:
                reasons[flag] += 1
                continue
            own.append(segment_of(row))
        own.sort(key=lambda s: s.start)
        if segments and own:
            drop_edge_duplicates(segments, own)
        segments.extend(s for s in own if s.words)
    segments.sort(key=lambda s: s.start)
    dropped = HallucinationsDropped(
        count=sum(reasons.values()), by_reason=dict(reasons), words_after_speech=after_speech
    )
    return segments, dropped


def segment_of(row: SegmentRow) -> Segment:
    """A kept row of a part as a segment of the result (its own copy of the words)."""
    return Segment(
        start=row.start,
        end=row.end,
        text=row.text,
        avg_logprob=row.avg_logprob,
        no_speech_prob=row.no_speech_prob,
        compression_ratio=row.compression_ratio,
        language=row.language,
        words=[
            Word(
                start=w.start,
                end=w.end,
                word=w.word,
                probability=w.probability,
                language=row.language,
            )
            for w in row.words
        ],
    )


def drop_edge_duplicates(before: list[Segment], after: list[Segment]) -> None:
    """Remove from ``after``'s head the words that repeat ``before``'s tail at the same time
    (overlapping chunks, or a word whose timestamps spill over the cut)."""
    tail = [w for s in before for w in s.words][-8:]
    head = [w for s in after for w in s.words][:8]
    if not tail or not head:
        return
    drop = 0
    for k in range(min(len(tail), len(head)), 0, -1):
        same = [norm(a.word) for a in tail[-k:]] == [norm(b.word) for b in head[:k]]
        # Same words and the repeat starts while (or just after) the first copy was spoken.
        if same and head[0].start < tail[-k].end + 0.5:
            drop = k
            break
    if not drop:
        # A single word spilling over the cut: its copy starts before the last word ended.
        if norm(head[0].word) == norm(tail[-1].word) and head[0].start < tail[-1].end:
            drop = 1
        else:
            return
    for seg in after:
        while drop and seg.words:
            seg.words.pop(0)
            drop -= 1
        if seg.words:
            seg.start = seg.words[0].start
            seg.text = "".join(w.word for w in seg.words).strip()
        if not drop:
            break


def video_language(chunks: list[SpeechPart]) -> tuple[str | None, str | None]:
    """The language spoken longest over the chunks (each chunk is detected on its own)."""
    weight: defaultdict[str, float] = defaultdict(float)
    sources: dict[str, str] = {}
    for chunk in chunks:
        language = chunk.language
        if language:
            weight[language] += chunk.speech_s or 1e-3
            sources.setdefault(language, str(chunk.language_source))
    if not weight:
        return (None, None)
    language = max(weight, key=lambda lang: weight[lang])
    return language, sources.get(language)


def language_shares(segments: Sequence[Segment], main: str | None) -> list[LanguageShare]:
    """Each language of the transcript with its seconds and share of the segments' time,
    most spoken first; segments of older workers count as ``main``."""
    seconds: dict[str, float] = {}
    for segment in segments:
        language = segment.language or main
        if language is not None:
            seconds[language] = seconds.get(language, 0.0) + max(0.0, segment.end - segment.start)
    total = sum(seconds.values())
    if total <= 0:
        return []
    return [
        LanguageShare(language=name, speech_s=round(s, 3), share=round(s / total, 4))
        for name, s in sorted(seconds.items(), key=lambda item: -item[1])
    ]
