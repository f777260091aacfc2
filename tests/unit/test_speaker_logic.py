"""Speaker separation without models: speech regions, clustering of synthetic embeddings,
turns, word labels and the per-speaker figures."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from pydantic import TypeAdapter

from video_analysis.analyzers.speaker_embedding import MIN_WINDOW_S
from video_analysis.analyzers.speech import activity, figures, speakers
from video_analysis.analyzers.speech.fillers import count_fillers, fillers_figures, mark_fillers
from video_analysis.analyzers.speech.speakers import SpeakerWindow, Turn
from video_analysis.analyzers.speech.transcript import refine_filled_pauses
from video_analysis.schemas.parts import SegmentRow, SpeechPart, VoiceSignal, WordRow
from video_analysis.schemas.parts import SpeakerWindow as WindowRow
from video_analysis.schemas.speech import ResponseDelay, Segment, Word

FRAME_S = 0.032
DIM = 8


def probs(*parts: tuple[float, int]) -> NDArray[np.float64]:
    """Frame probabilities from (value, frame count) parts."""
    return np.concatenate([np.full(n, value) for value, n in parts])


def axis(k: int) -> NDArray[np.float64]:
    v = np.zeros(DIM)
    v[k] = 1.0
    return v


def group(direction: NDArray[np.float64], n: int, rng: np.random.Generator) -> NDArray[np.float32]:
    """``n`` unit vectors scattered a little around ``direction``."""
    x = direction[None, :] + 0.05 * rng.standard_normal((n, DIM))
    unit: NDArray[np.float32] = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    return unit


def word(start: float, end: float, text: str, speaker: str | None = None) -> Word:
    return Word(start=start, end=end, word=text, probability=0.9, speaker=speaker)


def segment(words: list[Word], start: float, end: float, text: str, **fields: Any) -> Segment:
    return Segment(start=start, end=end, text=text, words=words, **fields)


def prompted_chunk() -> SpeechPart:
    """A chunk transcribed with the English filler prompt."""
    row = SegmentRow(
        start=0.0, end=1.0, text="Um.", avg_logprob=-0.2, no_speech_prob=0.0, compression_ratio=1.0
    )
    return SpeechPart(
        start=0.0,
        end=1.0,
        duration_s=1.0,
        language="en",
        filler_prompt=True,
        segments=[row],
        voice=VoiceSignal(samples=16_000, clipped=0),
    )


# --- activity.regions -------------------------------------------------------------------------


def test_region_opens_at_on_stays_while_above_off_and_closes_below() -> None:
    p = probs((0.0, 5), (0.08, 1), (0.0, 4), (0.15, 1), (0.06, 19), (0.04, 1), (0.08, 9))
    found = activity.regions(p, FRAME_S, min_speech_s=0.0, min_silence_s=0.0, pad_s=0.0)
    # 0.08 never opens a region (under on=0.1); the region opens at frame 10, holds through
    # frame 29 (0.06 >= off=0.05) and closes at frame 30 (0.04); later 0.08 does not reopen.
    assert found == [pytest.approx((10 * FRAME_S, 30 * FRAME_S))]


def test_gaps_shorter_than_min_silence_are_bridged() -> None:
    p = probs((0.5, 10), (0.0, 5), (0.5, 10), (0.0, 25), (0.5, 10), (0.0, 10))
    found = activity.regions(p, FRAME_S, min_silence_s=0.3, min_speech_s=0.0, pad_s=0.0)
    # The 0.16 s gap is bridged, the 0.8 s one is not.
    assert found == [
        pytest.approx((0.0, 25 * FRAME_S)),
        pytest.approx((50 * FRAME_S, 60 * FRAME_S)),
    ]


def test_runs_shorter_than_min_speech_are_dropped() -> None:
    p = probs((0.0, 5), (0.5, 5), (0.0, 20), (0.5, 10), (0.0, 5))
    found = activity.regions(p, FRAME_S, min_speech_s=0.25, min_silence_s=0.3, pad_s=0.0)
    # The 0.16 s run is dropped, the 0.32 s run kept.
    assert found == [pytest.approx((30 * FRAME_S, 40 * FRAME_S))]


def test_short_runs_bridged_together_are_long_enough_to_keep() -> None:
    p = probs((0.0, 5), (0.5, 5), (0.0, 3), (0.5, 5), (0.0, 5))
    found = activity.regions(p, FRAME_S, min_speech_s=0.25, min_silence_s=0.3, pad_s=0.0)
    assert found == [pytest.approx((5 * FRAME_S, 18 * FRAME_S))]


def test_regions_are_padded_and_clipped_to_the_audio() -> None:
    p = probs((0.0, 1), (0.5, 9), (0.0, 10), (0.5, 10))
    found = activity.regions(p, FRAME_S, min_speech_s=0.25, min_silence_s=0.3, pad_s=0.1)
    assert found == [pytest.approx((0.0, 0.42)), pytest.approx((0.54, 0.96))]
    clipped = activity.regions(
        p, FRAME_S, min_speech_s=0.25, min_silence_s=0.3, pad_s=0.1, duration_s=0.9
    )
    assert clipped[-1] == pytest.approx((0.54, 0.9))


def test_regions_whose_padding_overlaps_merge() -> None:
    p = probs((0.0, 1), (0.5, 9), (0.0, 10), (0.5, 10))
    found = activity.regions(p, FRAME_S, min_speech_s=0.25, min_silence_s=0.3, pad_s=0.2)
    assert found == [pytest.approx((0.0, 0.96))]


def test_no_speech_gives_no_regions() -> None:
    assert activity.regions(np.zeros(50), FRAME_S, min_silence_s=0.3) == []


# --- activity.union, mean_over, shift ---------------------------------------------------------


def test_union_merges_overlapping_and_touching_spans_and_sorts() -> None:
    merged = activity.union([(7.0, 8.0), (3.0, 4.0), (0.0, 1.0)], [(4.0, 5.0), (0.5, 2.0)])
    assert merged == [(0.0, 2.0), (3.0, 5.0), (7.0, 8.0)]


def test_union_keeps_the_end_of_a_span_that_contains_the_next() -> None:
    assert activity.union([(0.0, 10.0), (2.0, 3.0)]) == [(0.0, 10.0)]


def test_union_keeps_disjoint_spans_apart() -> None:
    assert activity.union([(2.0, 3.0)], [(0.0, 1.0)]) == [(0.0, 1.0), (2.0, 3.0)]


def test_mean_over_averages_the_frames_of_the_span() -> None:
    p = np.array([0.0, 0.2, 0.4, 0.6, 0.8])
    assert activity.mean_over(p, 0.5, 0.5, 1.5) == pytest.approx(0.3)
    # A partly covered last frame counts.
    assert activity.mean_over(p, 0.5, 0.5, 1.6) == pytest.approx(0.4)
    # An empty span still reads its frame; a span past the end reads nothing.
    assert activity.mean_over(p, 0.5, 1.0, 1.0) == pytest.approx(0.4)
    assert activity.mean_over(p, 0.5, 10.0, 11.0) == 0.0


def test_shift_offsets_and_rounds_spans() -> None:
    assert activity.shift([(0.1234, 0.5), (1.0, 2.0004)], 10.0) == [(10.123, 10.5), (11.0, 12.0)]


# --- speakers.cluster -------------------------------------------------------------------------


def test_two_groups_of_embeddings_are_two_speakers() -> None:
    rng = np.random.default_rng(0)
    x = np.vstack([group(axis(0), 6, rng), group(axis(1), 5, rng)])
    labels = speakers.cluster(x, np.ones(11, dtype=bool), min_similarity=0.35, max_speakers=4)
    assert len(set(labels[:6].tolist())) == 1
    assert len(set(labels[6:].tolist())) == 1
    assert labels[0] != labels[6]


def test_one_group_of_embeddings_is_one_speaker() -> None:
    rng = np.random.default_rng(0)
    x = group(axis(0), 8, rng)
    labels = speakers.cluster(x, np.ones(8, dtype=bool), min_similarity=0.35, max_speakers=4)
    assert labels.tolist() == [0] * 8


def test_never_more_groups_than_max_speakers() -> None:
    rng = np.random.default_rng(0)
    x = np.vstack([group(axis(k), 4, rng) for k in range(3)])
    clear = np.ones(12, dtype=bool)
    assert len(set(speakers.cluster(x, clear, min_similarity=0.35, max_speakers=4).tolist())) == 3
    labels = speakers.cluster(x, clear, min_similarity=0.35, max_speakers=2)
    assert len(set(labels.tolist())) == 2
    # Whole groups are merged, none is split.
    for k in range(3):
        assert len(set(labels[4 * k : 4 * k + 4].tolist())) == 1


def test_faint_window_joins_the_nearest_clear_group() -> None:
    rng = np.random.default_rng(0)
    faint = axis(2) + 0.3 * axis(1)
    x = np.vstack([group(axis(0), 5, rng), group(axis(1), 5, rng), faint[None, :]])
    clear = np.array([True] * 10 + [False])
    labels = speakers.cluster(x.astype(np.float32), clear, min_similarity=0.35, max_speakers=4)
    assert len(set(labels.tolist())) == 2
    assert labels[10] == labels[5]
    assert labels[10] != labels[0]


def test_faint_windows_are_clustered_when_no_window_is_clear() -> None:
    rng = np.random.default_rng(0)
    x = np.vstack([group(axis(0), 4, rng), group(axis(1), 4, rng)])
    labels = speakers.cluster(x, np.zeros(8, dtype=bool), min_similarity=0.35, max_speakers=4)
    assert len(set(labels[:4].tolist())) == 1
    assert len(set(labels[4:].tolist())) == 1
    assert labels[0] != labels[4]


def test_a_long_videos_windows_are_clustered_from_an_even_spread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Over MAX_FOUNDERS clear windows (an hour of talk), an even spread of them founds the
    speakers and every other window joins its nearest group: the same two speakers, each
    window with its own, and a speaker who talks only late in the video is still found."""
    monkeypatch.setattr(speakers, "MAX_FOUNDERS", 10)
    rng = np.random.default_rng(0)
    # 30 windows: speaker A throughout, speaker B only in the last third.
    x = np.vstack([group(axis(0), 20, rng), group(axis(1), 10, rng)])
    labels = speakers.cluster(x, np.ones(30, dtype=bool), min_similarity=0.35, max_speakers=4)
    assert len(set(labels[:20].tolist())) == 1
    assert len(set(labels[20:].tolist())) == 1
    assert labels[0] != labels[20]


