"""How soon a user waiting on an upload sees it move: time to the first event, to the first
partial words and to the final state of ``GET /videos/{id}/events``, and the report's size.

    .venv/bin/python benchmarks/live.py [--duration 60] [--keep DIR]

Starts its own embedded broker, one worker process per role (every analyzer) and the API (SQLite
store, no Redis), as `make run` does. The clip is uploaded twice over HTTP: the first pays for
the consumer groups joining and the models loading; the second is measured with warm workers.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.media_factory import make_clip  # noqa: E402
from tests.stack import Stack, embedded_broker, stack_env  # noqa: E402

ROLES = ("splitter", "quality", "face", "pose", "speech", "join")


def upload_and_follow(api: str, clip: Path) -> dict[str, Any]:
    """Upload ``clip`` and follow its events to the end; times from the start of the upload."""
    started = time.monotonic()
    with clip.open("rb") as fh:
        answer = httpx.post(
            f"{api}/analyze-video", files={"file": (clip.name, fh, "video/mp4")}, timeout=120
        )
    answer.raise_for_status()
    video_id = answer.json()["video_id"]
    accepted = time.monotonic() - started
    figures: dict[str, Any] = {"video_id": video_id, "upload_s": accepted}
    name = ""
    with httpx.stream("GET", f"{api}/videos/{video_id}/events", timeout=900) as response:
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
                continue
            if not line.startswith("data: "):
                continue
            at = time.monotonic() - started
            data = json.loads(line[6:])
            figures.setdefault("first_event_s", at)
            if name == "transcript" and data["segments"]:
                figures.setdefault("first_words_s", at)
                figures.setdefault("first_words", data["segments"][0]["text"])
            if name == "final":
                figures["final_s"] = at
                figures["state"] = data["state"]
                break
    report = httpx.get(f"{api}/videos/{video_id}/report", timeout=60)
    figures["report_kb"] = len(report.content) / 1024
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--keep", type=Path, default=None, help="keep work files here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="va-live-"))
    work.mkdir(parents=True, exist_ok=True)
    clip = work / "answer.mp4"
    if not clip.exists():
        print(f"generating a {args.duration:.0f} s 640x360 clip with speech ...", flush=True)
        make_clip(clip, duration=args.duration, size=(640, 360), fps=25, audio="speech", face=True)
    with embedded_broker(work) as bootstrap:
        env = stack_env(
            bootstrap,
            work / "stack",
            VA_FRAME_ANALYZERS="quality,face,pose",
            VA_AUDIO_ANALYZERS="quality,speech",
        )
        stack = Stack(bootstrap=bootstrap, root=work / "stack", env=env)
        for role in ROLES:
            stack.start_worker(role)
        stack.start_api()
        api = f"http://127.0.0.1:{stack.api_port}"
        try:
            cold = upload_and_follow(api, clip)
            warm = upload_and_follow(api, clip)
        finally:
            stack.stop()
    print()
    print(f"clip: {args.duration:.0f} s, 640x360, speech; machine: {os.cpu_count()} cores")
    for label, figures in (("first upload (cold)", cold), ("second upload (warm)", warm)):
        words_s = figures.get("first_words_s", float("nan"))
        print(
            f"{label:<22} upload {figures['upload_s']:5.1f} s · first event "
            f"{figures['first_event_s']:5.1f} s · first words {words_s:5.1f} s · "
            f"{figures['state']} {figures['final_s']:5.1f} s · report {figures['report_kb']:.0f} KB"
        )
    print(f"first words heard: {warm.get('first_words', '')!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
