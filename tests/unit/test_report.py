"""The report page from a result: self-contained, the figures with their coverage, the charts,
the transcript by turn with fillers and long pauses marked, per question, the models; at
length an overview and a panel per question (or per five minutes) within 1.5 MB an hour."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.interviews import dense_interview, interview
from video_analysis.cli import main
from video_analysis.report import Recording, render
from video_analysis.report.windows import MIN_CHART_S, Window, chart_groups, windows
from video_analysis.schemas import ActionUnits, AnalysisResult, QuestionSpan
from video_analysis.schemas.reasons import reason

#: The issue's bound for the report of an hour's interview.
MAX_HOUR_BYTES = 1_500_000


def test_the_page_is_self_contained() -> None:
    page = render(interview(60))

    assert page.startswith("<!DOCTYPE html>")
    # Nothing is fetched: no external script, style, image or font.
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "url(http" not in page and "@import" not in page
    assert "<svg" in page and "</svg>" in page


def test_key_figures_show_their_coverage_and_what_could_not_be_judged() -> None:
    page = render(interview(60))

    assert "Speaking rate" in page and "Eye contact" in page
    assert "85% of frames" in page  # the gaze section's eye contact
    assert "97%" in page  # its coverage
    # Posture has no analyzer output here: it says so, with the reason in plain words.
    assert "no shoulders could be measured" in page
    assert "not judged" in page


def test_the_transcript_is_by_turn_with_fillers_and_long_pauses_marked() -> None:
    page = render(interview(30))

    turns = re.findall(r'<div class="turn( candidate)?" id="turn-\d+">', page)
    assert len(turns) == 4  # S2, S1, S2, S1
    assert turns[1] == " candidate"
    assert '<mark class="filler" title="filler word">um</mark>' in page
    assert page.count('class="pause"') == 2 + 1  # one per answer, and the legend's example
    assert "pause 3.1 s" in page
    # Each turn links to its place on the timeline, each of its segments knows its time.
    assert 'href="#timeline-chart" class="at" data-t="3.5"' in page
    assert '<span data-t="18.5">' in page


def test_a_result_from_before_words_were_marked_has_its_fillers_found_in_the_text() -> None:
    # Results stored before 2026-12-06 have no ``filler`` key on their words: the report finds
    # the fillers in the words themselves. A result whose words say none are fillers has none.
    body = json.loads(interview(30).model_dump_json())
    for segment in body["speech"]["segments"]:
        for word in segment["words"]:
            del word["filler"]
    old = AnalysisResult.model_validate(body)
    assert not any(s.fillers_marked for s in old.speech.segments if s.words)
    assert '<mark class="filler" title="filler word">um</mark>' in render(old)

    unmarked = interview(30)
    for segment in unmarked.speech.segments:
        for word in segment.words:
            word.filler = False
    again = AnalysisResult.model_validate_json(unmarked.model_dump_json())
    assert all(s.fillers_marked for s in again.speech.segments)
    assert '<mark class="filler" title="filler word">um</mark>' not in render(again)


def test_text_from_the_recording_is_escaped() -> None:
    result = interview(15)
    result.speech.segments[1].words[0].word = " <script>alert(1)</script>"
    page = render(result)

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_each_question_gets_a_column() -> None:
    page = render(interview(45, questions=3))

    header = re.search(r'<table id="questions">\s*<thead>(.*?)</thead>', page, re.S)
    assert header is not None
    assert re.findall(r"<th scope=\"col\">(q\d)</th>", header.group(1)) == ["q1", "q2", "q3"]
    assert "Eye contact" in page


def test_a_failed_result_still_renders_and_says_why() -> None:
    from video_analysis.assemble import failed_result
    from video_analysis.schemas import ErrorInfo

    result = failed_result("v9", ErrorInfo(code="unreadable_media", message="not a video"))
    page = render(result)

    assert "The analysis failed" in page and "not a video" in page
    assert "<svg" in page


def test_a_ten_minute_interview_stays_under_one_megabyte() -> None:
    page = render(interview(600, questions=10))

    assert len(page.encode()) < 1_000_000


def test_the_report_command_writes_the_page_of_a_result_file(tmp_path: Path) -> None:
    source = tmp_path / "result.json"
    source.write_text(interview(30).model_dump_json())
    out = tmp_path / "report.html"

    assert main(["report", str(source), "--out", str(out)]) == 0
    assert "Interview report" in out.read_text()


def test_the_report_command_refuses_a_file_that_is_not_a_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "x.json"
    source.write_text('{"hello": 1}')

    assert main(["report", str(source), "--out", str(tmp_path / "r.html")]) == 2
    assert "is not an analysis result" in capsys.readouterr().err


# ------------------------------------------------------------------------------ at length


@pytest.mark.parametrize("questions", [0, 12])
def test_an_hour_of_dense_talk_stays_under_one_and_a_half_megabytes(questions: int) -> None:
    result = dense_interview(3600, questions=questions)
    page = render(result)

    assert len(page.encode()) <= MAX_HOUR_BYTES
    # The whole transcript is there: every word of it, in its turn.
    words = sum(len(s.words) for s in result.speech.segments)
    assert words >= 8500  # about 150 a minute, as real interviews go
    turns = re.findall(r'<div class="turn[^"]*" id="turn-\d+">.*?<p>(.*?)</p>', page, re.S)
    shown = sum(len(re.sub(r"<[^>]+>|pause [\d.]+ sec", " ", t).split()) for t in turns)
    assert shown == words
    # The tables that stand in for the charts have a row per 10 s, not per second.
    assert page.count('<tr><td><a href="#c') == 360


def test_a_long_interview_has_an_overview_and_a_panel_per_question() -> None:
    page = render(dense_interview(1800, questions=6))

    panels = re.findall(r'<section class="panel" id="([^"]+)"', page)
    assert panels == [f"q-q{k}" for k in range(1, 7)]
    assert re.findall(r'<h3 id="q-q1-h">Question q1 <span class="span">(.*?)</span>', page) == [
        "0:00–5:00"
    ]
    # The overview draws one point per 10 s and marks the questions; each panel draws its own.
    charts = re.findall(r'<div class="chart" id="([^"]+)"', page)
    assert charts == ["timeline-chart", "c1", "c2", "c3", "c4", "c5", "c6"]
    assert "One point per 10 s" in page
    overview = page[page.index('id="timeline-chart"') : page.index("</svg>")]
    assert ">q6</text>" in overview
    assert "<dt>Talk time</dt>" in page[page.index('id="q-q2"') :]  # the question's figures


def test_without_questions_a_panel_per_five_minutes() -> None:
    page = render(dense_interview(1500))

    assert re.findall(r'<section class="panel" id="([^"]+)"', page) == [
        "at-0",
        "at-300",
        "at-600",
        "at-900",
        "at-1200",
    ]
    assert "Five minutes at a time" in page
    assert '<span class="span">20:00–25:00</span>' in page
    # A panel without a question says what happened in it in one line.
    assert re.search(r'<p class="note">\d+ words \(S1(, S2)?\); a face in', page)


def test_a_short_interview_has_one_chart() -> None:
    page = render(interview(60))

    assert re.findall(r'<div class="chart" id="([^"]+)"', page) == ["timeline-chart"]
    assert page.count("<svg") == 1


def test_every_id_in_the_page_is_unique() -> None:
    page = render(dense_interview(900, questions=3))

    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    # What the charts refer to is there, under the chart's own prefix.
    for ref in set(re.findall(r"url\(#([^)]+)\)|href=\"#(c\d+-[^\"]+)\"", page)):
        assert f'id="{ref[0] or ref[1]}"' in page


def test_panels_cover_the_video_around_questions_in_any_order() -> None:
    result = dense_interview(1000)
    result.metadata.questions = [
        QuestionSpan(question_id="b", start=400, end=500),
        QuestionSpan(question_id="a", start=100.5, end=400.8),  # overlaps b a little
        QuestionSpan(question_id="c", start=500, end=1200),  # past the end of the video
    ]

    assert windows(result) == [
        Window(0, 100.5),
        Window(100.5, 400.8, "a"),
        Window(400.8, 500, "b"),
        Window(500, 1000, "c"),
    ]


def test_short_questions_share_a_chart() -> None:
    panels = [Window(k * 60.0, (k + 1) * 60.0, f"q{k}") for k in range(7)]

    groups = chart_groups(panels)

    assert groups == [range(0, 3), range(3, 7)]  # the short last run joins the one before
    assert all(panels[g[-1]].end - panels[g[0]].start >= MIN_CHART_S for g in groups)
    page = render(dense_interview(420, questions=7))
    assert re.findall(r'<div class="chart" id="(c\d+)"', page) == ["c1", "c4"]
    assert 'Drawn in <a href="#c1">the chart of Question q1</a>' in page


def test_a_served_page_plays_the_recording_from_a_relative_link() -> None:
    expires = datetime(2030, 1, 1, 12, 30, tzinfo=UTC)
    page = render(interview(30), recording=Recording("media?exp=1&sig=abc", expires))

    assert (
        '<video id="recording" controls preload="metadata" src="media?exp=1&amp;sig=abc">' in page
    )
    assert "works until 12:30\u202fPM (Coordinated Universal Time)" in page
    assert 'id="no-recording"' not in page


def test_a_page_without_a_recording_says_so() -> None:
    page = render(interview(30))

    assert "<video" not in page
    assert 'id="no-recording"' in page and "No recording to play here" in page


def test_the_action_units_have_a_lane_beside_the_expression_and_a_column_in_the_tables() -> None:
    page = render(interview(60))

    svg = page[page.index("<svg") : page.index("</svg>")]
    # A lane per unit, named by its FACS number, between the expression and eye contact.
    lanes = [svg.find(text) for text in ("expression score", "action units", "eye contact")]
    assert lanes == sorted(lanes) and -1 not in lanes
    assert all(f">{code}<" in svg for code in ("AU1+2", "AU4", "AU9", "AU10", "AU12", "AU26"))
    assert "<image" in svg  # the lanes are one small raster, whatever the length
    # The text alternatives: the tables' column and the caption.
    assert '<th scope="col">Action units active</th>' in page
    assert re.search(r"<td>AU[0-9+]+(, AU[0-9+]+)*<td>", page)
    assert "apparent movement, not a feeling" in page


def test_the_action_units_are_drawn_over_the_hatching_of_unmeasured_seconds() -> None:
    """The shading is an image and the hatching a patch: a patch is drawn above an image
    unless the image says otherwise, and the lane then read "not measured" everywhere."""
    from matplotlib.figure import Figure

    from video_analysis.report.charts import _action_units
    from video_analysis.report.windows import Seconds

    result = interview(60)
    ax = Figure().subplots()
    _action_units(ax, result, Seconds(result).bins(0.0, 60.0, 1.0), 0.0, 60.0)

    assert ax.images and ax.patches + ax.collections
    hatching = max(a.get_zorder() for a in ax.patches + ax.collections)
    assert min(image.get_zorder() for image in ax.images) > hatching


def test_without_action_units_their_lane_says_why() -> None:
    result = interview(60)
    result.face.action_units = ActionUnits.not_assessed(reason("pose_not_enabled"))

    page = render(result)

    assert "the pose role, which places the face" in page
    assert re.search(r"<td>neutral<td>–<td>", page)
