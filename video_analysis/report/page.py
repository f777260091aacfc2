"""What the report page shows, taken from a result: key figures with their coverage, the
transcript by speaker turn with fillers and long pauses marked, the figures per question and
a stretch of the video in one line.

Pure: a result in, plain dataclasses out, for the template. Nothing here scores or ranks.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..analyzers.action_units import UNITS
from ..analyzers.speech.fillers import filler_spans
from ..analyzers.speech.fluency import LONG_PAUSE_S
from ..schemas import AnalysisResult, Section, Word
from ..schemas.result import QuestionFigures
from ..schemas.speech import QuestionSpeech
from .windows import Bin

#: How the page names each action unit: its FACS number and name.
UNIT_NAMES = {unit.key: f"{unit.au} {unit.name}" for unit in UNITS}
UNIT_CODES = {unit.key: unit.au for unit in UNITS}


@dataclass(frozen=True)
class KeyFigure:
    name: str
    value: str
    section: str
    coverage: float | None
    confidence: float | None
    note: str = ""


@dataclass(frozen=True)
class Token:
    text: str
    start: float
    filler: bool = False
    pause_before_s: float | None = None  # a long pause just before this word


@dataclass
class Part:
    """One segment of a turn: where it starts (a click there plays the recording from it)."""

    start: float
    tokens: list[Token] = field(default_factory=list)


@dataclass
class TurnView:
    speaker: str
    start: float
    end: float
    candidate: bool
    continued: bool = False  # the turn began in the panel before
    parts: list[Part] = field(default_factory=list)

    @property
    def tokens(self) -> list[Token]:
        return [token for part in self.parts for token in part.tokens]


#: The row of the per-question table that gives each question's span (a panel's heading has it).
SPAN_ROW = "Span"


@dataclass(frozen=True)
class QuestionRow:
    """One figure across the questions, for a side-by-side table."""

    name: str
    values: list[str]


def clock(seconds: float) -> str:
    """m:ss (h:mm:ss past an hour)."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def key_figures(result: AnalysisResult) -> list[KeyFigure]:
    """The figures a reader looks for first, each with the coverage of its section."""
    return _speech_figures(result) + _visual_figures(result)


class _Figures(list[KeyFigure]):
    def add(
        self, name: str, value: str | None, section: str, owner: Section, note: str | None = ""
    ) -> None:
        """A figure; one that was not measured says why, where its section says."""
        self.append(
            KeyFigure(
                name=name,
                value=value if value is not None else "not judged",
                section=section,
                coverage=owner.coverage,
                confidence=owner.confidence,
                note=(note or "") if value is not None else (owner.cannot_assess or ""),
            )
        )


def _speech_figures(result: AnalysisResult) -> list[KeyFigure]:
    speech = result.speech
    figures = _Figures()
    add = figures.add

    whose = "the candidate" if speech.figures_for and speech.figures_for.speaker else "everyone"
    wpm = speech.words_per_minute
    add(
        "Speaking rate",
        None if wpm is None else f"{wpm.speaking:.0f} words/min",
        "speech",
        speech,
        f"{whose}, over speaking time",
    )
    pauses = speech.pauses
    add(
        "Pauses",
        None if pauses is None else f"{pauses.count} ({pauses.long_count} of 2 s or more)",
        "speech",
        speech,
        None if pauses is None else f"{pauses.per_min:.1f} per minute",
    )
    fillers = speech.fillers
    add(
        "Filler words",
        None
        if fillers is None or fillers.count is None
        else f"{fillers.count} ({fillers.per_min:.1f}/min)",
        "speech",
        speech,
        "" if fillers is None else _fillers_note(fillers.by_word),
    )
    add(
        "Response delay",
        None if speech.response_delay_s is None else f"{speech.response_delay_s:.1f} s",
        "speech",
        speech,
        (speech.response_delay_basis or "").replace("_", " "),
    )
    pitch = speech.pitch
    add(
        "Pitch (median)",
        None if pitch is None else f"{pitch.median_hz:.0f} Hz",
        "speech",
        speech,
        None if pitch is None else f"spread {pitch.spread_semitones:.1f} semitones",
    )
    structure = result.structure
    add(
        "Talk share",
        None if structure.talk_ratio is None else f"{structure.talk_ratio:.0%}",
        "structure",
        structure,
        f"{structure.speakers} speaker(s), {structure.answer_count} answer(s)",
    )
    return figures