def test_a_stray_group_of_a_long_recording_joins_the_speaker_most_like_it() -> None:
    """Two people over 120 windows and 2 windows of a third group (a laugh, a cough: under
    MIN_SPEAKER_SHARE of the windows, and too unlike the others to join them by similarity):
    two speakers, the stray windows with the one they are most like. Every group counts in a
    short excerpt, where one window is 1 in 30."""
    rng = np.random.default_rng(0)
    stray = axis(2) + 0.3 * axis(1)
    x = np.vstack([group(axis(0), 60, rng), group(axis(1), 58, rng), group(stray, 2, rng)])
    labels = speakers.cluster(x, np.ones(120, dtype=bool), min_similarity=0.35, max_speakers=4)
    assert len(set(labels.tolist())) == 2
    assert labels[118] == labels[119] == labels[60]
    short = np.vstack([group(axis(0), 15, rng), group(axis(1), 14, rng), group(axis(2), 1, rng)])
    labels = speakers.cluster(short, np.ones(30, dtype=bool), min_similarity=0.35, max_speakers=4)
    assert len(set(labels.tolist())) == 3


def test_no_embeddings_no_labels() -> None:
    empty = np.zeros((0, DIM), dtype=np.float32)
    labels = speakers.cluster(empty, np.zeros(0, dtype=bool), min_similarity=0.35, max_speakers=4)
    assert labels.size == 0


