"""Answers that mix languages, on real speech: Korean (../shared/data/korean, spontaneous)
around English (GRID, read), in every order, one chunk as the service cuts them. Each part is
transcribed in the language it was spoken in, none is lost, and a passage inside another
language reads as it does alone (never a translation). Plus the rules of ``passages`` on
scores made up for them.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from numpy.typing import NDArray

from tests.real_data import (
    RATE,
    character_error_rate,
    edit_distance,
    grid_audio,
    grid_transcripts,
    korean_audio,
    korean_transcripts,
    needs_grid,
    needs_korean,
)
from tests.unit.test_real_speech import _speech, needs_models
from video_analysis.analyzers.speech import SpeechAnalyzer, passages
from video_analysis.analyzers.speech.passages import Piece
from video_analysis.schemas import SpeechSection
from video_analysis.settings import Settings

GAP_S = 0.5
KOREAN_BEFORE = ("KaiSpeech_000011", "KaiSpeech_000012")
KOREAN_AFTER = ("KaiSpeech_000014", "KaiSpeech_000016")
ENGLISH = ("sbia1a", "lwbsza", "sbwe5n")


# --- the rules, on made-up scores --------------------------------------------------------------


def _chunk(start_s: float, end_s: float) -> dict[str, int]:
    return {"start": int(start_s * RATE), "end": int(end_s * RATE)}


def _scores(**shares: float) -> dict[str, float]:
    """Whisper-like scores: the shares given, the rest spread over Welsh and Japanese (and a
    trace of every language the test names)."""
    base = {"en": 1e-4, "ko": 1e-4, "de": 1e-4, **shares}
    rest = max(0.0, 1.0 - sum(base.values()))
    return {**base, "cy": rest / 2 or 1e-6, "ja": rest / 2 or 1e-6}


def test_a_clear_piece_of_another_listed_language_takes_it() -> None:
    language, share = passages.piece_language(
        _scores(en=0.9, ko=0.05), 6.0, around="ko", candidates=["en", "ko"], source="detected"
    )
    assert (language, round(share, 2)) == ("en", 0.95)


def test_a_short_unclear_piece_keeps_the_language_around_it() -> None:
    # One to three Korean words scored English at up to 0.90 (language.py's notes).
    language, _share = passages.piece_language(
        _scores(en=0.85, ko=0.1), 2.0, around="ko", candidates=["en", "ko"], source="detected"
    )
    assert language is None


def test_a_language_outside_the_list_is_taken_only_when_clearly_spoken_and_long() -> None:
    german = _scores(de=0.9, en=0.05, ko=0.01)
    assert (
        passages.piece_language(
            german, 8.0, around="en", candidates=["en", "ko"], source="detected"
        )[0]
        == "de"
    )
    # A short English clip misread as Welsh scored under 0.6: never taken.
    welsh = _scores(cy=0.55, en=0.4, ko=0.01)
    assert passages.piece_language(
        welsh, 8.0, around="en", candidates=["en", "ko"], source="detected"
    )[0] in ("en", None)
    assert (
        passages.piece_language(
            german, 3.0, around="en", candidates=["en", "ko"], source="detected"
        )[0]
        != "de"
    )


def test_a_language_the_upload_gives_yields_only_to_near_certainty() -> None:
    fairly = _scores(en=0.9, ko=0.08)
    surely = _scores(en=0.99, ko=0.005)
    assert (
        passages.piece_language(
            fairly, 6.0, around="ko", candidates=["en", "ko"], source="metadata"
        )[0]
        is None
    )
    assert (
        passages.piece_language(
            surely, 6.0, around="ko", candidates=["en", "ko"], source="metadata"
        )[0]
        == "en"
    )


def test_pieces_join_into_passages_and_unclear_ones_take_the_language_before() -> None:
    pieces = [
        Piece([_chunk(0, 3)], "ko"),
        Piece([_chunk(3.5, 6)], None),
        Piece([_chunk(6.5, 10)], "en"),
        Piece([_chunk(10.5, 14)], "en"),
        Piece([_chunk(14.5, 18)], "ko"),
    ]
    out = passages.passages(pieces, around="en")
    assert [(p.language, round(p.seconds, 1)) for p in out] == [
        ("ko", 5.5),
        ("en", 7.0),
        ("ko", 3.5),
    ]
    # Leading pieces without a language take the first one found.
    lead = passages.passages([Piece([_chunk(0, 1)], None), Piece([_chunk(1, 4)], "en")], "ko")
    assert [p.language for p in lead] == ["en"]


def test_short_stretches_are_joined_before_they_are_scored() -> None:
    pieces = passages.pieces_of(
        [_chunk(0, 0.5), _chunk(0.8, 1.4), _chunk(2.0, 5.0), _chunk(5.3, 5.6)]
    )
    assert [round(p.seconds, 1) for p in pieces] == [4.4]
    pieces = passages.pieces_of([_chunk(0, 3), _chunk(3.5, 6.5)])
    assert len(pieces) == 2
    # A short stretch joins the neighbour across the shorter pause ...
    pieces = passages.pieces_of([_chunk(0, 3), _chunk(3.6, 4.6), _chunk(4.8, 7.8)])
    assert [round(p.seconds, 1) for p in pieces] == [3.0, 4.0]
    # ... and never across a long one: there a passage may end and another begin.
    pieces = passages.pieces_of([_chunk(0, 3), _chunk(3.3, 6.3), _chunk(7.5, 8.8)])
    assert [round(p.seconds, 1) for p in pieces] == [3.0, 3.0, 1.3]


def test_an_edge_is_the_speech_nearest_the_chunks_cut() -> None:
    chunks = [_chunk(0, 3), _chunk(3.5, 6.5), _chunk(7, 8)]

    def seconds(edge: list[dict[str, int]]) -> list[tuple[float, float]]:
        return [(c["start"] / RATE, c["end"] / RATE) for c in edge]

    assert seconds(passages.edge(chunks, last=True)) == [(2.0, 3.0), (3.5, 6.5), (7.0, 8.0)]
    assert seconds(passages.edge(chunks, last=False)) == [(0.0, 3.0), (3.5, 5.5)]
    assert passages.edge([_chunk(1, 3)], last=True) == [_chunk(1, 3)]


def test_the_word_error_rate_spells_digits_as_the_truth_does() -> None:
    assert word_error_rate("set blue in a one again", "Set blue in A1 again.") == 0.0
    assert word_error_rate("lay white by s zero again", "Lay white by S0.") == pytest.approx(1 / 6)


def test_speech_left_without_words_or_in_another_script_is_measured() -> None:
    chunks = [_chunk(0, 4), _chunk(5, 9)]
    assert passages.unheard_seconds(chunks, [(0.2, 1.0), (0.9, 3.8)]) == pytest.approx(4.0)
    words = [
        (0.0, 0.5, " Set"),
        (0.5, 1.0, " blue"),
        (1.0, 1.2, " a1"),  # one letter: no evidence
        (5.0, 5.6, " 맞아."),
        (5.6, 6.0, " Python"),
    ]
    assert passages.off_script(words, "ko") == [(0.0, 0.5), (0.5, 1.0), (5.6, 6.0)]
    assert passages.off_script(words, "en") == [(5.0, 5.6)]
    assert passages.off_script(words, "ja") == []  # a script not checked


# --- real speech -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def analyzer() -> SpeechAnalyzer:
    model = SpeechAnalyzer(Settings())
    model.load()
    return model


def _joined(parts: list[NDArray[np.float32]]) -> tuple[NDArray[np.float32], list[float]]:
    """The parts with GAP_S of silence after each, and where each starts (seconds)."""
    out, starts, at = [], [], 0.0
    for part in parts:
        starts.append(at)
        out += [part, np.zeros(int(GAP_S * RATE), dtype=np.float32)]
        at += part.size / RATE + GAP_S
    return np.concatenate(out), starts


DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def word_error_rate(truth: str, heard: str) -> float:
    """Word edit distance over the truth's words, both lowercased without punctuation, and
    digits spelt out as GRID's truth spells them ("P2" is "p two")."""

    def words(text: str) -> list[str]:
        text = re.sub(r"(\d)", lambda m: f" {DIGITS[int(m.group(1))]} ", text.lower())
        return re.sub(r"[^\w\s]", " ", text).split()

    ref = words(truth)
    return edit_distance(ref, words(heard)) / max(1, len(ref))


