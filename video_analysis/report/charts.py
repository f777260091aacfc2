"""The report's timeline charts: matplotlib drawn to SVG on the server, inlined in the page.

One chart per stretch of the video, five panels sharing the time axis: who speaks (a lane per
speaker, the candidate's long pauses in a lane of their own), the apparent expression scores,
the facial action units (a lane per unit, darker for more movement from the neutral face),
eye contact, and head yaw. The overview of a long interview draws bins of several seconds and
marks where each of the report's panels lies; a panel's chart draws every second. Every series
differs by line style or hatching as well as by colour, so the chart reads without colour; the
legend names each one.

matplotlib writes every coordinate with six decimals, every group with an id and the font list
on every label: an hour at one point a second was 1.15 MB of SVG. ``_compact`` writes the same
drawing at a tenth of a pixel, without what nothing refers to.
"""

from __future__ import annotations

import functools
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..analyzers.pose.gaze import EYE_CONTACT_MAX_YAW  # the band on the head yaw panel
from ..schemas import AnalysisResult
from . import i18n
from .i18n import _
from .page import why_not, word
from .windows import Bin, Window

#: Colour-blind-safe palette (Okabe and Ito), with a hatch and a line style per series.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000")
# Line hatches only: a dotted hatch ("..", "oo") is drawn as thousands of circles in the SVG.
HATCHES = ("", "///", "xxx", "\\\\\\", "---", "|||", "+++", "//\\\\")
LINE_STYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1)), (0, (1, 2)), (0, (8, 2)))
PAUSE_COLOUR = "#999999"
CONTACT_COLOUR = "#009E73"
AWAY_COLOUR = "#D55E00"

WIDTH_IN = 11.0
HEIGHT_IN = 7.8
#: The action-unit lanes shade a movement from white (none) to black (this many times the
#: unit's active threshold or more): grey levels read without colour, and "active" is the
#: middle of the scale whatever the unit.
UNIT_SHADE_MAX = 2.0
#: The overview names at most this many questions above its lanes; more would overlap.
MAX_WINDOW_LABELS = 20
MAX_LABEL_CHARS = 12
#: Steps of the time axis, in seconds: the first that gives at most MAX_TICKS ticks.
CLOCK_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
MAX_TICKS = 10
#: Fonts with Hangul that the charts measure their labels with, the first one installed (the
#: page names the same for the browser): Debian's fonts-nanum, Noto CJK, Windows, macOS.
HANGUL_FONTS = (
    "NanumGothic",
    "Noto Sans CJK KR",
    "Noto Sans KR",
    "Malgun Gothic",
    "Apple SD Gothic Neo",
)


@dataclass(frozen=True)
class Chart:
    """An inline SVG and where its time axis lies, for the page's marker and clicks: the share
    of the SVG's width at ``t_min`` (``x0``) and at ``t_max`` (``x1``)."""

    svg: str
    x0: float
    x1: float
    t_min: float
    t_max: float
    width_px: int
    height_px: int


