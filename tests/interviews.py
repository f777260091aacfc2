"""Generated interview results for the report's tests and benchmark.

``interview``: an interviewer asks, the candidate answers with a filler and a long pause, a face
is seen, every second has a row. ``dense_interview``: what real whole interviews look like, with
someone talking nearly all the time (about 150 words a minute, two speakers), expression
scores, eye contact and head yaw that change every second.
"""

from __future__ import annotations

import math
import random
from typing import Any

from video_analysis.analyzers.action_units import UNITS
from video_analysis.analyzers.speech.fillers import mark_fillers
from video_analysis.schemas import (
    AnalysisResult,
    ModelInfo,
    QuestionSpan,
    ReliabilityNote,
    Segment,
    Speakers,
    SpeechSection,
    TimelineRow,
    TimelineWord,
    Turn,
    VideoMetadata,
    Word,
)
from video_analysis.schemas.reasons import reason
from video_analysis.schemas.vision import (
    ActionUnit,
    ActionUnits,
    ActionUnitSecond,
    Expression,
    ExpressionSecond,
    FaceSection,
    GazeSection,
)
from video_analysis.structure import build as build_structure

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
ANSWER = "so um I led the team that rebuilt billing and we shipped it in three months".split()
#: Words of the dense interview's speech: ordinary words, fillers among them.
VOCABULARY = (
    "the team and I worked on billing so we could ship faster um because customers were "
    "waiting for it which meant that every release had to be tested uh carefully before "
    "production like when we moved the database to a new cluster you know it took weeks"
).split()
#: A word every this long while someone speaks, and a long pause after one word in
#: DENSE_PAUSE_EVERY: about 150 words a minute over the whole video, as real interviews go.
DENSE_WORD_EVERY_S = 0.34
DENSE_PAUSE_EVERY = 40
DENSE_PAUSE_S = 2.5
#: The interviewer's share of each question's span, and the span without questions.
DENSE_ASK_S = 12.0
DENSE_EXCHANGE_S = 90.0


def interview(seconds: int, *, questions: int = 0) -> AnalysisResult:
    """An interviewer (S2) asks for 3 s, the candidate (S1) answers for 12 s, again and again;
    a face is seen and scored every second but the first; eye contact except every 7th s."""
    segments: list[Segment] = []
    turns: list[Turn] = []
    t = 0.0
    while t + 15 <= seconds:
        ask = [
            Word(
                start=t + 0.2 + k * 0.5,
                end=t + 0.6 + k * 0.5,
                word=" why?",
                probability=0.9,
                speaker="S2",
            )
            for k in range(4)
        ]
        said = [
            Word(
                start=t + 3.5 + k * 0.45,
                end=t + 3.85 + k * 0.45,
                word=f" {w}",
                probability=0.9,
                speaker="S1",
            )
            for k, w in enumerate(ANSWER)
        ]
        mark_fillers(said, "en")  # as the join marks them
        # a long pause (3 s) before the last two words
        for w in said[-2:]:
            w.start += 3.0
            w.end += 3.0
        segments.append(
            Segment(start=ask[0].start, end=ask[-1].end, text="why? " * 4, speaker="S2", words=ask)
        )
        segments.append(
            Segment(
                start=said[0].start,
                end=said[-1].end,
                text=" ".join(ANSWER),
                speaker="S1",
                words=said,
            )
        )
        turns += [
            Turn(start=ask[0].start, end=ask[-1].end, speaker="S2"),
            Turn(start=said[0].start, end=said[-1].end, speaker="S1"),
        ]
        t += 15
    words = [w for s in segments for w in s.words]
    rows = []
    for second in range(seconds):
        inside = [w for w in words if second <= (w.start + w.end) / 2 < second + 1]
        rows.append(
            _row(
                second,
                inside,
                face_seen=second > 0,
                expression="neutral" if second % 5 else "happy",
                expression_score=0.6,
                eye_contact=None if second == 0 else second % 7 != 0,
                head_yaw=None if second == 0 else 10 * math.sin(second / 5),
                head_pitch=0.0,
            )
        )
    spans = [
        QuestionSpan(question_id=f"q{k + 1}", start=k * 15.0, end=(k + 1) * 15.0)
        for k in range(questions)
    ]
    scored = [
        ExpressionSecond(
            t=float(s),
            dominant="neutral",
            frames=5,
            scores={label: (0.55 if label == "neutral" else 0.075) for label in LABELS},
        )
        for s in range(1, seconds)
    ]
    return _assemble(seconds, segments, turns, spans, rows, scored)


def _row(second: int, inside: list[Word], **seen: Any) -> TimelineRow:
    """The timeline row of ``second``: the words whose midpoint lies in it, and what the camera
    saw (``seen``)."""
    return TimelineRow(
        t=float(second),
        text=" ".join(w.word.strip() for w in inside),
        words=[
            TimelineWord(word=w.word, start=w.start, end=w.end, speaker=w.speaker) for w in inside
        ],
        speakers=sorted({w.speaker for w in inside if w.speaker}),
        **seen,
    )