def _part_text(speech: SpeechSection, start: float, end: float) -> tuple[str, set[str]]:
    """The words whose middle lies in [start, end), and the languages they were read in."""
    words = [w for s in speech.segments for w in s.words if start <= w.midpoint < end]
    return " ".join(w.word.strip() for w in words), {w.language or "?" for w in words}


Order = list[tuple[str, tuple[str, ...]]]
ORDERS: dict[str, Order] = {
    "ko-en-ko": [("ko", KOREAN_BEFORE), ("en", ENGLISH), ("ko", KOREAN_AFTER)],
    "en-ko": [("en", ENGLISH), ("ko", KOREAN_BEFORE + KOREAN_AFTER[:1])],
    "ko-en": [("ko", KOREAN_BEFORE + KOREAN_AFTER[:1]), ("en", ENGLISH)],
}


@needs_models
@needs_grid
@needs_korean
@pytest.mark.parametrize("order", sorted(ORDERS))
def test_each_part_of_a_mixed_answer_is_transcribed_in_its_own_language(
    analyzer: SpeechAnalyzer, order: str
) -> None:
    """Korean passages keep their words after an English one (they were lost: the chunk was
    read as English) and English stays English (it was kept in a Korean decode, or lost)."""
    korean, grid = korean_transcripts(), grid_transcripts()
    blocks = ORDERS[order]
    audio = [
        [korean_audio(n) if lang == "ko" else grid_audio(n) for n in names]
        for lang, names in blocks
    ]
    x, starts = _joined([np.concatenate(a) for a in audio])
    assert x.size / RATE <= 29.0  # one chunk, as the splitter cuts them
    speech = _speech(analyzer, f"mixed-{order}", x)

    ends = [*starts[1:], x.size / RATE]
    for (lang, names), start, end in zip(blocks, starts, ends, strict=True):
        text, read_in = _part_text(speech, start, end)
        truth = " ".join((korean if lang == "ko" else grid)[n] for n in names)
        # The measures: CER on Korean, WER on English.
        error = (character_error_rate if lang == "ko" else word_error_rate)(truth, text)
        assert read_in == {lang}, (order, lang, text, read_in)
        assert error <= (0.35 if lang == "ko" else 0.25), (order, lang, error, text)
    shares = {s.language: s.share for s in speech.languages}
    assert set(shares) == {"ko", "en"}, speech.languages
    assert speech.language == max(shares, key=lambda k: shares[k])