def timeline_chart(
    result: AnalysisResult,
    pauses: Sequence[tuple[float, float]],
    bins: Sequence[Bin],
    *,
    labels: Sequence[str],
    ids: str,
    marks: Sequence[Window] = (),
) -> Chart:
    """The five-panel timeline of the stretch ``bins`` cover; ``pauses`` are the candidate's
    long pauses, ``labels`` every expression label of the video (so that a label keeps its
    colour and line style from chart to chart), ``ids`` a prefix that keeps the SVG's ids apart
    from the other charts' in the page, ``marks`` the report's panels to show on an overview."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot as plt
    from matplotlib.figure import Figure

    start = bins[0].start if bins else 0.0
    end = bins[-1].end if bins else 1.0
    with plt.rc_context(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": "video-analysis",
            "font.size": 9,
            "font.family": ["DejaVu Sans", *_hangul_fonts()],
        }
    ):
        fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN))
        axes = fig.subplots(
            5, 1, sharex=True, gridspec_kw={"height_ratios": [1.3, 1.6, 1.4, 0.7, 1.0]}
        )
        speakers_ax, expression_ax, units_ax, contact_ax, yaw_ax = axes
        _speakers(speakers_ax, result, pauses, start, end)
        _expression(expression_ax, result, bins, labels)
        _action_units(units_ax, result, bins, start, end)
        _eye_contact(contact_ax, result, bins)
        _head_yaw(yaw_ax, result, bins)
        yaw_ax.set_xlim(start, end)
        yaw_ax.set_xlabel(_("time in the video (m:ss)"))
        yaw_ax.xaxis.set_major_locator(_clock_locator(end - start))
        yaw_ax.xaxis.set_major_formatter(_clock_formatter())
        for ax in axes:
            ax.grid(axis="x", color="#ddd", linewidth=0.6)
            ax.set_axisbelow(True)
        _marks(axes, marks)
        fig.subplots_adjust(left=0.1, right=0.8, top=0.96, bottom=0.08, hspace=0.18)
        box = yaw_ax.get_position()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
        # A figure and its artists refer to each other: left to the cycle collector, the
        # panels' figures of an hour's report piled up (4 MiB each) before it ran.
        fig.clear()
    return Chart(
        svg=_compact(buffer.getvalue(), ids),
        x0=round(box.x0, 5),
        x1=round(box.x1, 5),
        t_min=start,
        t_max=end,
        width_px=round(WIDTH_IN * 72),
        height_px=round(HEIGHT_IN * 72),
    )


def _speakers(
    ax: Any,
    result: AnalysisResult,
    pauses: Sequence[tuple[float, float]],
    start: float,
    end: float,
) -> None:
    speech = result.speech
    names = sorted({t.speaker for t in speech.turns})
    candidate = speech.speakers.candidate if speech.speakers is not None else None
    lanes = [*names, "pauses"] if pauses else names
    for k, name in enumerate(names):
        spans = _clipped([(t.start, t.end) for t in speech.turns if t.speaker == name], start, end)
        label = _("{speaker} (candidate)").format(speaker=name) if name == candidate else name
        _rects(
            ax,
            [(a, k - 0.35, b, k + 0.35) for a, b in spans],
            facecolor=COLOURS[k % len(COLOURS)],
            edgecolor="#222",
            linewidth=0.4,
            hatch=HATCHES[k % len(HATCHES)],
            label=label,
        )
    if pauses:
        lane = len(names)
        _rects(
            ax,
            [(a, lane - 0.35, b, lane + 0.35) for a, b in _clipped(pauses, start, end)],
            facecolor="white",
            edgecolor=PAUSE_COLOUR,
            hatch="||",
            linewidth=0.6,
            label=_("long pause (candidate)"),
        )
    ax.set_yticks(range(len(lanes)), [_lane_label(n, candidate) for n in lanes])
    ax.set_ylim(-0.6, max(len(lanes), 1) - 0.4)
    ax.set_ylabel(_("who speaks"))
    if not names:
        ax.text(0.5, 0.5, _("no speaker turns"), transform=ax.transAxes, ha="center", va="center")
    else:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def _lane_label(name: str, candidate: str | None) -> str:
    if name == "pauses":
        return _("pauses")
    return f"{name} ★" if name == candidate else name


def _expression(
    ax: Any, result: AnalysisResult, bins: Sequence[Bin], labels: Sequence[str]
) -> None:
    shown = {label for b in bins for label in b.scores}
    for k, label in enumerate(labels):
        if label not in shown:
            continue
        xs, ys = _series(bins, lambda b, label=label: b.scores.get(label))
        ax.plot(
            xs,
            ys,
            color=COLOURS[k % len(COLOURS)],
            linestyle=LINE_STYLES[k % len(LINE_STYLES)],
            linewidth=1.3,
            label=word(label),
        )
    ax.set_ylim(0, 1)
    ax.set_ylabel(_("apparent\nexpression score"))
    if shown:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    else:
        reason = why_not(result.face) or _("no face scored")
        ax.text(0.5, 0.5, _short(reason), transform=ax.transAxes, ha="center", va="center")


def _action_units(
    ax: Any, result: AnalysisResult, bins: Sequence[Bin], start: float, end: float
) -> None:
    """A lane per action unit, each bin shaded by its mean movement over the unit's active
    threshold: one small raster image, however long the stretch."""
    units = result.face.action_units
    keys = list(units.units) if units is not None else []
    if units is None or not keys or not any(b.action_units for b in bins):
        reason = why_not(units) or _("not measured")
        ax.text(0.5, 0.5, _short(reason), transform=ax.transAxes, ha="center", va="center")
        ax.set_yticks([])
        ax.set_ylabel(_("facial\naction units"))
        return
    import numpy as np

    shade = np.full((len(keys), len(bins)), np.nan)
    for j, b in enumerate(bins):
        for i, key in enumerate(keys):
            if key in b.action_units:
                shade[i, j] = b.action_units[key] / units.units[key].active_threshold
    # Bins without a measure are left out of the image: the hatching behind shows through.
    _rects(
        ax,
        [(start, -0.5, end, len(keys) - 0.5)],
        facecolor="white",
        edgecolor="#bbb",
        hatch="///",
        linewidth=0,
    )
    ax.imshow(
        np.clip(shade, 0.0, UNIT_SHADE_MAX),
        aspect="auto",
        interpolation="nearest",
        cmap="Greys",
        vmin=0.0,
        vmax=UNIT_SHADE_MAX,
        extent=(start, end, len(keys) - 0.5, -0.5),
        zorder=2,  # over the hatching (a patch, drawn above images by default)
    )
    ax.set_yticks(range(len(keys)), [units.units[key].au for key in keys], fontsize=7)
    ax.set_ylabel(_("facial\naction units"))
    ax.text(
        1.01,
        0.5,
        _(
            "shade: movement from the\nneutral face; mid-grey =\n"
            "active, black = twice that;\nhatched: not measured"
        ),
        transform=ax.transAxes,
        ha="left",
        va="center",
        fontsize=8,
    )


def _eye_contact(ax: Any, result: AnalysisResult, bins: Sequence[Bin]) -> None:
    """Solid up to the share of the time looking at the camera, crossed above it: a second is
    all one or the other, a bin of the overview its mix; empty where nothing was measured."""
    runs = _runs([(b.start, b.end, b.eye_contact_share) for b in bins])
    _rects(
        ax,
        [(a, 0.0, b, share) for a, b, share in runs if share > 0],
        facecolor=CONTACT_COLOUR,
        edgecolor="none",
        label=_("looking at the camera"),
    )
    _rects(
        ax,
        [(a, share, b, 1.0) for a, b, share in runs if share < 1],
        facecolor="white",
        edgecolor=AWAY_COLOUR,
        hatch="xxx",
        linewidth=0.4,
        label=_("looking away"),
    )
    ax.set_yticks([0, 0.5, 1], [i18n.pct(v) for v in (0, 0.5, 1)])
    ax.set_ylim(0, 1)
    ax.set_ylabel(_("eye contact\n(share of time)"))
    if runs:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    else:
        reason = why_not(result.gaze) or _("not measured")
        ax.text(0.5, 0.5, _short(reason), transform=ax.transAxes, ha="center", va="center")


def _head_yaw(ax: Any, result: AnalysisResult, bins: Sequence[Bin]) -> None:
    xs, ys = _series(bins, lambda b: b.head_yaw)
    ax.axhspan(
        -EYE_CONTACT_MAX_YAW,
        EYE_CONTACT_MAX_YAW,
        color="#eee",
        label=_("±{degrees}° of the camera").format(degrees=i18n.num(EYE_CONTACT_MAX_YAW)),
    )
    ax.axhline(0, color="#888", linewidth=0.6)
    if any(not math.isnan(y) for y in ys):
        ax.plot(xs, ys, color="#0072B2", linewidth=1.3, label=_("head yaw (° to own left)"))
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    else:
        reason = why_not(result.head_pose) or _("not measured")
        ax.text(0.5, 0.5, _short(reason), transform=ax.transAxes, ha="center", va="center")
    ax.set_ylim(-60, 60)
    ax.set_ylabel(_("head yaw (°)"))


def _marks(axes: Sequence[Any], marks: Sequence[Window]) -> None:
    """Where each of the report's panels begins, and the question it is, above the lanes."""
    from matplotlib.transforms import blended_transform_factory

    for mark in marks[1:]:
        for ax in axes:
            ax.axvline(mark.start, color="#555", linewidth=0.8, linestyle=(0, (2, 2)))
    named = [m for m in marks if m.question_id]
    if 0 < len(named) <= MAX_WINDOW_LABELS:
        top = axes[0]
        where = blended_transform_factory(top.transData, top.transAxes)
        for mark in named:
            top.text(
                (mark.start + mark.end) / 2,
                1.02,
                _short(mark.question_id or "", MAX_LABEL_CHARS),
                transform=where,
                ha="center",
                va="bottom",
                fontsize=8,
            )