def _assemble(
    seconds: int,
    segments: list[Segment],
    turns: list[Turn],
    spans: list[QuestionSpan],
    rows: list[TimelineRow],
    scored: list[ExpressionSecond],
) -> AnalysisResult:
    """The result around the generated speech, timeline and expression scores."""
    talk = {name: sum(t.end - t.start for t in turns if t.speaker == name) for name in ("S1", "S2")}
    total = sum(talk.values()) or 1.0
    speech = SpeechSection(
        coverage=1.0,
        confidence=0.9,
        language="en",
        transcript=" ".join(s.text for s in segments),
        segments=segments,
        turns=turns,
        speakers=Speakers(
            count=2,
            candidate="S1",
            candidate_source="most_talk",
            talk_ratio={name: round(value / total, 2) for name, value in talk.items()},
        ),
    )
    result = AnalysisResult(
        video_id="iv-42",
        status="complete",
        metadata=VideoMetadata(questions=spans),
        speech=speech,
        face=FaceSection(
            coverage=0.97,
            confidence=0.8,
            expression=Expression(dominant="neutral", timeline=scored),
            action_units=action_units([s.t for s in scored]),
        ),
        gaze=GazeSection(coverage=0.97, confidence=0.78, eye_contact_ratio=0.85),
        timeline=rows,
        models=[ModelInfo(analyzer="speech", name="whisper-base", version="1", sha256="ab" * 32)],
        reliability=[ReliabilityNote.of("posture", reason("no_shoulders"))],
    )
    result.media.duration_s = float(seconds)
    result.structure = build_structure(speech, rows, spans, 20.0, min_pause=0.3)
    return result


def action_units(seconds: list[float]) -> ActionUnits:
    """``face.action_units`` over ``seconds``: each unit waxing and waning at its own pace, up
    to twice its active threshold (the lip corner puller active about a third of the time)."""
    timeline = [
        ActionUnitSecond(
            t=t,
            frames=5,
            intensity={
                u.key: round(u.active * max(0.0, 2 * math.sin(t / (3 + k))), 4)
                for k, u in enumerate(UNITS)
            },
        )
        for t in seconds
    ]
    units = {
        u.key: ActionUnit(
            au=u.au,
            name=u.name,
            mean=round(sum(s.intensity[u.key] for s in timeline) / max(1, len(timeline)), 4),
            peak=round(2 * u.active, 4),
            active_share=round(
                sum(s.intensity[u.key] >= u.active for s in timeline) / max(1, len(timeline)), 4
            ),
            active_threshold=u.active,
        )
        for u in UNITS
    }
    return ActionUnits(coverage=0.97, confidence=0.9, units=units, timeline=timeline)


def dense_interview(seconds: int, *, questions: int = 0, seed: int = 17) -> AnalysisResult:
    """Speech from start to end as in a real interview: the interviewer (S2) asks for 12 s, the
    candidate (S1) answers until the next question (each question's span, or every 90 s);
    about 150 words a minute in segments of up to 12 words, a long pause now and then; a face in
    97% of the seconds with seven expression scores, eye contact and head yaw changing every
    second, as the join writes them."""
    rng = random.Random(seed)
    spans = [
        QuestionSpan(
            question_id=f"q{k + 1}",
            start=round(k * seconds / questions, 1),
            end=round((k + 1) * seconds / questions, 1),
        )
        for k in range(questions)
    ]
    starts = [q.start for q in spans] or [
        float(t) for t in range(0, seconds, int(DENSE_EXCHANGE_S))
    ]
    segments: list[Segment] = []
    turns: list[Turn] = []
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else float(seconds)
        ask_end = min(start + DENSE_ASK_S, end)
        for speaker, a, b in (("S2", start + 0.3, ask_end), ("S1", ask_end + 0.8, end - 0.3)):
            said = _dense_speech(rng, speaker, a, b)
            if said:
                segments += said
                turns.append(Turn(start=said[0].start, end=said[-1].end, speaker=speaker))
    words = [w for s in segments for w in s.words]
    by_second: dict[int, list[Word]] = {}
    for w in words:
        by_second.setdefault(int((w.start + w.end) / 2), []).append(w)
    rows: list[TimelineRow] = []
    scored: list[ExpressionSecond] = []
    yaw = 0.0
    for second in range(seconds):
        inside = by_second.get(second, [])
        face = rng.random() > 0.03
        yaw = max(-45.0, min(45.0, 0.8 * yaw + rng.gauss(0, 6)))
        scores = _scores(rng) if face else {}
        dominant = max(scores, key=lambda label: scores[label]) if scores else None
        if scores and dominant is not None:
            scored.append(
                ExpressionSecond(t=float(second), dominant=dominant, frames=5, scores=scores)
            )
        rows.append(
            _row(
                second,
                inside,
                face_seen=face,
                expression=dominant,
                expression_score=scores[dominant] if dominant is not None else None,
                eye_contact=(abs(yaw) < 15) if face else None,
                head_yaw=round(yaw, 1) if face else None,
                head_pitch=round(rng.gauss(0, 4), 1) if face else None,
            )
        )
    return _assemble(seconds, segments, turns, spans, rows, scored)


def _dense_speech(rng: random.Random, speaker: str, start: float, end: float) -> list[Segment]:
    """One speaker's words from ``start`` to ``end`` in segments of up to 12 words, with a
    long pause now and then."""
    segments: list[Segment] = []
    words: list[Word] = []
    t = start
    while t + 0.3 <= end:
        text = rng.choice(VOCABULARY)
        words.append(
            Word(
                start=round(t, 2),
                end=round(t + 0.3, 2),
                word=f" {text}",
                probability=round(rng.uniform(0.6, 1.0), 3),
                speaker=speaker,
            )
        )
        t += DENSE_WORD_EVERY_S + (DENSE_PAUSE_S if rng.random() < 1 / DENSE_PAUSE_EVERY else 0)
        if len(words) == 12 or t + 0.3 > end:
            mark_fillers(words, "en")
            segments.append(
                Segment(
                    start=words[0].start,
                    end=words[-1].end,
                    text=" ".join(w.word.strip() for w in words),
                    speaker=speaker,
                    words=words,
                )
            )
            words = []
    return segments


def _scores(rng: random.Random) -> dict[str, float]:
    raw = {label: rng.random() * (4.0 if label == "neutral" else 1.0) for label in LABELS}
    total = sum(raw.values())
    return {label: round(value / total, 4) for label, value in raw.items()}
