"""The interview's structure: turns, the candidate's answers, interruptions, per question, and
the candidate against their own first seconds.

Pure functions over what the join has already built: the speech section (turns, words with
speakers, overlaps, the candidate) and the timeline rows. An *answer* is a stretch of the
candidate's words that no other speaker's word interrupts; a *monologue* is a stretch of an
answer without a long pause (``LONG_PAUSE_S``) in it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from .analyzers.speech.figures import first_response_delay, runs_of, takeover
from .analyzers.speech.fluency import LONG_PAUSE_S, talk_time
from .schemas import QuestionSpan, SpeechSection, TimelineRow, Turn, Word
from .schemas.reasons import reason
from .schemas.result import (
    Answer,
    AnswerLengths,
    Baseline,
    Interruption,
    QuestionFigures,
    StructureSection,
    VisionFigures,
)

# A turn that starts within this many seconds of an overlap took the floor during it.
INTERRUPTION_SLACK_S = 0.25


def build(
    speech: SpeechSection,
    timeline: Sequence[TimelineRow],
    questions: Sequence[QuestionSpan],
    baseline_s: float,
    *,
    min_pause: float,
) -> StructureSection:
    """The ``structure`` section from the speech section and the timeline; rates leave out
    pauses of ``min_pause`` seconds or more, as the speech section's do."""
    words = [w for seg in speech.segments for w in seg.words]
    speakers = speech.speakers
    candidate = speakers.candidate if speakers is not None else None
    section = StructureSection(
        coverage=speech.coverage,
        confidence=speech.confidence,
        candidate=candidate,
        candidate_source=speakers.candidate_source if speakers is not None else None,
    )
    if not words or candidate is None or speakers is None:
        section.confidence = 0.0
        cause = speech.cannot_assess_reason or reason("no_words")
        section.cannot(reason("no_speech_to_structure", cause=cause))
        return section
    turns = speech.turns
    by_speaker = Counter(t.speaker for t in turns)
    talk = speakers.talk_ratio
    regions = speech.overlaps.regions if speech.overlaps is not None else []
    overlaps = [(r.start, r.end) for r in regions]
    answers = candidate_answers(words, candidate, questions)
    section.speakers = speakers.count or len(by_speaker)
    section.turn_count = len(turns)
    section.turns_by_speaker = dict(sorted(by_speaker.items()))
    section.talk_ratio = talk.get(candidate)
    section.answers = answers
    section.answer_count = len(answers)
    durations = [a.duration_s for a in answers]
    section.answer_lengths = AnswerLengths(
        mean_s=round(float(np.mean(durations)), 3),
        median_s=round(float(np.median(durations)), 3),
        longest_s=round(max(durations), 3),
    )
    section.longest_monologue_s = round(longest_monologue(words, candidate), 3)
    section.response_delays_s = [
        a.response_delay_s for a in answers if a.response_delay_s is not None
    ]
    section.overlap_count = len(overlaps)
    section.overlap_s = round(sum(b - a for a, b in overlaps), 3)
    section.interruptions = interruptions(turns, overlaps)
    spoken = {q.question_id: q.figures for q in speech.questions}
    section.questions = [
        question_figures(q, words, candidate, timeline, min_pause).model_copy(
            update={"speech": spoken.get(q.question_id)}
        )
        for q in questions
    ]
    section.baseline = baseline(words, candidate, timeline, baseline_s, min_pause)
    pitch = speech.pitch_baseline
    if section.baseline is not None and pitch is not None:
        section.baseline.pitch_median_hz = pitch.median_hz
        section.baseline.rest_pitch_median_hz = pitch.rest_median_hz
        section.baseline.pitch_change_semitones = pitch.change_semitones
    return section


def candidate_answers(
    words: Sequence[Word], candidate: str, questions: Sequence[QuestionSpan] = ()
) -> list[Answer]:
    """The candidate's answers, with who spoke before each and the delay after them."""
    answers = []
    position = {id(w): i for i, w in enumerate(words)}
    for run in runs_of(list(words), candidate):
        first, last = run[0], run[-1]
        before = words[position[id(first)] - 1] if position[id(first)] > 0 else None
        delay = takeover(before, first) if before is not None else None
        start, end = first.start, last.end
        answers.append(
            Answer(
                start=round(start, 3),
                end=round(end, 3),
                duration_s=round(end - start, 3),
                words=len(run),
                question_id=_question_at(questions, start),
                after_speaker=None if delay is None else delay.after,
                response_delay_s=None if delay is None else delay.delay_s,
            )
        )
    return answers


def longest_monologue(words: Sequence[Word], speaker: str) -> float:
    """Longest stretch of ``speaker``'s words with neither another speaker's word nor a pause
    of ``LONG_PAUSE_S`` or more in it, in seconds."""
    longest = 0.0
    for run in runs_of(list(words), speaker):
        start = run[0].start
        for previous, word in zip(run, run[1:], strict=False):
            if word.start - previous.end >= LONG_PAUSE_S:
                longest = max(longest, previous.end - start)
                start = word.start
        longest = max(longest, run[-1].end - start)
    return longest