# --- speakers.diarize -------------------------------------------------------------------------


def two_speaker_windows() -> list[SpeakerWindow]:
    """Windows of a voice along axis 1 (0-3 s), then one along axis 0 (3.5-5.75 s)."""
    rng = np.random.default_rng(0)
    first = group(axis(1), 3, rng)
    second = group(axis(0), 2, rng)
    spans = [(0.0, 1.5), (0.75, 2.25), (1.5, 3.0), (3.5, 5.0), (4.25, 5.75)]
    vectors = [*first, *second]
    return [SpeakerWindow(a, b, 0.9, v) for (a, b), v in zip(spans, vectors, strict=True)]


def test_speakers_are_named_in_order_of_appearance_and_cut_between_window_centres() -> None:
    windows = list(reversed(two_speaker_windows()))
    turns = speakers.diarize(windows, [(0.0, 5.75)], min_similarity=0.35, max_speakers=4)
    # Last S1 centre 2.25, first S2 centre 4.25: cut at 3.25. S1's three pieces merge.
    assert turns == [Turn(0.0, 3.25, "S1"), Turn(3.25, 5.75, "S2")]


def test_region_without_a_window_takes_the_nearest_speaker_as_a_turn_of_its_own() -> None:
    turns = speakers.diarize(
        two_speaker_windows(),
        [(8.0, 9.0), (0.0, 5.75)],
        min_similarity=0.35,
        max_speakers=4,
    )
    assert turns == [Turn(0.0, 3.25, "S1"), Turn(3.25, 5.75, "S2"), Turn(8.0, 9.0, "S2")]


