"""Cold `video-analysis analyze` against the naive script, side by side on one clip.

    .venv/bin/python benchmarks/speed.py [--duration 60] [--runs 3] [--keep DIR]

A 60 s 1280x720 30 fps clip with speech and a face; every analyzer on (frames: quality, face,
pose; audio: quality, speech). Each round runs `analyze` (a fresh process: imports and model
loading included) and then `benchmarks/naive.py` (the script a user would write with the same
models), so both see the machine in the same state. Prints the median wall time of each, the
ratio, peak RSS, and the seconds per stage that `analyze` reports in its result (`timings`:
split, analyze.<analyzer>; summed over parts, so they overlap) next to the naive script's.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.media_factory import make_clip  # noqa: E402


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB) and stdout of one child process."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, cwd=ROOT)
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise RuntimeError(f"{cmd[2:4]} failed:\n{err.read().decode()[-3000:]}")
        return wall, usage.ru_maxrss / 1024, out.read().decode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="keep the clip here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="va-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    clip = work / "clip-720p.mp4"
    if not clip.exists():
        print(f"generating a {args.duration:.0f} s 1280x720 clip with speech ...", flush=True)
        make_clip(clip, duration=args.duration, size=(1280, 720), fps=30, audio="speech", face=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VA_")}
    env.update(
        VA_FRAME_ANALYZERS="quality,face,pose",
        VA_AUDIO_ANALYZERS="quality,speech",
        VA_MODELS_DIR=str(ROOT / "var" / "models"),
        VA_DATA_DIR=str(work / "var"),
    )
    service: list[tuple[float, float, dict[str, Any]]] = []
    naive: list[tuple[float, float, dict[str, Any]]] = []
    for k in range(args.runs):
        wall, rss, out = run([sys.executable, "-m", "video_analysis", "analyze", str(clip)], env)
        service.append((wall, rss, json.loads(out)))
        wall_n, rss_n, out_n = run([sys.executable, "benchmarks/naive.py", str(clip)], env)
        naive.append((wall_n, rss_n, json.loads(out_n)))
        print(f"round {k + 1}: analyze {wall:6.1f} s, naive {wall_n:6.1f} s", flush=True)

    def median(rows: list[tuple[float, float, dict[str, Any]]], i: int) -> float:
        return statistics.median(row[i] for row in rows)

    a, n = median(service, 0), median(naive, 0)
    print()
    print(f"clip: {args.duration:.0f} s, 1280x720, 30 fps, speech; machine: {os.cpu_count()} cores")
    print(
        f"analyze (cold)  median {a:6.1f} s  ({a / args.duration:.2f}x real time)"
        f"  peak RSS {median(service, 1):6.0f} MiB"
    )
    print(
        f"naive script    median {n:6.1f} s  ({n / args.duration:.2f}x real time)"
        f"  peak RSS {median(naive, 1):6.0f} MiB"
    )
    print(f"analyze is {n / a:.2f}x faster than the naive script")
    timings = service[len(service) // 2][2].get("timings", {})
    print("analyze timings (one run):", json.dumps(timings))
    print("naive seconds (one run):  ", json.dumps(naive[len(naive) // 2][2]["seconds"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
