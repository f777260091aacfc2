"""The report page's size and render time: for result files given on the command line, or for
generated interviews of 10, 30 and 60 minutes as dense as real ones (two people, about 150
words a minute from start to end, expression, eye contact and head yaw every second), without
questions (a panel per five minutes) and with a question every five minutes; then the sparse
60 s clip the earlier figures used, and an hour with a question a minute (60 panels).

    .venv/bin/python benchmarks/report.py [RESULT.json ...]
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.interviews import dense_interview, interview  # noqa: E402
from video_analysis.report import render  # noqa: E402
from video_analysis.schemas import AnalysisResult  # noqa: E402

#: The issue's bound for an hour's report.
MAX_HOUR_BYTES = 1_500_000
TABLE = r'<table class="bins">.*?</table>'
TURN = r'<div class="turn[^"]*" id="turn-\d+">.*?</p>\s*</div>'


def measure(name: str, result: AnalysisResult) -> None:
    started = time.perf_counter()
    page = render(result)
    elapsed = time.perf_counter() - started
    size = len(page.encode())
    svg = sum(len(s.encode()) for s in re.findall(r"<svg.*?</svg>", page, re.S))
    tables = sum(len(t.encode()) for t in re.findall(TABLE, page, re.S))
    turns = sum(len(t.encode()) for t in re.findall(TURN, page, re.S))
    words = sum(len(s.words) for s in result.speech.segments)
    print(
        f"{name:<30} {result.media.duration_s / 60:5.1f} min {words:6d} words "
        f"{size / 1024:7.1f} KB (charts {svg / 1024:6.1f}, tables {tables / 1024:5.1f}, "
        f"transcript {turns / 1024:5.1f})  {elapsed * 1000:6.0f} ms"
    )


def main(paths: list[str]) -> None:
    render(interview(15))  # matplotlib's and the template's first load
    if paths:
        for path in paths:
            measure(Path(path).name, AnalysisResult.model_validate_json(Path(path).read_bytes()))
        return
    for minutes in (10, 30, 60):
        seconds = minutes * 60
        measure("dense, no questions", dense_interview(seconds))
        questions = minutes // 5
        measure(f"dense, {questions} questions", dense_interview(seconds, questions=questions))
    measure("sparse 60 s", interview(60))
    measure("dense, 60 questions", dense_interview(3600, questions=60))
    print(f"(the bound for an hour: {MAX_HOUR_BYTES / 1024:.0f} KB)")


if __name__ == "__main__":
    main(sys.argv[1:])
