"""What a person at a terminal sees while a video is analysed: ``analyze``'s bar, and
``submit --wait``'s bar with the transcript as it forms (on stderr; stdout keeps the JSON)."""

from __future__ import annotations

import sys
from typing import Any


class LiveProgress:
    """``submit --wait`` on stderr: a progress bar with the stage at work, and the transcript
    line by line as audio chunks are transcribed (before the result is in)."""

    def __init__(self, video_id: str) -> None:
        from tqdm import tqdm

        from .report.page import clock

        self._clock = clock
        self._tqdm = tqdm
        self._bar = tqdm(
            total=100, desc=video_id[:12], unit="%", file=sys.stderr, leave=True, dynamic_ncols=True
        )
        self._printed: set[tuple[float, str]] = set()

    def __call__(self, status: Any) -> None:
        for segment in status.transcript:
            key = (segment.start, segment.text)
            if key not in self._printed:
                self._printed.add(key)
                self._tqdm.write(f"[{self._clock(segment.start)}] {segment.text}", file=sys.stderr)
        self._bar.set_postfix_str(f"{status.state.value} {_stage_at_work(status.stages)}".strip())
        self._bar.n = round(status.progress * 100)
        self._bar.refresh()

    def finished(self, state: str) -> None:
        self._bar.set_postfix_str(state)
        self._bar.n = 100
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()


def _stage_at_work(stages: dict[str, float]) -> str:
    """The first stage not yet done, with its share: ``analyze.speech 40%``."""
    for name, share in stages.items():
        if share < 1.0:
            return f"{name} {share:.0%}"
    return ""


def bar_printer() -> Any:
    """``analyze`` on a terminal: a bar with the stage at work, rewritten in place."""
    last = {"text": ""}

    def show(state: str, fraction: float) -> None:
        width = 30
        filled = int(round(fraction * width))
        text = f"\r[{'#' * filled}{'.' * (width - filled)}] {fraction * 100:5.1f}% {state:<10}"
        if text != last["text"]:
            sys.stderr.write(text)
            sys.stderr.flush()
            last["text"] = text

    return show