def _visual_figures(result: AnalysisResult) -> list[KeyFigure]:
    face, gaze = result.face, result.gaze
    figures = _Figures()
    add = figures.add
    expression = face.expression
    add(
        "Apparent expression (most frames)",
        None if expression is None or expression.dominant is None else expression.dominant,
        "face",
        face,
        "what the face shows, not what the person feels",
    )
    add(
        "Eye contact",
        None if gaze.eye_contact_ratio is None else f"{gaze.eye_contact_ratio:.0%} of frames",
        "gaze",
        gaze,
        f"{len(gaze.away_episodes)} look(s) away",
    )
    yaw = result.head_pose.yaw
    add(
        "Head yaw",
        None if yaw is None else f"mean {yaw.mean:+.0f}°, spread {yaw.std:.0f}°",
        "head_pose",
        result.head_pose,
    )
    blinks = result.blinks
    add(
        "Blinks",
        None if blinks.per_min is None else f"{blinks.per_min:.0f}/min",
        "blinks",
        blinks,
    )
    gestures = result.gestures
    add(
        "Hands visible",
        None
        if gestures.hands_visible_ratio is None
        else f"{gestures.hands_visible_ratio:.0%} of checked frames",
        "gestures",
        gestures,
    )
    return figures


def _fillers_note(by_word: dict[str, int]) -> str:
    return ", ".join(f"{word} ×{n}" for word, n in list(by_word.items())[:5])


def turns(result: AnalysisResult, cuts: Sequence[float] = ()) -> list[list[TurnView]]:
    """The transcript as speaker turns: consecutive segments of one speaker together, each
    word marked when it is (part of) a filler or follows a long pause of that speaker. The
    transcript is cut at the times ``cuts`` (the report's panels after the first), by where
    each segment starts; a turn that goes on past a cut is ``continued`` after it."""
    speech = result.speech
    candidate = speech.speakers.candidate if speech.speakers is not None else None
    panels: list[list[TurnView]] = [[] for _ in range(len(cuts) + 1)]
    last: TurnView | None = None
    last_end: float | None = None  # of the current turn's last word
    for segment in speech.segments:
        speaker = segment.speaker or "?"
        panel = panels[bisect_right(cuts, segment.start)]
        if last is None or last.speaker != speaker:
            last_end = None
        if last is None or last.speaker != speaker or not panel or panel[-1] is not last:
            continued = last is not None and last.speaker == speaker
            last = TurnView(speaker, segment.start, segment.end, speaker == candidate, continued)
            panel.append(last)
        last.end = max(last.end, segment.end)
        part = Part(segment.start)
        last.parts.append(part)
        if not segment.words:
            part.tokens.append(Token(text=segment.text.strip(), start=segment.start))
            continue
        fillers = _filler_positions(segment.words, speech.language)
        for k, word in enumerate(segment.words):
            gap = None if last_end is None else word.start - last_end
            part.tokens.append(
                Token(
                    text=word.word.strip(),
                    start=word.start,
                    filler=k in fillers,
                    pause_before_s=round(gap, 1)
                    if gap is not None and gap >= LONG_PAUSE_S
                    else None,
                )
            )
            last_end = word.end
    return panels


def _filler_positions(words: Sequence[Word], language: str | None) -> set[int]:
    """The words that are (part of) a filler: as the result marks them, or for a result
    made before words were marked, found in the segment's text."""
    if any("filler" in w.model_fields_set for w in words):
        return {k for k, w in enumerate(words) if w.filler}
    spans = filler_spans([w.word for w in words], language)
    return {k for start, length, _name in spans for k in range(start, start + length)}


