"""How the report cuts a long interview: into panels (one per question, or five minutes at a
time) and, inside each, into bins of seconds that the charts and the tables share.

Pure: a result in, plain dataclasses out. A bin's figures are computed here once, so the chart
of a panel, its table for screen readers and its one-line summary never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..schemas import ActionUnit, AnalysisResult, TimelineRow

#: A panel without questions: what a reader takes in at once, and at 1 s per point still
#: readable across the chart's width (300 points on about 560 px).
WINDOW_S = 300.0
#: Stretches between questions shorter than this get no panel of their own (a question's
#: boundaries rounded by the platform leave gaps of a fraction of a second).
MIN_GAP_S = 2.0
#: The overview of a video longer than WINDOW_S shows one point per this many seconds:
#: 360 points for an hour, the most its chart's width shows apart.
OVERVIEW_BIN_S = 10.0
#: The shortest stretch a panel's chart draws: shorter questions share one chart with the
#: panels next to them, each marked on it. A chart costs about 15 KB before any data, and an
#: hour of one-minute questions would otherwise be 60 charts and 1.5 MB.
MIN_CHART_S = 180.0
#: Rows of the tables that stand in for the charts: one per this many seconds, so that an
#: hour is 360 rows, not 3600.
TABLE_BIN_S = 10.0


@dataclass(frozen=True)
class Window:
    """One panel of the report: a question's part of the video, or a stretch without one."""

    start: float
    end: float
    question_id: str | None = None

    @property
    def key(self) -> str:
        """The panel's anchor in the page."""
        return f"q-{self.question_id}" if self.question_id else f"at-{int(self.start)}"


@dataclass(frozen=True)
class Bin:
    """The figures of ``[start, end)``: each over the seconds that measured it, None when no
    second did (never a guess)."""

    start: float
    end: float
    speakers: tuple[str, ...]
    words: int
    face_share: float | None  # of the seconds with a sampled frame, those with a face
    eye_contact_share: float | None  # of the seconds with gaze measured, those looking
    head_yaw: float | None  # mean, degrees
    scores: dict[str, float]  # mean apparent expression score by label, seconds with a face
    expression: str | None  # the label with the highest mean score
    # Mean movement from the neutral face by action unit, over the seconds that measured it
    # (the keys of ``face.action_units.units``), and those whose mean is at least active.
    action_units: dict[str, float] = field(default_factory=dict)
    active_units: tuple[str, ...] = ()


class Seconds:
    """The result's per-second data, indexed once for every bin asked of it."""

    def __init__(self, result: AnalysisResult) -> None:
        self.rows: dict[int, TimelineRow] = {int(r.t): r for r in result.timeline}
        expression = result.face.expression
        self.scores: dict[int, dict[str, float]] = {
            int(s.t): s.scores for s in (expression.timeline if expression is not None else [])
        }
        self.labels: list[str] = sorted({label for s in self.scores.values() for label in s})
        units = result.face.action_units
        self.units: dict[str, ActionUnit] = dict(units.units) if units is not None else {}
        self.movements: dict[int, dict[str, float]] = {
            int(s.t): s.intensity for s in (units.timeline if units is not None else [])
        }
        self.duration_s = max(1.0, result.media.duration_s, len(result.timeline))

    def bin(self, start: float, end: float) -> Bin:
        """The seconds whose middle lies in ``[start, end)``: bins that partition a stretch
        count each second once, even where a question starts mid-second."""
        seconds = range(math.ceil(start - 0.5), math.ceil(end - 0.5))
        rows = [self.rows[s] for s in seconds if s in self.rows]
        scored = [self.scores[s] for s in seconds if s in self.scores]
        scores = (
            {label: sum(s.get(label, 0.0) for s in scored) / len(scored) for label in self.labels}
            if scored
            else {}
        )
        measured = [self.movements[s] for s in seconds if s in self.movements]
        movements = (
            {key: sum(m.get(key, 0.0) for m in measured) / len(measured) for key in self.units}
            if measured
            else {}
        )
        return Bin(
            start=start,
            end=end,
            speakers=tuple(sorted({name for r in rows for name in r.speakers})),
            words=sum(len(r.words) for r in rows),
            face_share=_share([r.face_seen for r in rows]),
            eye_contact_share=_share([r.eye_contact for r in rows]),
            head_yaw=_mean([r.head_yaw for r in rows]),
            scores=scores,
            expression=max(scores, key=lambda label: scores[label]) if scores else None,
            action_units=movements,
            active_units=tuple(
                key for key, value in movements.items() if value >= self.units[key].active_threshold
            ),
        )

    def bins(self, start: float, end: float, width_s: float) -> list[Bin]:
        """``[start, end)`` in bins of ``width_s`` (the last one shorter)."""
        edges = [start + k * width_s for k in range(math.ceil((end - start) / width_s))]
        return [self.bin(a, min(a + width_s, end)) for a in edges]


def windows(result: AnalysisResult) -> list[Window]:
    """The panels: the questions in time order, with the stretches no question covers between
    them; without questions, WINDOW_S at a time. Together they cover the whole video."""
    duration = max(1.0, result.media.duration_s, len(result.timeline))
    spans = sorted(result.metadata.questions, key=lambda q: (q.start, q.end))
    panels: list[Window] = []
    at = 0.0
    for q in spans:
        start, end = max(q.start, at), min(q.end, duration)
        if end <= start:
            continue  # overlapped by an earlier question, or past the end of the video
        if start - at >= MIN_GAP_S:
            panels += _split(at, start)
        else:
            start = at  # a small gap joins the question that follows it
        panels.append(Window(start=start, end=end, question_id=q.question_id))
        at = end
    if duration - at >= MIN_GAP_S or not panels:
        panels += _split(at, duration)
    elif panels:
        last = panels[-1]
        panels[-1] = Window(start=last.start, end=duration, question_id=last.question_id)
    return panels


def chart_groups(panels: Sequence[Window]) -> list[range]:
    """Which panels share a chart: runs of consecutive panels (their indexes) that together
    last MIN_CHART_S or more; the last run joins the one before when it is shorter."""
    groups: list[range] = []
    first = 0
    for k, panel in enumerate(panels):
        if panel.end - panels[first].start >= MIN_CHART_S:
            groups.append(range(first, k + 1))
            first = k + 1
    if first < len(panels):
        if groups and panels[-1].end - panels[first].start < MIN_CHART_S:
            groups[-1] = range(groups[-1].start, len(panels))
        else:
            groups.append(range(first, len(panels)))
    return groups


def _split(start: float, end: float) -> list[Window]:
    count = max(1, math.ceil((end - start) / WINDOW_S - 1e-9))
    return [
        Window(start=start + k * WINDOW_S, end=min(end, start + (k + 1) * WINDOW_S))
        for k in range(count)
    ]


def _share(values: Sequence[bool | None]) -> float | None:
    measured = [v for v in values if v is not None]
    return sum(measured) / len(measured) if measured else None


def _mean(values: Sequence[float | None]) -> float | None:
    measured = [v for v in values if v is not None]
    return sum(measured) / len(measured) if measured else None