def _rects(ax: Any, rects: Sequence[tuple[float, float, float, float]], **style: Any) -> None:
    """Rectangles (x0, y0, x1, y1) as one SVG path: thousands of seconds stay one element."""
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path

    if not rects:
        return
    vertices: list[tuple[float, float]] = []
    for x0, y0, x1, y1 in rects:
        vertices += [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    rect = [Path.MOVETO, Path.LINETO, Path.LINETO, Path.LINETO, Path.CLOSEPOLY]
    codes = rect * len(rects)
    ax.add_patch(PathPatch(Path(vertices, codes), **style))


def _runs(values: Sequence[tuple[float, float, float | None]]) -> list[tuple[float, float, float]]:
    """Consecutive bins with one value as one (start, end, value); bins without one left out."""
    runs: list[tuple[float, float, float]] = []
    for start, end, value in values:
        if value is None:
            continue
        if runs and runs[-1][1] == start and runs[-1][2] == value:
            runs[-1] = (runs[-1][0], end, value)
        else:
            runs.append((start, end, value))
    return runs


def _clipped(
    spans: Sequence[tuple[float, float]], start: float, end: float
) -> list[tuple[float, float]]:
    return [(max(a, start), min(b, end)) for a, b in spans if b > start and a < end]


def _series(bins: Sequence[Bin], value: Any) -> tuple[list[float], list[float]]:
    """x (each bin's middle) and y, NaN where a bin has no value, so the line breaks there."""
    xs = [(b.start + b.end) / 2 for b in bins]
    ys = [math.nan if (y := value(b)) is None else float(y) for b in bins]
    return xs, ys


def _clock_locator(span_s: float) -> Any:
    """Ticks on whole clock steps (every 30 s, 5 min...), not matplotlib's 50 s or 8:20."""
    from matplotlib.ticker import MultipleLocator

    step = next((s for s in CLOCK_STEPS_S if span_s / s <= MAX_TICKS), CLOCK_STEPS_S[-1])
    return MultipleLocator(step)


def _clock_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    def clock(t: float, _pos: int) -> str:
        hours, rest = divmod(int(round(t)), 3600)
        minutes, seconds = divmod(rest, 60)
        return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"

    return FuncFormatter(clock)


def _hangul_fonts() -> list[str]:
    """The fonts of HANGUL_FONTS that are installed (matplotlib falls back along the list
    glyph by glyph, so Korean labels are measured as the browser draws them)."""
    return list(_installed_fonts())


@functools.lru_cache(maxsize=1)
def _installed_fonts() -> tuple[str, ...]:
    from matplotlib import font_manager

    names = {font.name for font in font_manager.fontManager.ttflist}
    if not names.intersection(HANGUL_FONTS):
        # Installed after matplotlib cached its font list: add them from where they lie.
        for path in font_manager.findSystemFonts():
            if any(key in Path(path).name for key in ("Nanum", "NotoSansCJK", "NotoSansKR")):
                font_manager.fontManager.addfont(path)
        names = {font.name for font in font_manager.fontManager.ttflist}
    return tuple(name for name in HANGUL_FONTS if name in names)


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ------------------------------------------------------------------------------------------
# The SVG as the page inlines it

_NUMBER = re.compile(r"-?\d+\.\d+")
_PATH_TOKEN = re.compile(r"[A-Za-z]|-?\d+(?:\.\d+)?")
_REFERENCE = re.compile(r"(?:url\(#|href=\"#)([^)\"]+)")


def _compact(svg: str, ids: str) -> str:
    """The ``<svg>`` element alone, scaling with its container: coordinates to a tenth of a
    pixel, no indentation, metadata, font lists (the page's style sets the font) or ids that
    nothing refers to; the ids left get the prefix ``ids``, unique in the page."""
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r"<svg\1", svg, count=1)
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r"<style[^>]*>.*?</style>", "", svg, flags=re.S)  # the page's style has it
    svg = re.sub(r">\s+<", "><", svg)
    svg = re.sub(r' d="([^"]*)"', lambda m: f' d="{_path(m.group(1))}"', svg)
    svg = re.sub(r'="([^"]*)"', lambda m: f'="{_NUMBER.sub(_tenth, m.group(1))}"', svg)
    svg = re.sub(r' transform="rotate\(-0 [^"]*\)"', "", svg)
    svg = re.sub(r"font-family:[^;\"]*;? ?", "", svg)
    referenced = set(_REFERENCE.findall(svg))
    svg = re.sub(
        r' id="([^"]*)"',
        lambda m: f' id="{ids}{m.group(1)}"' if m.group(1) in referenced else "",
        svg,
    )
    svg = re.sub(r"(url\(#|href=\"#)", rf"\g<1>{ids}", svg)
    return _unwrap_bare_groups(svg.strip())


