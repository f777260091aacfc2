"""Rendering the report page from a result: the overview, a panel per question (or per five
minutes), the page's data, the template."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from .. import __version__
from ..schemas import AnalysisResult
from . import charts, page
from .windows import (
    OVERVIEW_BIN_S,
    TABLE_BIN_S,
    WINDOW_S,
    Bin,
    Seconds,
    Window,
    chart_groups,
    windows,
)


@dataclass(frozen=True)
class Recording:
    """The video the page can play: ``src`` relative to the page (a signed link that needs no
    API key), good until ``expires_at``."""

    src: str
    expires_at: datetime


@dataclass
class Panel:
    """One question's part of the interview, or five minutes of it."""

    window: Window
    title: str
    rows: list[Bin]  # the table standing in for the chart, TABLE_BIN_S a row
    summary: str  # the stretch in one line (a question has its figures instead)
    figures: list[tuple[str, str]]
    turns: list[page.TurnView]
    chart: charts.Chart | None = None  # drawn in this panel
    chart_id: str = "timeline-chart"  # the chart that draws its seconds
    shares_chart_with: Panel | None = None  # the panel above whose chart draws it too


def render(result: AnalysisResult, *, recording: Recording | None = None) -> str:
    """The report of ``result`` as one HTML document; with a player when ``recording``."""
    seconds = Seconds(result)
    pauses = page.long_pauses(result)
    cuts = windows(result)
    overview_bin_s = 1.0 if seconds.duration_s <= WINDOW_S else OVERVIEW_BIN_S
    overview = charts.timeline_chart(
        result,
        pauses,
        seconds.bins(0.0, seconds.duration_s, overview_bin_s),
        labels=seconds.labels,
        ids="c0-",
        marks=cuts if len(cuts) > 1 else (),
    )
    question_ids, question_rows = page.question_rows(result)
    transcript = page.turns(result, [w.start for w in cuts[1:]])
    panels = [
        Panel(
            window=window,
            title=f"Question {window.question_id}" if window.question_id else "",
            rows=seconds.bins(window.start, window.end, TABLE_BIN_S),
            summary=page.bin_summary(seconds.bin(window.start, window.end)),
            figures=_question_figures(window, question_ids, question_rows),
            turns=turns,
        )
        for window, turns in zip(cuts, transcript, strict=True)
    ]
    if overview_bin_s > 1.0:  # else the overview draws every second already
        for group in chart_groups(cuts):
            first, last = cuts[group.start], cuts[group[-1]]
            chart = charts.timeline_chart(
                result,
                pauses,
                seconds.bins(first.start, last.end, 1.0),
                labels=seconds.labels,
                ids=f"c{group.start + 1}-",
                marks=[cuts[k] for k in group] if len(group) > 1 else (),
            )
            panels[group.start].chart = chart
            for k in group:
                panels[k].chart_id = f"c{group.start + 1}"
                panels[k].shares_chart_with = panels[group.start] if k != group.start else None
    every = [overview, *(panel.chart for panel in panels if panel.chart is not None)]
    chart_styles, svgs = charts.share_styles([chart.svg for chart in every])
    shared = {id(chart): replace(chart, svg=svg) for chart, svg in zip(every, svgs, strict=True)}
    overview = shared[id(overview)]
    for panel in panels:
        if panel.chart is not None:
            panel.chart = shared[id(panel.chart)]
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            result=result,
            figures=page.key_figures(result),
            chart=overview,
            chart_styles=chart_styles,
            chart_summary=chart_summary(result),
            panels=panels,
            by_question=any(w.question_id for w in cuts),
            question_ids=question_ids,
            question_rows=question_rows,
            recording=recording,
            table_bin_s=TABLE_BIN_S,
            overview_bin_s=overview_bin_s,
            version=__version__,
        )
    )


def _question_figures(
    window: Window, ids: list[str], rows: list[page.QuestionRow]
) -> list[tuple[str, str]]:
    """A question's column of the per-question table (its span is the panel's heading)."""
    if window.question_id not in ids:
        return []
    column = ids.index(window.question_id)
    return [(row.name, row.values[column]) for row in rows if row.name != page.SPAN_ROW]


def chart_summary(result: AnalysisResult) -> str:
    """The chart in one or two sentences, for people who do not see it."""
    rows = result.timeline
    speakers = sorted({t.speaker for t in result.speech.turns})
    looked = [r.eye_contact for r in rows if r.eye_contact is not None]
    faces = [r.face_seen for r in rows if r.face_seen is not None]
    parts = [f"Timeline of {page.clock(result.media.duration_s)}"]
    parts.append(f"{len(speakers)} speaker(s)" + (f": {', '.join(speakers)}" if speakers else ""))
    if faces:
        parts.append(f"a face in {sum(faces) / len(faces):.0%} of the seconds with a frame")
    if looked:
        parts.append(f"eye contact in {sum(looked) / len(looked):.0%} of the measured seconds")
    return "; ".join(parts) + "."


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("video_analysis.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        clock=page.clock, pct=_pct, yes_no=_yes_no, unit_codes=page.active_unit_codes
    )
    env.filters["secs"] = _seconds
    return env


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _yes_no(value: bool | None) -> str:
    return "–" if value is None else ("yes" if value else "no")


def _seconds(value: float) -> str:
    """A time for a ``data-t``: to the hundredth of a second, as the words are timed."""
    return f"{value:.2f}".rstrip("0").rstrip(".")