def test_diarize_without_windows_is_empty() -> None:
    assert speakers.diarize([], [(0.0, 5.0)], min_similarity=0.35, max_speakers=4) == []


# --- speakers.speaker_at, label_words, mark_overlaps, talk_seconds ----------------------------


TURNS = [Turn(0.0, 2.0, "S1"), Turn(3.0, 5.0, "S2")]


def test_speaker_at_takes_the_holding_turn_else_the_nearest() -> None:
    assert speakers.speaker_at(TURNS, 1.0) == "S1"
    assert speakers.speaker_at(TURNS, 4.0) == "S2"
    assert speakers.speaker_at(TURNS, 2.4) == "S1"
    assert speakers.speaker_at(TURNS, 2.7) == "S2"
    assert speakers.speaker_at(TURNS, -1.0) == "S1"
    assert speakers.speaker_at(TURNS, 10.0) == "S2"
    assert speakers.speaker_at([], 1.0) is None


def test_segment_whose_words_change_speaker_is_split() -> None:
    seg = segment(
        [
            word(0.1, 0.5, " Hello"),
            word(0.6, 1.0, " there."),
            word(3.2, 3.6, " Yes"),
            word(3.7, 4.0, " indeed."),
        ],
        0.0,
        4.2,
        " Hello there. Yes indeed.",
        avg_logprob=-0.3,
    )
    first, second = speakers.label_words([seg], TURNS)
    assert (first.start, first.end, first.text, first.speaker) == (0.0, 1.0, "Hello there.", "S1")
    assert (second.start, second.end, second.text, second.speaker) == (
        3.2,
        4.2,
        "Yes indeed.",
        "S2",
    )
    assert first.avg_logprob == second.avg_logprob == -0.3  # the rest is carried to each piece
    assert [w.speaker for w in first.words] == ["S1", "S1"]
    assert [w.speaker for w in second.words] == ["S2", "S2"]


def test_segment_of_one_speaker_keeps_its_text_and_times() -> None:
    seg = segment([word(3.1, 3.5, " Yes.")], 3.0, 4.5, " Yes.")
    (out,) = speakers.label_words([seg], TURNS)
    assert (out.start, out.end, out.text, out.speaker) == (3.0, 4.5, " Yes.", "S2")
    assert out.words[0].speaker == "S2"


def test_words_without_turns_are_the_first_speaker() -> None:
    seg = segment([word(0.0, 1.0, " Hi.")], 0.0, 1.0, " Hi.")
    (out,) = speakers.label_words([seg], [])
    assert out.speaker == "S1"
    assert out.words[0].speaker == "S1"


