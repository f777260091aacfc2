"""The report's timeline chart: matplotlib drawn to SVG on the server, inlined in the page.

One figure over the whole video, four panels sharing the time axis: who speaks (a lane per
speaker, the candidate's long pauses in a lane of their own), the apparent expression scores
of each second with a face, eye contact, and head yaw. Every series differs by line style or
hatching as well as by colour, so the chart reads without colour; the legend names each one.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from typing import Any

from ..analyzers.pose.gaze import EYE_CONTACT_MAX_YAW  # the band on the head yaw panel
from ..schemas import AnalysisResult

#: Colour-blind-safe palette (Okabe and Ito), with a hatch and a line style per series.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000")
# Line hatches only: a dotted hatch ("..", "oo") is drawn as thousands of circles in the SVG.
HATCHES = ("", "///", "xxx", "\\\\\\", "---", "|||", "+++", "//\\\\")
LINE_STYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1)), (0, (1, 2)), (0, (8, 2)))
PAUSE_COLOUR = "#999999"

WIDTH_IN = 11.0
HEIGHT_IN = 6.4


@dataclass(frozen=True)
class Chart:
    """An inline SVG and where its time axis lies, for the page's marker: the share of the
    SVG's width at ``t_min`` (``x0``) and at ``t_max`` (``x1``)."""

    svg: str
    x0: float
    x1: float
    t_min: float
    t_max: float
    width_px: int
    height_px: int


