"""What the report page shows, taken from a result: key figures with their coverage, the
transcript by speaker turn with fillers and long pauses marked, the figures per question and
a stretch of the video in one line.

Pure: a result in, plain dataclasses out, for the template. Nothing here scores or ranks.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..analyzers.action_units import UNITS
from ..analyzers.speech.fillers import filler_spans
from ..analyzers.speech.fluency import LONG_PAUSE_S
from ..schemas import AnalysisResult, Section, Segment
from ..schemas.result import QuestionFigures, ReliabilityNote
from ..schemas.speech import QuestionSpeech
from . import i18n
from .i18n import _, num, pct, seconds
from .windows import Bin

#: Each action unit's FACS number and name (translated where shown).
UNIT_NAMES = {unit.key: (unit.au, unit.name) for unit in UNITS}
UNIT_CODES = {unit.key: unit.au for unit in UNITS}


@dataclass(frozen=True)
class KeyFigure:
    name: str
    value: str
    section: str
    coverage: float | None
    confidence: float | None
    note: str = ""
    judged: bool = True


@dataclass(frozen=True)
class Token:
    text: str
    start: float
    filler: bool = False
    pause_before_s: float | None = None  # a long pause just before this word


@dataclass
class Part:
    """One segment of a turn: where it starts (a click there plays the recording from it),
    and its language when it is not the video's main one."""

    start: float
    tokens: list[Token] = field(default_factory=list)
    other_language: str | None = None


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
SPAN_ROW = "span"


@dataclass(frozen=True)
class QuestionRow:
    """One figure across the questions, for a side-by-side table."""

    key: str
    name: str
    values: list[str]


def clock(t: float) -> str:
    """A moment of the video as m:ss (h:mm:ss past an hour)."""
    total = max(0, int(t))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def key_figures(result: AnalysisResult) -> list[KeyFigure]:
    """The figures a reader looks for first, each with the coverage of its section."""
    return _speech_figures(result) + _visual_figures(result)


def word(text: str) -> str:
    """A word of the result (an expression label, a state) in the reader's language."""
    return _(text)


def why_not(owner: Section | None, fallback: str = "") -> str:
    """Why ``owner`` could not be judged, in the reader's words (its English words in a
    result made before reasons had codes)."""
    if owner is None:
        return fallback
    if owner.cannot_assess_reason is not None:
        return i18n.reason(owner.cannot_assess_reason)
    return owner.cannot_assess or fallback


def note_reason(note: ReliabilityNote) -> str:
    """A reliability note's reason in the reader's words."""
    why = note.why
    return note.reason if why is None else i18n.reason(why)


def section_name(key: str) -> str:
    """A section's key path (``head_pose``, ``speech.speakers``) in the reader's words."""
    return _(key)


class _Figures(list[KeyFigure]):
    def add(
        self, name: str, value: str | None, section: str, owner: Section, note: str | None = ""
    ) -> None:
        """A figure; one that was not measured says why, where its section says."""
        self.append(
            KeyFigure(
                name=name,
                value=value if value is not None else _("not judged"),
                section=section,
                coverage=owner.coverage,
                confidence=owner.confidence,
                note=(note or "") if value is not None else why_not(owner),
                judged=value is not None,
            )
        )


def _speech_figures(result: AnalysisResult) -> list[KeyFigure]:
    speech = result.speech
    figures = _Figures()
    add = figures.add

    whose = (
        _("the candidate, over speaking time")
        if speech.figures_for and speech.figures_for.speaker
        else _("everyone, over speaking time")
    )
    wpm = speech.words_per_minute
    add(
        _("Speaking rate"),
        None if wpm is None else words_per_minute(wpm.speaking),
        "speech",
        speech,
        whose,
    )
    pauses = speech.pauses
    add(
        _("Pauses"),
        None
        if pauses is None
        else _("{count} ({long} of 2 s or more)").format(
            count=num(pauses.count), long=num(pauses.long_count)
        ),
        "speech",
        speech,
        None if pauses is None else _("{n} per minute").format(n=num(pauses.per_min, 1)),
    )
    fillers = speech.fillers
    add(
        _("Filler words"),
        None
        if fillers is None or fillers.count is None
        else _("{count} ({rate}/min)").format(
            count=num(fillers.count), rate=num(fillers.per_min or 0.0, 1)
        ),
        "speech",
        speech,
        "" if fillers is None else _fillers_note(fillers.by_word),
    )
    add(
        _("Response delay"),
        None if speech.response_delay_s is None else seconds(speech.response_delay_s),
        "speech",
        speech,
        word(speech.response_delay_basis) if speech.response_delay_basis else "",
    )
    pitch = speech.pitch
    add(
        _("Pitch (median)"),
        None if pitch is None else _("{hz} Hz").format(hz=num(pitch.median_hz)),
        "speech",
        speech,
        None
        if pitch is None
        else _("spread {n} semitones").format(n=num(pitch.spread_semitones, 1)),
    )
    structure = result.structure
    add(
        _("Talk share"),
        None if structure.talk_ratio is None else pct(structure.talk_ratio),
        "structure",
        structure,
        _("{speakers} speaker(s), {answers} answer(s)").format(
            speakers=num(structure.speakers), answers=num(structure.answer_count)
        ),
    )
    return figures


def words_per_minute(value: float) -> str:
    return _("{n} words/min").format(n=num(value))


