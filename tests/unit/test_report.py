"""The report page from a result: self-contained, the figures with their coverage, the chart,
the transcript by turn with fillers and long pauses marked, per question, the models."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.interviews import interview
from video_analysis.cli import main
from video_analysis.report import render


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
    assert "no shoulders in view" in page
    assert "not judged" in page


def test_the_transcript_is_by_turn_with_fillers_and_long_pauses_marked() -> None:
    page = render(interview(30))

    turns = re.findall(r'<div class="turn( candidate)?" id="turn-\d+">', page)
    assert len(turns) == 4  # S2, S1, S2, S1
    assert turns[1] == " candidate"
    assert '<mark class="filler" title="filler word">um</mark>' in page
    assert page.count('class="pause"') == 2 + 1  # one per answer, and the legend's example
    assert "pause 3.1 s" in page
    # Each turn links to its place on the timeline.
    assert 'href="#timeline-h" class="at" data-t="3.5"' in page


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