def timeline_chart(result: AnalysisResult, pauses: list[tuple[float, float]]) -> Chart:
    """The four-panel timeline of ``result``; ``pauses`` are the candidate's long pauses."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot as plt
    from matplotlib.figure import Figure

    duration = max(1.0, result.media.duration_s, len(result.timeline))
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "video-analysis", "font.size": 9}):
        fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN))
        axes = fig.subplots(4, 1, sharex=True, gridspec_kw={"height_ratios": [1.3, 1.6, 0.7, 1.0]})
        speakers_ax, expression_ax, contact_ax, yaw_ax = axes
        _speakers(speakers_ax, result, pauses)
        _expression(expression_ax, result)
        _eye_contact(contact_ax, result)
        _head_yaw(yaw_ax, result)
        yaw_ax.set_xlim(0, duration)
        yaw_ax.set_xlabel("time in the video (m:ss)")
        yaw_ax.xaxis.set_major_formatter(_clock_formatter())
        for ax in axes:
            ax.grid(axis="x", color="#ddd", linewidth=0.6)
            ax.set_axisbelow(True)
        fig.subplots_adjust(left=0.1, right=0.8, top=0.97, bottom=0.09, hspace=0.18)
        box = yaw_ax.get_position()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return Chart(
        svg=_inline(buffer.getvalue()),
        x0=round(box.x0, 5),
        x1=round(box.x1, 5),
        t_min=0.0,
        t_max=duration,
        width_px=round(WIDTH_IN * 72),
        height_px=round(HEIGHT_IN * 72),
    )


def _speakers(ax: Any, result: AnalysisResult, pauses: list[tuple[float, float]]) -> None:
    speech = result.speech
    names = sorted({t.speaker for t in speech.turns})
    candidate = speech.speakers.candidate if speech.speakers is not None else None
    lanes = [*names, "pauses"] if pauses else names
    for k, name in enumerate(names):
        spans = [(t.start, t.end - t.start) for t in speech.turns if t.speaker == name]
        label = f"{name} (candidate)" if name == candidate else name
        ax.broken_barh(
            spans,
            (k - 0.35, 0.7),
            facecolors=COLOURS[k % len(COLOURS)],
            edgecolor="#222",
            linewidth=0.4,
            hatch=HATCHES[k % len(HATCHES)],
            label=label,
        )
    if pauses:
        ax.broken_barh(
            [(a, b - a) for a, b in pauses],
            (len(names) - 0.35, 0.7),
            facecolors="white",
            edgecolor=PAUSE_COLOUR,
            hatch="||",
            linewidth=0.6,
            label="long pause (candidate)",
        )
    ax.set_yticks(range(len(lanes)), [_lane_label(n, candidate) for n in lanes])
    ax.set_ylim(-0.6, max(len(lanes), 1) - 0.4)
    ax.set_ylabel("who speaks")
    if not names:
        ax.text(0.5, 0.5, "no speaker turns", transform=ax.transAxes, ha="center", va="center")
    else:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def _lane_label(name: str, candidate: str | None) -> str:
    return f"{name} ★" if name == candidate else name


def _expression(ax: Any, result: AnalysisResult) -> None:
    expression = result.face.expression
    seconds = expression.timeline if expression is not None else []
    labels = sorted({label for s in seconds for label in s.scores})
    for k, label in enumerate(labels):
        xs, ys = _series([(s.t + 0.5, s.scores.get(label)) for s in seconds])
        ax.plot(
            xs,
            ys,
            color=COLOURS[k % len(COLOURS)],
            linestyle=LINE_STYLES[k % len(LINE_STYLES)],
            linewidth=1.3,
            label=label,
        )
    ax.set_ylim(0, 1)
    ax.set_ylabel("apparent\nexpression score")
    if labels:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    else:
        reason = result.face.cannot_assess or "no face scored"
        ax.text(0.5, 0.5, _short(reason), transform=ax.transAxes, ha="center", va="center")


def _eye_contact(ax: Any, result: AnalysisResult) -> None:
    rows = result.timeline
    yes = [(r.t, 1.0) for r in rows if r.eye_contact is True]
    no = [(r.t, 1.0) for r in rows if r.eye_contact is False]
    if yes:
        ax.broken_barh(
            [(t, 1.0) for t, _ in yes], (0.55, 0.4), facecolors="#009E73", label="eye contact"
        )
    if no:
        ax.broken_barh(
            [(t, 1.0) for t, _ in no],
            (0.05, 0.4),
            facecolors="white",
            edgecolor="#D55E00",
            hatch="xxx",
            linewidth=0.4,
            label="looking away",
        )
    ax.set_yticks([0.25, 0.75], ["away", "contact"])
    ax.set_ylim(0, 1)
    ax.set_ylabel("eye contact")
    if yes or no:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    else:
        reason = result.gaze.cannot_assess or "not measured"
        ax.text(0.5, 0.5, _short(reason), transform=ax.transAxes, ha="center", va="center")


def _head_yaw(ax: Any, result: AnalysisResult) -> None:
    xs, ys = _series([(r.t + 0.5, r.head_yaw) for r in result.timeline])
    ax.axhspan(-EYE_CONTACT_MAX_YAW, EYE_CONTACT_MAX_YAW, color="#eee", label="±15° of the camera")
    ax.axhline(0, color="#888", linewidth=0.6)
    if any(not math.isnan(y) for y in ys):
        ax.plot(xs, ys, color="#0072B2", linewidth=1.3, label="head yaw (° to own left)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    else:
        reason = result.head_pose.cannot_assess or "not measured"
        ax.text(0.5, 0.5, _short(reason), transform=ax.transAxes, ha="center", va="center")
    ax.set_ylim(-60, 60)
    ax.set_ylabel("head yaw (°)")


def _series(points: list[tuple[float, float | None]]) -> tuple[list[float], list[float]]:
    """x and y with NaN where a value is missing, so the line breaks there (no guesses)."""
    return [x for x, _ in points], [math.nan if y is None else float(y) for _, y in points]


def _clock_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda t, _pos: f"{int(t // 60)}:{int(t % 60):02d}")


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _inline(svg: str) -> str:
    """The ``<svg>`` element alone (no XML prolog or doctype), scaling with its container."""
    start = svg.index("<svg")
    element = svg[start:]
    return re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r"<svg\1", element, count=1)