@needs_models
@needs_grid
@needs_korean
def test_a_korean_passage_inside_english_reads_as_it_does_alone(
    analyzer: SpeechAnalyzer,
) -> None:
    """Never a translation: the same passage, alone and between English sentences, reads
    the same within what two decodes of spontaneous Korean by whisper-base differ by
    (0.18 here: 닫는/닿는, 괜찮네/괜찮은데요), where a translation would share nothing."""
    names = KOREAN_BEFORE
    passage = np.concatenate([korean_audio(n) for n in names])
    alone = " ".join(s.text for s in _speech(analyzer, "alone", passage).segments)
    english = [grid_audio(n) for n in ENGLISH]
    x, starts = _joined([english[0], english[1], passage, english[2]])
    inside, read_in = _part_text(_speech(analyzer, "inside", x), starts[2], starts[3])
    assert read_in == {"ko"}
    assert character_error_rate(alone, inside) <= 0.25, (alone, inside)
    truth = " ".join(korean_transcripts()[n] for n in names)
    assert character_error_rate(truth, inside) <= 0.3, inside


#: A chunk is cut at a pause, often where a passage ends: a sentence of the passage before can
#: open the next chunk, and the first of the next passage close this one. Before the chunk's
#: edges were scored, the short Korean sentence closing English speech came out as an English
#: translation ("I'll go home. I'll go."), the one opening it gave a Korean hallucination in
#: the English, and the English sentence opening Korean speech was transliterated ("세트 블루").
EDGES: dict[str, Order] = {
    "ko-closes-en": [("en", ENGLISH), ("ko", ("KaiSpeech_000017",))],
    "ko-opens-en": [("ko", ("KaiSpeech_000017",)), ("en", ENGLISH)],
    "en-opens-ko": [("en", ENGLISH[:1]), ("ko", KOREAN_BEFORE + KOREAN_AFTER[:1])],
    "en-closes-ko": [("ko", KOREAN_BEFORE + KOREAN_AFTER[:1]), ("en", ENGLISH[:1])],
}


