"""Rendering the report page from a result: the overview, a panel per question (or per five
minutes), the page's data, the template."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from .. import __version__
from ..schemas import AnalysisResult
from . import charts, i18n, page
from .i18n import Reader, _
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


def render(
    result: AnalysisResult, *, recording: Recording | None = None, reader: Reader | None = None
) -> str:
    """The report of ``result`` as one HTML document, in ``reader``'s language and time zone
    (English, UTC when none); with a player when ``recording``."""
    with i18n.reading(reader or Reader()) as current:
        return _render(result, recording, current)


def _render(result: AnalysisResult, recording: Recording | None, reader: Reader) -> str:
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
            title=_("Question {id}").format(id=window.question_id) if window.question_id else "",
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
            lang=reader.language,
            reader=reader,
        )
    )


def _question_figures(
    window: Window, ids: list[str], rows: list[page.QuestionRow]
) -> list[tuple[str, str]]:
    """A question's column of the per-question table (its span is the panel's heading)."""
    if window.question_id not in ids:
        return []
    column = ids.index(window.question_id)
    return [(row.name, row.values[column]) for row in rows if row.key != page.SPAN_ROW]


def chart_summary(result: AnalysisResult) -> str:
    """The chart in one or two sentences, for people who do not see it."""
    rows = result.timeline
    speakers = sorted({t.speaker for t in result.speech.turns})
    looked = [r.eye_contact for r in rows if r.eye_contact is not None]
    faces = [r.face_seen for r in rows if r.face_seen is not None]
    parts = [_("Timeline of {length}").format(length=i18n.duration(result.media.duration_s))]
    said = _("{n} speaker(s)").format(n=i18n.num(len(speakers)))
    parts.append(said + (f": {', '.join(speakers)}" if speakers else ""))
    if faces:
        parts.append(
            _("a face in {share} of the seconds with a frame").format(
                share=i18n.pct(sum(faces) / len(faces))
            )
        )
    if looked:
        parts.append(
            _("eye contact in {share} of the measured seconds").format(
                share=i18n.pct(sum(looked) / len(looked))
            )
        )
    return "; ".join(parts) + "."


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("video_analysis.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    # The reader of the render in progress decides the words (i18n.reading).
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=i18n._, ngettext=i18n.ngettext, newstyle=True
    )
    env.globals.update(
        clock=page.clock,
        pct=i18n.pct,
        num=i18n.num,
        signed=i18n.signed,
        seconds_text=i18n.seconds,
        duration=i18n.duration,
        moment=i18n.moment,
        time_of_day=i18n.time_of_day,
        language_name=i18n.language_name,
        language_shares=_language_shares,
        word=page.word,
        why_not=page.why_not,
        note_reason=page.note_reason,
        section_name=page.section_name,
        unit_codes=page.active_unit_codes,
    )
    env.filters["secs"] = _seconds
    env.filters["css_string"] = _css_string
    return env


def _css_string(text: str) -> Markup:
    """``text`` as a CSS string, quoted (a translation in a style sheet's ``content``)."""
    escaped = "".join(f"\\{ord(c):x} " if c in '"\\<>&\n' or ord(c) < 32 else c for c in text)
    return Markup(f'"{escaped}"')


def _seconds(value: float) -> str:
    """A time for a ``data-t``: to the hundredth of a second, as the words are timed."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _language_shares(shares: list[Any]) -> str:
    """The video's languages with their shares: Korean 80%, English 20%."""
    return ", ".join(f"{i18n.language_name(s.language)} {i18n.pct(s.share)}" for s in shares)