def _visual_figures(result: AnalysisResult) -> list[KeyFigure]:
    face, gaze = result.face, result.gaze
    figures = _Figures()
    add = figures.add
    expression = face.expression
    add(
        _("Apparent expression (most frames)"),
        None if expression is None or expression.dominant is None else word(expression.dominant),
        "face",
        face,
        _("what the face shows, not what the person feels"),
    )
    add(
        _("Eye contact"),
        None
        if gaze.eye_contact_ratio is None
        else _("{share} of frames").format(share=pct(gaze.eye_contact_ratio)),
        "gaze",
        gaze,
        _("{n} look(s) away").format(n=num(len(gaze.away_episodes))),
    )
    yaw = result.head_pose.yaw
    add(
        _("Head yaw"),
        None
        if yaw is None
        else _("mean {mean}°, spread {spread}°").format(
            mean=i18n.signed(yaw.mean), spread=num(yaw.std)
        ),
        "head_pose",
        result.head_pose,
    )
    blinks = result.blinks
    add(
        _("Blinks"),
        None if blinks.per_min is None else _("{n}/min").format(n=num(blinks.per_min)),
        "blinks",
        blinks,
    )
    gestures = result.gestures
    add(
        _("Hands visible"),
        None
        if gestures.hands_visible_ratio is None
        else _("{share} of checked frames").format(share=pct(gestures.hands_visible_ratio)),
        "gestures",
        gestures,
    )
    return figures


def _fillers_note(by_word: dict[str, int]) -> str:
    return ", ".join(f"{text} ×{num(n)}" for text, n in list(by_word.items())[:5])


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
        other = segment.language if segment.language != speech.language else None
        part = Part(segment.start, other_language=other)
        last.parts.append(part)
        if not segment.words:
            part.tokens.append(Token(text=segment.text.strip(), start=segment.start))
            continue
        fillers = _filler_positions(segment, segment.language or speech.language)
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


def _filler_positions(segment: Segment, language: str | None) -> set[int]:
    """The words that are (part of) a filler: as the result marks them, or for a result
    made before words were marked, found in the segment's text."""
    words = segment.words
    if segment.fillers_marked:
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

    def row(
        key: str, name: str, value: Callable[[QuestionFigures, QuestionSpeech | None], str]
    ) -> None:
        rows.append(
            QuestionRow(key, name, [value(q, speech.get(q.question_id)) for q in structure])
        )

    def figure(s: QuestionSpeech | None) -> Any:
        return None if s is None else s.figures

    rows: list[QuestionRow] = []
    row(SPAN_ROW, _("Span"), lambda q, _s: f"{clock(q.start)}–{clock(q.end)}")
    row("words", _("Candidate's words"), lambda q, _s: num(q.candidate_words))
    row("talk", _("Talk time"), lambda q, _s: seconds(q.candidate_talk_s))
    row("rate", _("Speaking rate"), lambda q, _s: _or_dash(q.words_per_minute, words_per_minute))
    row("delay", _("Response delay"), lambda q, _s: _or_dash(q.response_delay_s, seconds))
    row(
        "pauses",
        _("Pauses"),
        lambda _q, s: "–" if (f := figure(s)) is None else num(f.pauses.count),
    )
    row(
        "fillers",
        _("Filler words"),
        lambda _q, s: (
            "–" if (f := figure(s)) is None or f.fillers.count is None else num(f.fillers.count)
        ),
    )
    row(
        "pitch",
        _("Pitch (median)"),
        lambda _q, s: (
            "–"
            if (f := figure(s)) is None or f.pitch is None
            else _("{hz} Hz").format(hz=num(f.pitch.median_hz))
        ),
    )
    row("face", _("Face seen"), lambda q, _s: pct(q.vision.face_seen_ratio))
    row("eye_contact", _("Eye contact"), lambda q, _s: pct(q.vision.eye_contact_ratio))
    row(
        "expression",
        _("Apparent expression"),
        lambda q, _s: (
            ", ".join(
                f"{word(label)} {pct(share)}"
                for label, share in sorted(
                    q.vision.expression_distribution.items(), key=lambda kv: -kv[1]
                )[:2]
            )
            or "–"
        ),
    )
    return ids, rows


def _or_dash(value: float | None, show: Callable[[float], str]) -> str:
    return "–" if value is None else show(value)


def bin_summary(part: Bin) -> str:
    """A stretch of the video in one line, from the same figures as its chart and table."""
    said = _("{n} words").format(n=num(part.words))
    if part.speakers:
        said += f" ({', '.join(part.speakers)})"
    parts = [said]
    if part.face_share is not None:
        parts.append(
            _("a face in {share} of the seconds with a frame").format(share=pct(part.face_share))
        )
    if part.eye_contact_share is not None:
        parts.append(
            _("eye contact {share} of the measured time").format(share=pct(part.eye_contact_share))
        )
    if part.expression is not None:
        parts.append(_("apparent expression mostly {label}").format(label=word(part.expression)))
    if part.action_units:
        parts.append(_("facial action units active: {units}").format(units=active_units(part)))
    if part.head_yaw is not None:
        parts.append(_("head yaw {degrees}° on average").format(degrees=i18n.signed(part.head_yaw)))
    return "; ".join(parts) + "."


def active_units(part: Bin) -> str:
    """The action units whose mean movement in the stretch is at least active, by their FACS
    numbers and names; "none" where none is (and "–" where none was measured)."""
    if not part.action_units:
        return "–"
    names = [f"{UNIT_NAMES[key][0]} {_(UNIT_NAMES[key][1])}" for key in part.active_units]
    return ", ".join(names) or _("none")


def active_unit_codes(part: Bin) -> str:
    """The same by FACS numbers alone, for a table's cell."""
    if not part.action_units:
        return "–"
    return ", ".join(UNIT_CODES[key] for key in part.active_units) or _("none")