def test_overlap_is_marked_exactly_for_words_whose_midpoint_is_inside_an_overlap() -> None:
    words = [
        word(0.4, 0.6, " a"),  # 0.5: before
        word(0.5, 1.5, " b"),  # 1.0: at an overlap start
        word(1.4, 1.6, " c"),  # 1.5: inside
        word(1.5, 2.5, " d"),  # 2.0: at the overlap end (excluded)
        word(4.0, 7.0, " e"),  # 5.5: inside the second
        word(6.9, 7.1, " f"),  # 7.0: after
    ]
    segments = speakers.mark_overlaps(
        [segment(words, 0.4, 7.1, "a b c d e f")], [(1.0, 2.0), (5.0, 6.0)]
    )
    assert [w.overlap for w in segments[0].words] == [False, True, True, False, True, False]


def test_no_overlaps_marks_no_word() -> None:
    segments = speakers.mark_overlaps([segment([word(1.0, 2.0, " a")], 1.0, 2.0, "a")], [])
    assert segments[0].words[0].overlap is False


def test_talk_seconds_add_up_per_speaker() -> None:
    turns = [Turn(0.0, 2.0, "S1"), Turn(2.0, 3.5, "S2"), Turn(4.0, 5.0, "S1")]
    assert speakers.talk_seconds(turns) == pytest.approx({"S1": 3.0, "S2": 1.5})
    assert speakers.talk_seconds([]) == {}


# --- speakers.window_spans, window_rows -------------------------------------------------------


def test_short_region_is_widened_around_its_centre() -> None:
    assert MIN_WINDOW_S == 0.5
    (span,) = speakers.window_spans([(1.0, 1.2)], 10.0)
    assert span == pytest.approx((0.85, 1.35))


def test_widened_region_stays_inside_the_chunk() -> None:
    assert speakers.window_spans([(0.0, 0.1)], 10.0) == [pytest.approx((0.0, 0.5))]
    assert speakers.window_spans([(9.9, 10.0)], 10.0) == [pytest.approx((9.5, 10.0))]


def test_long_region_is_covered_by_stepped_windows() -> None:
    spans = speakers.window_spans([(2.0, 5.0)], 10.0)
    assert spans == [pytest.approx(s) for s in [(2.0, 3.5), (2.75, 4.25), (3.5, 5.0)]]


def test_short_region_in_a_chunk_shorter_than_a_window_gets_none() -> None:
    assert speakers.window_spans([(0.1, 0.2)], 0.3) == []


def test_window_rows_shift_to_video_time_and_round() -> None:
    rows = speakers.window_rows(
        [(0.12345, 1.5)], np.array([[0.123456, -0.5]], dtype=np.float32), [0.87654], 60.0
    )
    assert TypeAdapter(list[WindowRow]).dump_python(rows, mode="json") == [
        {"start": 60.123, "end": 61.5, "clarity": 0.877, "embedding": [0.1235, -0.5]}
    ]
    assert SpeakerWindow.from_row(rows[0]).embedding.tolist() == pytest.approx([0.1235, -0.5])


def test_an_embedding_travels_as_its_rounded_decimals_and_is_held_once_as_float32() -> None:
    # Rounded to 4 decimals, then held as float32: JSON gives the decimals (not the float32's
    # binary expansion) and reading it back gives the same float32 numbers.
    rng = np.random.default_rng(3)
    vectors = rng.normal(0.0, 1.5, (20, 192)).astype(np.float32)
    rows = speakers.window_rows([(0.0, 1.5)] * 20, vectors, [0.9] * 20, 0.0)
    dumped = TypeAdapter(list[WindowRow]).dump_json(rows)
    rounded = np.round(vectors.astype(np.float64), speakers.EMBEDDING_DECIMALS)
    assert [row["embedding"] for row in json.loads(dumped)] == rounded.tolist()
    back = TypeAdapter(list[WindowRow]).validate_json(dumped)
    for row, again in zip(rows, back, strict=True):
        assert row.embedding.dtype == again.embedding.dtype == np.float32
        assert np.array_equal(row.embedding, again.embedding)
        # The window the join clusters is the row's own array, not a copy of it.
        assert SpeakerWindow.from_row(again).embedding is again.embedding


