"""A generated interview result for the report's tests and benchmark: an interviewer asks, the
candidate answers with a filler and a long pause, a face is seen, every second has a row."""

from __future__ import annotations

import math

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
from video_analysis.schemas.vision import Expression, ExpressionSecond, FaceSection, GazeSection
from video_analysis.structure import build as build_structure

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
ANSWER = "so um I led the team that rebuilt billing and we shipped it in three months".split()


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
            TimelineRow(
                t=float(second),
                text=" ".join(w.word.strip() for w in inside),
                words=[
                    TimelineWord(word=w.word, start=w.start, end=w.end, speaker=w.speaker)
                    for w in inside
                ],
                speakers=sorted({w.speaker for w in inside if w.speaker}),
                face_seen=second > 0,
                expression="neutral" if second % 5 else "happy",
                expression_score=0.6,
                eye_contact=None if second == 0 else second % 7 != 0,
                head_yaw=None if second == 0 else 10 * math.sin(second / 5),
                head_pitch=0.0,
            )
        )
    speech = SpeechSection(
        coverage=1.0,
        confidence=0.9,
        language="en",
        transcript=" ".join(s.text for s in segments),
        segments=segments,
        turns=turns,
        speakers=Speakers(
            count=2, candidate="S1", candidate_source="most_talk", talk_ratio={"S1": 0.8, "S2": 0.2}
        ),
    )
    spans = [
        QuestionSpan(question_id=f"q{k + 1}", start=k * 15.0, end=(k + 1) * 15.0)
        for k in range(questions)
    ]
    result = AnalysisResult(
        video_id="iv-42",
        status="complete",
        metadata=VideoMetadata(questions=spans),
        speech=speech,
        face=FaceSection(
            coverage=0.97,
            confidence=0.8,
            expression=Expression(
                dominant="neutral",
                timeline=[
                    ExpressionSecond(
                        t=float(s),
                        dominant="neutral",
                        frames=5,
                        scores={label: (0.55 if label == "neutral" else 0.075) for label in LABELS},
                    )
                    for s in range(1, seconds)
                ],
            ),
        ),
        gaze=GazeSection(coverage=0.97, confidence=0.78, eye_contact_ratio=0.85),
        timeline=rows,
        models=[ModelInfo(analyzer="speech", name="whisper-base", version="1", sha256="ab" * 32)],
        reliability=[ReliabilityNote(section="posture", reason="no shoulders in view")],
    )
    result.media.duration_s = float(seconds)
    result.structure = build_structure(speech, rows, spans, 20.0)
    return result