def long_pauses(result: AnalysisResult) -> list[tuple[float, float]]:
    """The candidate's silent gaps of ``LONG_PAUSE_S`` or more inside their own speech."""
    speech = result.speech
    candidate = speech.speakers.candidate if speech.speakers is not None else None
    words = [w for s in speech.segments for w in s.words]
    gaps = []
    for before, word in zip(words, words[1:], strict=False):
        own = before.speaker == word.speaker and (candidate is None or word.speaker == candidate)
        if own and word.start - before.end >= LONG_PAUSE_S:
            gaps.append((before.end, word.start))
    return gaps


def question_rows(result: AnalysisResult) -> tuple[list[str], list[QuestionRow]]:
    """The per-question figures side by side: the question ids, then one row per figure."""
    structure = result.structure.questions
    speech = {q.question_id: q for q in result.speech.questions}
    if not structure:
        return [], []
    ids = [q.question_id for q in structure]

    def row(name: str, value: Callable[[QuestionFigures, QuestionSpeech | None], str]) -> None:
        rows.append(QuestionRow(name, [value(q, speech.get(q.question_id)) for q in structure]))

    rows: list[QuestionRow] = []
    row(SPAN_ROW, lambda q, _s: f"{clock(q.start)}–{clock(q.end)}")
    row("Candidate's words", lambda q, _s: str(q.candidate_words))
    row("Talk time", lambda q, _s: f"{q.candidate_talk_s:.1f} s")
    row("Speaking rate", lambda q, _s: _num(q.words_per_minute, "{:.0f} words/min"))
    row("Response delay", lambda q, _s: _num(q.response_delay_s, "{:.1f} s"))
    row(
        "Pauses",
        lambda _q, s: "–" if s is None or s.figures is None else str(s.figures.pauses.count),
    )
    row(
        "Filler words",
        lambda _q, s: (
            "–"
            if s is None or s.figures is None or s.figures.fillers.count is None
            else str(s.figures.fillers.count)
        ),
    )
    row(
        "Pitch (median)",
        lambda _q, s: (
            "–"
            if s is None or s.figures is None or s.figures.pitch is None
            else f"{s.figures.pitch.median_hz:.0f} Hz"
        ),
    )
    row("Face seen", lambda q, _s: _num(q.vision.face_seen_ratio, "{:.0%}"))
    row("Eye contact", lambda q, _s: _num(q.vision.eye_contact_ratio, "{:.0%}"))
    row(
        "Apparent expression",
        lambda q, _s: (
            ", ".join(
                f"{label} {share:.0%}"
                for label, share in sorted(
                    q.vision.expression_distribution.items(), key=lambda kv: -kv[1]
                )[:2]
            )
            or "–"
        ),
    )
    return ids, rows


def _num(value: float | None, template: str) -> str:
    return "–" if value is None else template.format(value)


def bin_summary(part: Bin) -> str:
    """A stretch of the video in one line, from the same figures as its chart and table."""
    said = f"{part.words} words" + (f" ({', '.join(part.speakers)})" if part.speakers else "")
    parts = [said]
    if part.face_share is not None:
        parts.append(f"a face in {part.face_share:.0%} of the seconds with a frame")
    if part.eye_contact_share is not None:
        parts.append(f"eye contact {part.eye_contact_share:.0%} of the measured time")
    if part.expression is not None:
        parts.append(f"apparent expression mostly {part.expression}")
    if part.action_units:
        parts.append(f"facial action units active: {active_units(part)}")
    if part.head_yaw is not None:
        parts.append(f"head yaw {part.head_yaw:+.0f}° on average")
    return "; ".join(parts) + "."


def active_units(part: Bin) -> str:
    """The action units whose mean movement in the stretch is at least active, by their FACS
    numbers and names; "none" where none is (and "–" where none was measured)."""
    if not part.action_units:
        return "–"
    return ", ".join(UNIT_NAMES[key] for key in part.active_units) or "none"


def active_unit_codes(part: Bin) -> str:
    """The same by FACS numbers alone, for a table's cell."""
    if not part.action_units:
        return "–"
    return ", ".join(UNIT_CODES[key] for key in part.active_units) or "none"