def _path(d: str) -> str:
    """Path data at a tenth of a pixel, without the spaces and the repeated commands SVG lets
    a path leave out: pairs after an ``M`` or ``L`` are line-tos already."""
    out: list[str] = []
    command = ""
    after_number = False
    for token in _PATH_TOKEN.findall(d):
        if token.isalpha():
            if token == "L" and command in ("M", "L"):
                command = "L"
                continue
            out.append(token)
            command, after_number = token, False
        else:
            out.append(f" {_tenth_of(token)}" if after_number else _tenth_of(token))
            after_number = True
    return "".join(out)


def _tenth(match: re.Match[str]) -> str:
    return _tenth_of(match.group(0))


def _tenth_of(number: str) -> str:
    text = f"{float(number):.1f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _unwrap_bare_groups(svg: str) -> str:
    """``<g>`` elements left without attributes group nothing: drop them, keep their content."""
    out: list[str] = []
    kept: list[bool] = []
    at = 0
    for match in re.finditer(r"<(/?)g\b([^>]*)>", svg):
        out.append(svg[at : match.start()])
        at = match.end()
        closing, attributes = match.group(1), match.group(2).strip()
        if closing:
            if kept.pop():
                out.append(match.group(0))
        elif attributes.endswith("/"):
            continue  # an empty <g/>
        else:
            kept.append(bool(attributes))
            if attributes:
                out.append(match.group(0))
    out.append(svg[at:])
    return "".join(out)


def share_styles(svgs: Sequence[str], *, min_uses: int = 3) -> tuple[str, list[str]]:
    """The charts' inline styles that recur, as classes of one style sheet: ticks, grid lines
    and series look alike in every chart, and an hour's report has a dozen charts. The rules
    (scoped to ``.chart``) and the SVGs with ``class`` where the ``style`` was."""
    counts: dict[str, int] = {}
    for svg in svgs:
        for style in _STYLE.findall(svg):
            counts[style] = counts.get(style, 0) + 1
    shared = [style for style, n in counts.items() if n >= min_uses]
    names = {style: f"s{k}" for k, style in enumerate(shared)}
    rules = "\n".join(f".chart .{name} {{ {style} }}" for style, name in names.items())

    def swap(match: re.Match[str]) -> str:
        name = names.get(match.group(1))
        return f' class="{name}"' if name else match.group(0)

    return rules, [_STYLE.sub(swap, svg) for svg in svgs]


_STYLE = re.compile(r' style="([^"]*)"')