@needs_models
@needs_grid
@needs_korean
@pytest.mark.parametrize("order", sorted(EDGES))
def test_a_sentence_at_a_chunks_edge_keeps_its_own_language(
    analyzer: SpeechAnalyzer, order: str
) -> None:
    korean, grid = korean_transcripts(), grid_transcripts()
    blocks = EDGES[order]
    x, starts = _joined(
        [
            np.concatenate([korean_audio(n) if lang == "ko" else grid_audio(n) for n in names])
            for lang, names in blocks
        ]
    )
    speech = _speech(analyzer, f"edge-{order}", x)
    ends = [*starts[1:], x.size / RATE]
    for (lang, names), start, end in zip(blocks, starts, ends, strict=True):
        text, read_in = _part_text(speech, start, end)
        truth = " ".join((korean if lang == "ko" else grid)[n] for n in names)
        assert read_in == {lang}, (order, lang, text, read_in)
        if lang == "ko":
            # One short spontaneous sentence: whisper-base misses a word or two of it alone.
            assert character_error_rate(truth, text) <= 0.6, (order, text)
        else:
            assert word_error_rate(truth, text) <= 0.25, (order, text)


def test_sentences_of_a_passage_outside_the_list_are_taken_together() -> None:
    """A German passage comes in sentences of a few seconds: together they are long enough,
    and one of them is clear; a lone short sentence, or a run heard only vaguely, is not."""
    scored = {
        0: _scores(de=0.6, en=0.3),
        3: _scores(de=0.85, en=0.1),
        6: _scores(de=0.7, en=0.2),
        10: _scores(en=0.95, ko=0.01),
    }
    assert _read_in_english_chunk(scored) == ["de", "de", "de", "en"]
    vague = _scores(de=0.6, en=0.3)
    assert _read_in_english_chunk({0: vague, 3: vague}) == ["en", "en"]
    alone = _read_in_english_chunk({0: _scores(de=0.9, en=0.05)}, seconds=3.0)
    assert alone[0] != "de"


def _read_in_english_chunk(
    scored: dict[int, dict[str, float]], seconds: float = 2.8
) -> list[str | None]:
    """The language each piece gets in a chunk detected as English (en and ko listed): a piece
    of ``seconds`` at each second given, with the scores given for it."""
    pieces = [Piece([_chunk(t, t + seconds)]) for t in scored]
    passages.score_pieces(
        pieces,
        lambda chunks: scored[round(chunks[0]["start"] / RATE)],
        around="en",
        candidates=["en", "ko"],
        source="detected",
    )
    return [p.language for p in pieces]


def test_korean_syllables_are_counted_over_the_time_spent_in_korean() -> None:
    from video_analysis.analyzers.speech import fluency
    from video_analysis.schemas import Word

    def said(text: str, start: float, language: str) -> list[Word]:
        return [
            Word(
                start=start + k, end=start + k + 1, word=f" {w}", probability=0.9, language=language
            )
            for k, w in enumerate(text.split())
        ]

    korean = said("시간 안에 풀고 약간", 0.0, "ko")  # 8 syllables in 4 s
    english = said("set blue in again", 4.0, "en")

    mixed = fluency.words_per_minute(korean + english, 8.0, 8.0, "ko")
    alone = fluency.words_per_minute(korean, 4.0, 4.0, "ko")

    assert mixed.syllables_per_minute == alone.syllables_per_minute == 120.0
    assert fluency.words_per_minute(english, 4.0, 4.0, "en").syllables_per_minute is None