def test_unit_rows_copies_only_what_it_must_scale() -> None:
    x = np.array([[3.0, 4.0], [0.0, 0.0], [0.6, 0.8]], dtype=np.float32)
    unit = speakers.unit_rows(x)
    assert unit is not x and x[0].tolist() == [3.0, 4.0]
    assert np.allclose(unit, [[0.6, 0.8], [0.0, 0.0], [0.6, 0.8]])
    assert speakers.unit_rows(unit) is unit
    in_place = speakers.unit_rows(x, in_place=True)
    assert in_place is x and np.array_equal(x, unit)


def test_clustering_unit_rows_gives_what_clustering_the_raw_embeddings_gives() -> None:
    rng = np.random.default_rng(5)
    voices = rng.normal(0.0, 1.0, (3, 32))
    x = np.concatenate([v + rng.normal(0.0, 0.4, (40, 32)) for v in voices]).astype(np.float32)
    x *= rng.uniform(0.5, 20.0, (len(x), 1)).astype(np.float32)
    clear = np.ones(len(x), dtype=bool)
    raw = speakers.cluster(x.copy(), clear, min_similarity=0.35, max_speakers=4)
    unit = speakers.unit_rows(x.copy(), in_place=True)
    assert speakers.cluster(unit, clear, min_similarity=0.35, max_speakers=4).tolist() == (
        raw.tolist()
    )
    assert len(set(raw.tolist())) == 3


def test_window_rows_refuse_mismatched_lengths() -> None:
    with pytest.raises(ValueError):
        speakers.window_rows([(0.0, 1.0)], np.zeros((2, 2), dtype=np.float32), [0.5], 0.0)


# --- figures ----------------------------------------------------------------------------------


def conversation() -> list[Word]:
    """A speaks, B answers, A answers back."""
    return [
        word(0.5, 0.8, " Um,", "A"),
        word(0.9, 1.2, " I", "A"),
        word(1.8, 2.0, " like", "A"),  # 0.6 s pause inside A's run; "like" without a comma
        word(2.5, 2.8, " Hi.", "B"),
        word(3.0, 3.3, " uh", "B"),
        word(3.4, 3.6, " yes.", "B"),
        word(4.6, 5.0, " Okay.", "A"),  # 2.6 s after A's last word, while B talked
    ]


def test_runs_of_split_a_speakers_words_where_another_speaks() -> None:
    words = conversation()
    assert figures.runs_of(words, "A") == [words[0:3], words[6:7]]
    assert figures.runs_of(words, "B") == [words[3:6]]
    assert figures.runs_of(words, None) == [words]
    assert figures.runs_of(words, "C") == []


def test_response_delay_runs_from_the_other_speakers_last_word() -> None:
    words = [
        word(0.0, 1.0, " a", "A"),
        word(1.5, 2.0, " b", "B"),
        word(1.9, 2.5, " c", "A"),
        word(3.0, 3.5, " d", "B"),
    ]
    assert figures.response_delays(words, "A") == [ResponseDelay(after="B", at=1.9, delay_s=-0.1)]
    assert figures.response_delays(words, "B") == [
        ResponseDelay(after="A", at=1.5, delay_s=0.5),
        ResponseDelay(after="A", at=3.0, delay_s=0.5),
    ]


def test_unlabelled_word_before_is_no_take_over() -> None:
    words = [word(0.0, 1.0, " a"), word(1.5, 2.0, " b", "A")]
    assert figures.response_delays(words, "A") == []


