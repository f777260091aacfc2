"""The interview's structure from the speech section and the timeline (pure, no models)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from video_analysis import structure
from video_analysis.analyzers.speech.figures import speaker_figures
from video_analysis.schemas import QuestionSpan, SpeechSection, TimelineRow, VideoMetadata
from video_analysis.schemas.reasons import reason
from video_analysis.settings import Settings


def word(start: float, end: float, speaker: str, text: str = "word") -> dict[str, Any]:
    return {"start": start, "end": end, "word": f" {text}", "probability": 0.9, "speaker": speaker}


def speech(words: list[dict[str, Any]], **fields: Any) -> SpeechSection:
    talk: dict[str, float] = {}
    for w in words:
        talk[w["speaker"]] = talk.get(w["speaker"], 0.0) + w["end"] - w["start"]
    total = sum(talk.values())
    candidate = max(talk, key=lambda k: talk[k]) if talk else None
    base: dict[str, Any] = {
        "coverage": 1.0,
        "confidence": 0.9,
        "segments": [
            {"start": words[0]["start"], "end": words[-1]["end"], "text": "", "words": words}
        ]
        if words
        else [],
        "turns": fields.pop("turns", []),
        "speakers": {
            "count": len(talk),
            "candidate": candidate,
            "candidate_source": "most_talk",
            "talk_ratio": {k: round(v / total, 4) for k, v in talk.items()},
        },
        "overlaps": {"regions": fields.pop("overlaps", [])},
    }
    base.update(fields)
    return SpeechSection.model_validate(base)


# Rates leave out pauses of this many seconds or more (the service's default).
MIN_PAUSE = Settings().speech_min_pause_s

# An interviewer (S2) asks twice; the candidate (S1) answers, once starting early.
INTERVIEW = [
    word(0.0, 0.5, "S2"),
    word(0.6, 1.0, "S2"),
    word(2.0, 2.5, "S1"),  # 1.0 s after the question
    word(2.6, 3.0, "S1"),
    word(5.5, 6.0, "S1"),  # a long pause (2.5 s) inside the answer
    word(6.1, 6.5, "S1"),
    word(7.0, 7.5, "S2"),
    word(7.6, 8.2, "S2"),
    word(8.0, 8.6, "S1"),  # starts before the interviewer's last word ends
    word(8.7, 9.0, "S1"),
]


def test_answers_are_the_candidates_uninterrupted_stretches_with_their_delays() -> None:
    section = structure.build(speech(INTERVIEW), [], [], 20.0, min_pause=MIN_PAUSE)

    assert section.candidate == "S1" and section.cannot_assess is None
    assert [(a.start, a.end, a.words) for a in section.answers] == [
        (2.0, 6.5, 4),
        (8.0, 9.0, 2),
    ]
    assert [a.after_speaker for a in section.answers] == ["S2", "S2"]
    assert section.response_delays_s == [1.0, -0.2]
    assert section.answer_count == 2
    assert section.answer_lengths is not None
    assert section.answer_lengths.longest_s == 4.5
    assert section.answer_lengths.mean_s == pytest.approx((4.5 + 1.0) / 2)


def test_a_long_pause_ends_a_monologue_but_not_an_answer() -> None:
    section = structure.build(speech(INTERVIEW), [], [], 20.0, min_pause=MIN_PAUSE)

    # 2.0-3.0, then 5.5-6.5 after 2.5 s of silence, then 8.0-9.0: each 1.0 s.
    assert section.longest_monologue_s == pytest.approx(1.0)


def test_one_speaker_without_questions_is_one_answer() -> None:
    words = [word(1.0 + i, 1.6 + i, "S1") for i in range(5)]
    section = structure.build(speech(words), [], [], 20.0, min_pause=MIN_PAUSE)

    assert section.answer_count == 1
    assert section.answers[0].after_speaker is None
    assert section.answers[0].response_delay_s is None
    assert section.response_delays_s == []


def test_a_turn_taken_during_an_overlap_is_an_interruption() -> None:
    turns = [
        {"start": 0.0, "end": 4.0, "speaker": "S1"},
        {"start": 3.6, "end": 6.0, "speaker": "S2"},  # takes the floor in the overlap
        {"start": 6.5, "end": 8.0, "speaker": "S1"},  # after a gap: no interruption
        {"start": 8.0, "end": 9.0, "speaker": "S1"},
    ]
    overlaps = [{"start": 3.6, "end": 4.0}, {"start": 12.0, "end": 12.5}]
    section = structure.build(
        speech(INTERVIEW, turns=turns, overlaps=overlaps), [], [], 20.0, min_pause=MIN_PAUSE
    )

    assert [(i.at, i.by, i.of) for i in section.interruptions] == [(3.6, "S2", "S1")]
    assert section.interruptions[0].overlap_s == pytest.approx(0.4)
    assert (section.overlap_count, section.overlap_s) == (2, pytest.approx(0.9))
    assert section.turn_count == 4 and section.turns_by_speaker == {"S1": 3, "S2": 1}


def test_each_question_gets_its_own_speech_and_vision_figures() -> None:
    questions = [
        QuestionSpan(question_id="q1", start=0.0, end=7.0),
        QuestionSpan(question_id="q2", start=7.0, end=10.0),
    ]
    rows = [
        TimelineRow(t=float(t), face_seen=True, eye_contact=t < 5, expression="neutral")
        for t in range(10)
    ]
    section = structure.build(speech(INTERVIEW), rows, questions, 20.0, min_pause=MIN_PAUSE)

    q1, q2 = section.questions
    assert (q1.candidate_words, q2.candidate_words) == (4, 2)
    assert q1.response_delay_s == 1.0  # after the interviewer's last word at 1.0 s
    assert q2.response_delay_s == pytest.approx(-0.2)
    assert q1.candidate_talk_s == pytest.approx(2.0)  # 2.0-6.5 without the 2.5 s pause
    assert q1.words_per_minute == pytest.approx(120.0)
    assert q1.vision.seconds == 7 and q1.vision.eye_contact_ratio == pytest.approx(5 / 7, abs=1e-4)
    assert q2.vision.eye_contact_ratio == 0.0
    assert q1.vision.expression_distribution == {"neutral": 1.0}
    assert [a.question_id for a in section.answers] == ["q1", "q2"]


def test_a_question_the_candidate_did_not_answer_has_no_rate_or_delay() -> None:
    question = QuestionSpan(question_id="q0", start=0.0, end=1.5)
    (figures,) = structure.build(
        speech(INTERVIEW), [], [question], 20.0, min_pause=MIN_PAUSE
    ).questions

    assert figures.candidate_words == 0 and figures.candidate_talk_s == 0.0
    assert figures.words_per_minute is None and figures.response_delay_s is None
    assert figures.vision.seconds == 0 and figures.vision.eye_contact_ratio is None


def test_the_rest_of_the_video_is_given_against_the_candidates_first_seconds() -> None:
    words = [word(1.0 + 0.5 * i, 1.3 + 0.5 * i, "S1") for i in range(10)]  # 1.0-5.8 s
    words += [word(6.0 + 1.0 * i, 6.3 + 1.0 * i, "S1") for i in range(5)]  # slower after 6 s
    rows = [
        TimelineRow(
            t=float(t),
            face_seen=True,
            eye_contact=t < 6,
            expression="neutral" if t < 6 else "happy",
        )
        for t in range(11)
    ]
    section = structure.build(speech(words), rows, [], 5.0, min_pause=MIN_PAUSE)
    base = section.baseline

    assert base is not None and base.window == (1.0, 6.0)
    assert base.words_per_minute == pytest.approx(10 * 60 / 4.8, abs=0.1)
    # After 6 s the words are 0.7 s apart: pauses, which a rate leaves out (as the speech
    # section's rates do), so the rate is the words over their own 1.5 s.
    assert base.rest_words_per_minute == pytest.approx(5 * 60 / 1.5, abs=0.1)
    assert base.words_per_minute_change == pytest.approx(
        base.rest_words_per_minute - base.words_per_minute, abs=0.01
    )
    assert (base.eye_contact_ratio, base.rest_eye_contact_ratio) == (1.0, 0.0)
    assert base.eye_contact_change == -1.0
    assert base.expression_change == {"happy": 1.0, "neutral": -1.0}


def test_a_video_shorter_than_the_baseline_has_no_change() -> None:
    base = structure.build(speech(INTERVIEW), [], [], 60.0, min_pause=MIN_PAUSE).baseline

    assert base is not None and base.words_per_minute is not None
    assert base.rest_words_per_minute is None and base.words_per_minute_change is None
    assert base.expression_change == {}


def test_without_words_structure_cannot_be_assessed() -> None:
    speech = SpeechSection(coverage=1.0, confidence=0.0)
    speech.cannot(reason("no_speech"))
    section = structure.build(speech, [], [], 20.0, min_pause=MIN_PAUSE)

    assert section.cannot_assess == "no speech to structure (no speech detected)"
    assert section.cannot_assess_reason == reason(
        "no_speech_to_structure", cause=reason("no_speech")
    )
    assert section.confidence == 0.0
    assert section.answers == [] and section.baseline is None


def test_question_spans_must_end_after_they_start() -> None:
    with pytest.raises(ValidationError, match="end 2.0 <= start 3.0"):
        VideoMetadata(questions=[{"question_id": "q1", "start": 3.0, "end": 2.0}])


def test_the_baseline_carries_the_speech_sections_pitch_against_it() -> None:
    pitch = {
        "window": [2.0, 22.0],
        "median_hz": 200.0,
        "rest_median_hz": 100.0,
        "change_semitones": -12.0,
    }
    base = structure.build(
        speech(INTERVIEW, pitch_baseline=pitch), [], [], 20.0, min_pause=MIN_PAUSE
    ).baseline

    assert base is not None
    assert (base.pitch_median_hz, base.rest_pitch_median_hz) == (200.0, 100.0)
    assert base.pitch_change_semitones == -12.0


def test_a_one_question_videos_rate_and_delay_are_its_whole_videos() -> None:
    # Pauses short and long, an interviewer's words between: one definition of talk time
    # (fluency.talk_time) gives the speech section's rate and the question's.
    section = speech(
        [
            word(0.0, 0.5, "S2"),
            word(1.5, 1.9, "S1"),
            word(2.0, 2.4, "S1"),  # 0.1 s: articulation
            word(3.2, 3.6, "S1"),  # 0.8 s: a pause
            word(6.1, 6.5, "S1"),  # 2.5 s: a long pause
            word(6.6, 7.0, "S2"),
            word(7.5, 8.0, "S1"),
            word(8.4, 9.0, "S1"),  # 0.4 s: a pause
        ]
    )
    words = [w for seg in section.segments for w in seg.words]
    whole = speaker_figures(
        words, "S1", chunks=[], language="en", min_pause=MIN_PAUSE, received_s=9.0
    )
    question = QuestionSpan(question_id="q1", start=0.0, end=9.0)
    (figures,) = structure.build(section, [], [question], 20.0, min_pause=MIN_PAUSE).questions

    assert whole is not None and figures.words_per_minute is not None
    assert figures.words_per_minute == whole.words_per_minute.speaking
    assert figures.candidate_talk_s == pytest.approx(whole.words_per_minute.speaking_s)
    # And one response delay: the question's is the speaker's first take-over.
    assert figures.response_delay_s == whole.response_delays[0].delay_s == 1.0
