"""Filled pauses found again in the gaps between words (``analyzers/speech/hesitations.py``)
and where a time of the chunk lies in its joined speech (``recognition.joined_seconds``).
Real speech: ``test_real_speech.py``."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from video_analysis.analyzers.speech import hesitations
from video_analysis.analyzers.speech.fillers import is_filled_pause
from video_analysis.analyzers.speech.recognition import joined_seconds
from video_analysis.schemas.parts import SegmentRow, WordRow

FRAME_S = 0.032


def probabilities(seconds: float, *speech: tuple[float, float]) -> np.ndarray:
    """Silero-like frames: 0.9 inside the ``speech`` spans, 0.05 elsewhere."""
    p = np.full(int(seconds / FRAME_S) + 1, 0.05, dtype=np.float32)
    for start, end in speech:
        p[int(start / FRAME_S) : int(end / FRAME_S)] = 0.9
    return p


def test_a_gap_with_speech_after_the_word_before_is_read_again() -> None:
    words = [(0.5, 1.0), (1.0, 1.5), (3.0, 3.4)]
    # "um" at 2.2-2.6; the word before runs on past its end time, to 1.7.
    p = probabilities(4.0, (0.5, 1.7), (2.2, 2.6), (3.0, 3.4))
    [gap] = hesitations.gaps(words, (0.4, 3.6), p, FRAME_S, 0.5)
    assert (gap.start, gap.end) == (1.5, 3.0)
    assert gap.sound_start == pytest.approx(2.2, abs=FRAME_S)
    assert gap.sound_end == pytest.approx(2.6, abs=FRAME_S)


def test_silent_gaps_short_gaps_and_long_speech_are_not_read() -> None:
    words = [(0.5, 1.0), (1.2, 1.5), (3.0, 3.4), (7.0, 7.5)]
    p = probabilities(8.0, (1.25, 1.35), (3.6, 6.5))  # a click; three seconds of words
    assert hesitations.gaps(words, (0.4, 7.6), p, FRAME_S, 0.5) == []


def test_at_most_max_gaps_with_the_most_speech_are_read() -> None:
    words = [(k * 1.0, k * 1.0 + 0.3) for k in range(20)]
    sounds = [(k * 1.0 + 0.5, k * 1.0 + 0.5 + 0.1 + 0.02 * k) for k in range(19)]
    found = hesitations.gaps(words, (0.0, 19.3), probabilities(20.0, *sounds), FRAME_S, 0.5)
    assert len(found) == hesitations.MAX_GAPS
    assert [g.start for g in found] == sorted(g.start for g in found)
    assert min(g.start for g in found) >= 10.0  # the longer sounds, later in this chunk


def test_first_word_keeps_whispers_spelling() -> None:
    assert hesitations.first_word(" Um, this is") == " Um,"
    assert hesitations.first_word("uh") == " uh"
    assert hesitations.first_word("  ") == ""


def _rows() -> list[SegmentRow]:
    def row(*words: tuple[float, float, str]) -> SegmentRow:
        ws = [WordRow(start=a, end=b, word=w, probability=0.9) for a, b, w in words]
        return SegmentRow(
            start=ws[0].start,
            end=ws[-1].end,
            text="".join(w.word for w in ws).strip(),
            avg_logprob=-0.2,
            no_speech_prob=0.01,
            compression_ratio=1.2,
            words=ws,
        )

    return [
        row((10.5, 10.9, " I"), (10.9, 11.2, " think"), (12.8, 13.1, " so.")),
        row((14.0, 14.3, " And"), (14.3, 14.6, " then")),
    ]


def _gap(start: float, end: float, sound_start: float, sound_end: float) -> hesitations.Gap:
    return hesitations.Gap(start, end, sound_start, sound_end, sound_end - sound_start)


def test_a_hesitation_read_first_goes_into_the_row_at_its_time() -> None:
    rows = _rows()
    reads: list[float] = []

    def read_at(at_s: float) -> tuple[str, float]:
        reads.append(at_s)
        return (" Um, so." if at_s < 2.0 else " And then", 0.8)

    found = [_gap(1.2, 2.8, 1.6, 2.1), _gap(3.1, 4.0, 3.3, 3.7)]
    added = hesitations.recover(rows, 10.0, found, read_at, partial(is_filled_pause, language="en"))
    assert added == 1
    assert reads == [pytest.approx(1.52), pytest.approx(3.22)]  # LEAD_S before each sound
    assert [w.word for w in rows[0].words] == [" I", " think", " Um,", " so."]
    um = rows[0].words[2]
    assert (um.start, um.end, um.probability) == (11.6, 12.1, 0.8)
    assert rows[0].text == "I think Um, so."
    assert [w.word for w in rows[1].words] == [" And", " then"]


def test_before_the_first_word_and_between_rows() -> None:
    rows = _rows()
    found = [_gap(0.2, 0.5, 0.25, 0.45), _gap(3.1, 4.0, 3.3, 3.7)]
    hesitations.recover(
        rows, 10.0, found, lambda at_s: (" uh", 0.7), partial(is_filled_pause, language="en")
    )
    assert rows[0].words[0].word == " uh" and rows[0].start == 10.25
    assert rows[0].words[-1].word == " uh" and rows[0].end == 13.7  # after "so.", its row's


def test_unsure_reads_words_and_sounds_already_written_add_nothing() -> None:
    rows = _rows()
    rows[1].words.insert(0, WordRow(start=13.5, end=13.8, word=" um", probability=0.9))
    cases = {
        (1.2, 2.8, 1.6, 2.1): (" Um,", 0.4),  # not sure enough
        (1.3, 2.8, 1.7, 2.2): (" so", 0.9),  # a word Whisper skipped: not a filler
        (3.1, 4.0, 3.4, 3.9): (" Um", 0.9),  # the "um" at 13.5 is that one
    }
    found = [_gap(*key) for key in cases]
    before = [[w.word for w in row.words] for row in rows]
    added = hesitations.recover(
        rows,
        10.0,
        found,
        lambda at_s: next(
            v for k, v in cases.items() if abs(k[2] - hesitations.LEAD_S - at_s) < 1e-6
        ),
        partial(is_filled_pause, language="en"),
    )
    assert added == 0
    assert [[w.word for w in row.words] for row in rows] == before


def test_a_gap_beside_a_filled_pause_written_at_its_time_adds_nothing() -> None:
    """On the verbatim recording Whisper wrote the "uh" at its time, right after a gap whose
    only sound was a breath; read from the breath the decoder reads on into that "uh": one
    "uh", not two. A filled pause beside a gap but far from its sound is not that sound."""
    rows = _rows()
    # " so." ends at 13.1 and " And" starts at 14.0: an "uh," written at 13.7-13.9 is the
    # word after the gap 13.1-13.7, whose sound (a breath) is at 13.3-13.45.
    rows[1].words.insert(0, WordRow(start=13.7, end=13.9, word=" uh,", probability=0.7))
    # " think" ends at 11.2: an "um" at 11.2-11.3 is the word before the gap 11.3-12.8, but
    # 1.1 s from its sound at 12.4-12.7, which is a hesitation of its own.
    rows[0].words.insert(2, WordRow(start=11.2, end=11.3, word=" um", probability=0.7))
    found = [_gap(1.3, 2.8, 2.4, 2.7), _gap(3.1, 3.7, 3.3, 3.45)]
    added = hesitations.recover(
        rows, 10.0, found, lambda at_s: (" uh, and", 0.6), partial(is_filled_pause, language="en")
    )
    assert added == 1
    assert [(w.start, w.word) for w in rows[0].words] == [
        (10.5, " I"),
        (10.9, " think"),
        (11.2, " um"),
        (12.4, " uh,"),
        (12.8, " so."),
    ]
    assert [(w.start, w.word) for w in rows[1].words] == [
        (13.7, " uh,"),
        (14.0, " And"),
        (14.3, " then"),
    ]


def test_a_time_of_the_chunk_in_its_joined_speech() -> None:
    chunks = [{"start": 16_000, "end": 48_000}, {"start": 80_000, "end": 96_000}]  # 1-3 s, 5-6 s
    assert joined_seconds(chunks, 0.5) == 0.0  # before the speech: its start
    assert joined_seconds(chunks, 2.0) == 1.0
    assert joined_seconds(chunks, 4.0) == 2.0  # between chunks: the next one's start
    assert joined_seconds(chunks, 5.5) == 2.5
    assert joined_seconds(chunks, 9.0) == 3.0  # after: its end