def interruptions(
    turns: Sequence[Turn], overlaps: Sequence[tuple[float, float]]
) -> list[Interruption]:
    """Turns that began while two people spoke at once, taking the floor from another."""
    found = []
    for before, turn in zip(turns, turns[1:], strict=False):
        if turn.speaker == before.speaker:
            continue
        at = turn.start
        for start, end in overlaps:
            if start - INTERRUPTION_SLACK_S <= at <= end + INTERRUPTION_SLACK_S:
                found.append(
                    Interruption(
                        at=round(at, 3),
                        by=turn.speaker,
                        of=before.speaker,
                        overlap_s=round(end - start, 3),
                    )
                )
                break
    return found


def question_figures(
    question: QuestionSpan,
    words: Sequence[Word],
    candidate: str,
    timeline: Sequence[TimelineRow],
    min_pause: float,
) -> QuestionFigures:
    inside = [w for w in words if question.start <= w.midpoint < question.end]
    own = [w for w in inside if w.speaker == candidate]
    talk_s = _talk_seconds(inside, candidate, min_pause)
    return QuestionFigures(
        question_id=question.question_id,
        start=question.start,
        end=question.end,
        candidate_words=len(own),
        candidate_talk_s=round(talk_s, 3),
        words_per_minute=_per_minute(len(own), talk_s),
        response_delay_s=first_response_delay(inside, candidate, question.start),
        vision=vision_figures([r for r in timeline if question.start <= r.t < question.end]),
    )


def baseline(
    words: Sequence[Word],
    candidate: str,
    timeline: Sequence[TimelineRow],
    seconds: float,
    min_pause: float,
) -> Baseline | None:
    """The candidate's first ``seconds`` from their first word, and the rest against them."""
    own = [w for w in words if w.speaker == candidate]
    if not own:
        return None
    start = own[0].start
    end = start + seconds
    inside = [w for w in words if w.midpoint < end]
    after = [w for w in words if w.midpoint >= end]
    early = vision_figures([r for r in timeline if start <= r.t < end])
    late = vision_figures([r for r in timeline if r.t >= end])
    wpm, rest_wpm = _rate(inside, candidate, min_pause), _rate(after, candidate, min_pause)
    labels = sorted(set(early.expression_distribution) | set(late.expression_distribution))
    return Baseline(
        window=(round(start, 3), round(end, 3)),
        words_per_minute=wpm,
        rest_words_per_minute=rest_wpm,
        words_per_minute_change=_change(rest_wpm, wpm),
        eye_contact_ratio=early.eye_contact_ratio,
        rest_eye_contact_ratio=late.eye_contact_ratio,
        eye_contact_change=_change(late.eye_contact_ratio, early.eye_contact_ratio),
        expression_distribution=early.expression_distribution,
        rest_expression_distribution=late.expression_distribution,
        expression_change={
            label: round(
                late.expression_distribution.get(label, 0.0)
                - early.expression_distribution.get(label, 0.0),
                4,
            )
            for label in labels
        }
        if early.expression_distribution and late.expression_distribution
        else {},
    )


def vision_figures(rows: Sequence[TimelineRow]) -> VisionFigures:
    seen = [r.face_seen for r in rows if r.face_seen is not None]
    looks = [r.eye_contact for r in rows if r.eye_contact is not None]
    labels = Counter(r.expression for r in rows if r.expression is not None)
    total = sum(labels.values())
    return VisionFigures(
        seconds=len(rows),
        face_seen_ratio=round(sum(seen) / len(seen), 4) if seen else None,
        eye_contact_ratio=round(sum(looks) / len(looks), 4) if looks else None,
        expression_distribution={k: round(v / total, 4) for k, v in sorted(labels.items())},
    )


def _rate(words: Sequence[Word], speaker: str, min_pause: float) -> float | None:
    """Words per minute of ``speaker`` over their own talk time in ``words``."""
    talk_s = _talk_seconds(words, speaker, min_pause)
    return _per_minute(sum(1 for w in words if w.speaker == speaker), talk_s)


def _per_minute(count: int, talk_s: float) -> float | None:
    """Words per minute of talk time; None without any."""
    return round(count * 60 / talk_s, 1) if talk_s > 0 else None


def _talk_seconds(words: Sequence[Word], speaker: str, min_pause: float) -> float:
    """Time ``speaker`` spent speaking in ``words`` (``fluency.talk_time``)."""
    return talk_time(runs_of(list(words), speaker), min_pause).speaking_s


def _change(rest: float | None, base: float | None) -> float | None:
    return None if rest is None or base is None else round(rest - base, 4)


def _question_at(questions: Sequence[QuestionSpan], t: float) -> str | None:
    return next((q.question_id for q in questions if q.start <= t < q.end), None)
