"""Rendering the report page from a result: the chart, the page's data, the template."""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from .. import __version__
from ..schemas import AnalysisResult
from . import charts, page


def render(result: AnalysisResult) -> str:
    """The report of ``result`` as one HTML document."""
    chart = charts.timeline_chart(result, page.long_pauses(result))
    question_ids, question_rows = page.question_rows(result)
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            result=result,
            figures=page.key_figures(result),
            chart=chart,
            chart_summary=chart_summary(result),
            transcript=page.turns(result),
            question_ids=question_ids,
            question_rows=question_rows,
            version=__version__,
        )
    )


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
    env.globals.update(clock=page.clock, pct=_pct, yes_no=_yes_no)
    return env


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _yes_no(value: bool | None) -> str:
    return "–" if value is None else ("yes" if value else "no")