def test_a_gap_while_another_speaker_talks_is_not_a_pause() -> None:
    out = figures.speaker_figures(
        conversation(), "A", chunks=[], language="en", min_pause=0.3, received_s=10.0
    )
    assert out is not None
    assert out.pauses.count == 1
    assert out.pauses.total_s == pytest.approx(0.6)
    assert out.pauses.longest_s == pytest.approx(0.6)
    # Runs of 1.5 s and 0.4 s, less the 0.6 s pause.
    assert out.words_per_minute.speaking_s == pytest.approx(1.3)
    assert out.words_per_minute.words == 4
    assert out.words_per_minute.speaking == pytest.approx(round(4 * 60 / 1.3, 1))
    assert out.words_per_minute.overall == pytest.approx(24.0)
    assert out.first_word_s == 0.5
    assert out.confidence == pytest.approx(0.9)


def test_everyones_figures_count_every_gap() -> None:
    out = figures.speaker_figures(
        conversation(), None, chunks=[], language="en", min_pause=0.3, received_s=10.0
    )
    assert out is not None
    assert out.pauses.count == 3  # 0.6, 0.5 and 1.0 s
    assert out.response_delays == []
    assert out.response_delay_basis == "from_video_start"


def test_speaker_answering_someone_gets_the_median_delay_after_them() -> None:
    words = conversation()
    a = figures.speaker_figures(words, "A", chunks=[], language="en", min_pause=0.3, received_s=10)
    b = figures.speaker_figures(words, "B", chunks=[], language="en", min_pause=0.3, received_s=10)
    assert a is not None and b is not None
    assert a.response_delay_basis == "median_after_other_speakers"
    assert a.response_delay_s == pytest.approx(1.0)
    assert b.response_delay_s == pytest.approx(0.5)
    assert b.pauses.count == 0


def test_speaker_alone_is_timed_from_the_video_start() -> None:
    words = [word(1.25, 1.5, " Hello", "A"), word(1.6, 2.0, " world.", "A")]
    out = figures.speaker_figures(words, "A", chunks=[], language="en", min_pause=0.3, received_s=5)
    assert out is not None
    assert out.response_delays == []
    assert out.response_delay_basis == "from_video_start"
    assert out.response_delay_s == pytest.approx(1.25)


def test_speaker_alone_in_a_span_is_timed_from_the_spans_start() -> None:
    words = [word(11.25, 11.5, " Hello", "A"), word(11.6, 12.0, " world.", "A")]
    out = figures.speaker_figures(
        words,
        "A",
        chunks=[],
        language="en",
        min_pause=0.3,
        received_s=5,
        since=10.0,
        since_basis="from_question_start",
    )
    assert out is not None
    assert out.response_delay_basis == "from_question_start"
    assert out.response_delay_s == pytest.approx(1.25)
    assert out.first_word_s == 11.25


def test_speaker_without_words_has_no_figures() -> None:
    out = figures.speaker_figures(
        conversation(), "C", chunks=[], language="en", min_pause=0.3, received_s=10.0
    )
    assert out is None


def test_english_fillers_are_counted_per_speaker() -> None:
    words = conversation()
    a = figures.speaker_figures(words, "A", chunks=[], language="en", min_pause=0.3, received_s=10)
    b = figures.speaker_figures(words, "B", chunks=[], language="en", min_pause=0.3, received_s=10)
    assert a is not None and b is not None
    # "like" without a comma is ordinary speech.
    assert a.fillers.count == 1
    assert a.fillers.by_word == {"um": 1}
    assert a.fillers.per_min == pytest.approx(round(60 / 1.3, 2))
    assert a.fillers.method == "transcript"
    assert b.fillers.by_word == {"uh": 1}


def test_filler_method_says_when_every_spoken_chunk_had_the_prompt() -> None:
    out = figures.speaker_figures(
        conversation(),
        "A",
        chunks=[prompted_chunk()],
        language="en",
        min_pause=0.3,
        received_s=10.0,
    )
    assert out is not None
    assert out.fillers.method == "whisper_filler_prompt"
    assert out.fillers.count == 1


