"""Cold `video-analysis analyze` against the naive script, side by side on two clips.

    .venv/bin/python benchmarks/speed.py [--duration 60] [--runs 3] [--clips sparse,dense]
                                         [--keep DIR]

Two 1280x720 clips with a face, every analyzer on (frames: quality, face, pose; audio:
quality, speech):
- ``sparse``: generated (tests/media_factory.py): a test pattern with a face and espeak-ng
  speech padded with silence, 30 fps (31 words in its first 10 s, then silence);
- ``dense``: a two-person interview built from real recordings
  (``benchmarks/interview_media.py``: AMI voices taking turns, speech nearly all the time,
  GRID faces), 25 fps.
Each round runs, for each clip, `analyze` (a fresh process: imports and model loading
included) and then `benchmarks/naive.py` (the script a user would write with the same models),
so both see the machine in the same state. Prints per clip the median wall time of each, the
ratio, peak RSS, and the seconds per stage that `analyze` reports in its result (`timings`:
split, analyze.<analyzer>; summed over parts, so they overlap) next to the naive script's.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from interview_media import build_interview  # noqa: E402
from measure import ColdRun, cold_env, cold_run  # noqa: E402

from tests.media_factory import make_clip  # noqa: E402

CLIPS = {
    "sparse": "generated: test pattern, face, espeak-ng speech with silences, 30 fps",
    "dense": "real recordings: two AMI voices taking turns, GRID faces, 25 fps",
}


def clip_path(name: str, duration: float, work: Path) -> Path:
    if name == "dense":
        return build_interview(duration / 60.0).video
    clip = work / "clip-720p.mp4"
    if not clip.exists():
        print(f"generating a {duration:.0f} s 1280x720 clip with speech ...", flush=True)
        make_clip(clip, duration=duration, size=(1280, 720), fps=30, audio="speech", face=True)
    return clip


def median(rows: list[ColdRun], what: str) -> float:
    return float(statistics.median(float(getattr(row, what)) for row in rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clips", default="sparse,dense", help="comma list of: sparse, dense")
    parser.add_argument("--keep", type=Path, default=None, help="keep the generated clip here")
    args = parser.parse_args()
    names = [c for c in args.clips.split(",") if c]
    unknown = set(names) - CLIPS.keys()
    if unknown:
        parser.error(f"unknown clips {sorted(unknown)}; known: {sorted(CLIPS)}")
    work = args.keep or Path(tempfile.mkdtemp(prefix="va-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    clips = {name: clip_path(name, args.duration, work) for name in names}
    env = cold_env(work)
    service: dict[str, list[ColdRun]] = {name: [] for name in names}
    naive: dict[str, list[ColdRun]] = {name: [] for name in names}
    for k in range(args.runs):
        for name, clip in clips.items():
            done = cold_run([sys.executable, "-m", "video_analysis", "analyze", str(clip)], env)
            service[name].append(done)
            done_n = cold_run([sys.executable, "benchmarks/naive.py", str(clip)], env)
            naive[name].append(done_n)
            print(
                f"round {k + 1} {name:<6}: analyze {done.wall_s:6.1f} s, "
                f"naive {done_n.wall_s:6.1f} s",
                flush=True,
            )
    d = args.duration
    print(f"\nclips: {d:.0f} s, 1280x720, every analyzer; machine: {os.cpu_count()} cores")
    print(
        f"{'clip':<7} {'words':>5} {'analyze s':>9} {'x real':>6} {'RSS MiB':>7} "
        f"{'naive s':>8} {'x real':>6} {'RSS MiB':>7} {'faster':>6}"
    )
    for name in names:
        a, n = median(service[name], "wall_s"), median(naive[name], "wall_s")
        words = _words(json.loads(service[name][0].stdout))
        rss_a, rss_n = median(service[name], "peak_rss_mib"), median(naive[name], "peak_rss_mib")
        print(
            f"{name:<7} {words:5d} {a:9.1f} {a / d:6.2f} {rss_a:7.0f}"
            f" {n:8.1f} {n / d:6.2f} {rss_n:7.0f} {n / a:5.2f}x"
        )
    for name in names:
        print(f"\n{name}: {CLIPS[name]}")
        one = len(service[name]) // 2
        timings = json.loads(service[name][one].stdout).get("timings", {})
        print("  analyze timings (one run):", json.dumps(timings))
        naive_seconds = json.loads(naive[name][one].stdout)["seconds"]
        print("  naive seconds (one run):  ", json.dumps(naive_seconds))
    return 0


def _words(result: dict[str, Any]) -> int:
    segments = (result.get("speech") or {}).get("segments") or []
    return sum(len(s.get("words") or []) for s in segments)


if __name__ == "__main__":
    raise SystemExit(main())
