"""The report page's size and render time: for result files given on the command line, or for
generated interviews of 60 s and 10 minutes (an interviewer and a candidate taking turns, a face
every second, one question a minute).

    .venv/bin/python benchmarks/report.py [RESULT.json ...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.interviews import interview  # noqa: E402
from video_analysis.report import render  # noqa: E402
from video_analysis.schemas import AnalysisResult  # noqa: E402


def measure(name: str, result: AnalysisResult) -> None:
    started = time.perf_counter()
    page = render(result)
    elapsed = time.perf_counter() - started
    size = len(page.encode())
    print(
        f"{name:<28} {result.media.duration_s:7.1f} s video  {size / 1024:8.1f} KB  "
        f"{elapsed * 1000:7.0f} ms  {len(result.timeline)} timeline rows"
    )


def main(paths: list[str]) -> None:
    render(interview(15))  # matplotlib's and the template's first load
    if paths:
        for path in paths:
            measure(Path(path).name, AnalysisResult.model_validate_json(Path(path).read_bytes()))
        return
    for seconds in (60, 600):
        measure(f"generated {seconds} s", interview(seconds, questions=seconds // 60))


if __name__ == "__main__":
    main(sys.argv[1:])