def test_filled_pauses_and_lexical_fillers_are_counted_apart() -> None:
    words = [
        word(0.0, 0.3, " So,", "A"),
        word(0.4, 0.6, " um,", "A"),
        word(0.7, 0.9, " like,", "A"),
        word(1.0, 1.2, " you", "A"),
        word(1.3, 1.5, " know,", "A"),
        word(1.6, 1.8, " uh", "A"),
        word(1.9, 2.0, " ummm", "A"),
        word(2.1, 2.4, " fine.", "A"),
    ]
    out = figures.speaker_figures(
        words, "A", chunks=[], language="en", min_pause=0.3, received_s=10.0
    )
    assert out is not None
    fillers = out.fillers
    sounds, lexical = fillers.filled_pauses, fillers.lexical
    assert sounds is not None and lexical is not None and fillers.per_min is not None
    assert fillers.count == 5
    assert sounds.count == 3
    assert sounds.by_word == {"um": 2, "uh": 1}
    assert lexical.by_word == {"like": 1, "you know": 1}
    assert sounds.per_min == pytest.approx(round(3 * 60 / 2.4, 2))
    assert lexical.per_min + sounds.per_min == pytest.approx(fillers.per_min, abs=0.02)


def test_fillers_are_marked_on_the_words_as_they_are_counted() -> None:
    words = [
        word(0.0, 0.3, " Um,", "A"),
        word(0.4, 0.6, " it", "A"),
        word(0.7, 0.9, " works,", "A"),
        word(1.0, 1.2, " you", "A"),
        word(1.3, 1.5, " know,", "A"),
        word(1.6, 1.8, " you", "A"),
        word(2.0, 2.2, " know,", "B"),  # two people's halves make no filler
        word(2.3, 2.4, " right.", "B"),
    ]
    mark_fillers(words, "en")
    assert [w.word.strip() for w in words if w.filler] == ["Um,", "you", "know,"]
    a = figures.speaker_figures(words, "A", chunks=[], language="en", min_pause=0.3, received_s=5)
    every = figures.speaker_figures(
        words, None, chunks=[], language="en", min_pause=0.3, received_s=5
    )
    assert a is not None and every is not None
    assert a.fillers.by_word == every.fillers.by_word == {"um": 1, "you know": 1}


def test_a_filled_pause_starts_where_its_voicing_holds() -> None:
    """Whisper put an "uh" 0.28 s early, in breath noise; a single voiced frame there is
    noise, the first run of three voiced frames is the sound."""
    row = SegmentRow(
        start=10.0,
        end=11.0,
        text="Uh, we",
        avg_logprob=-0.2,
        no_speech_prob=0.0,
        compression_ratio=1.0,
        words=[
            WordRow(start=10.0, end=10.6, word=" Uh,", probability=0.8),
            WordRow(start=10.6, end=11.0, word=" we", probability=0.9),
        ],
    )
    voiced = np.zeros(100, dtype=bool)  # 20 ms frames from 9.0 s
    voiced[55] = True  # 10.10 s: one frame in noise
    voiced[64:80] = True  # 10.28 s on: the sound
    refine_filled_pauses([row], 9.0, voiced, lambda w: w.strip(" ,").lower() == "uh")
    assert row.words[0].start == pytest.approx(10.28)
    assert row.start == pytest.approx(10.28)
    assert row.words[1].start == 10.6  # not a filled pause: left alone


def test_korean_hesitation_sounds_are_filled_pauses_and_words_are_lexical() -> None:
    found = count_fillers(["음,", "그러니까", "어어", "그,", "사람이", "뭐"], "ko")
    out = fillers_figures(found, "ko", 60.0, "transcript")
    assert out.filled_pauses is not None and out.lexical is not None
    assert out.filled_pauses.by_word == {"음": 1, "어": 1}
    assert out.lexical.by_word == {"그러니까": 1, "그": 1, "뭐": 1}
    assert out.count == 5
    assert out.method == "transcript"


def test_fillers_of_an_unsupported_language_are_not_counted() -> None:
    out = figures.speaker_figures(
        conversation(), "A", chunks=[], language="fr", min_pause=0.3, received_s=10.0
    )
    assert out is not None
    assert out.fillers.model_dump() == {
        "count": None,
        "per_min": None,
        "by_word": {},
        "filled_pauses": None,
        "lexical": None,
        "method": "unsupported_language",
    }
