"""Wall time of `analyze` and `submit --wait` on the same 60 s 720p clip, and peak RSS per role.

    .venv/bin/python benchmarks/pipeline.py [--duration 60] [--runs 3] [--keep DIR]

Starts its own embedded broker and one worker process per role (SQLite store, no Redis), so
it measures the service as `make run` runs it. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.media_factory import make_clip  # noqa: E402
from tests.stack import Stack, embedded_broker, stack_env  # noqa: E402
from video_analysis.dev import dev_cpu_share  # noqa: E402
from video_analysis.settings import Settings  # noqa: E402

ROLES = ("splitter", "quality", "face", "pose", "speech", "join")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--keep", type=Path, default=None, help="keep work files here")
    parser.add_argument("--runs", type=int, default=3, help="warm submits to take the median of")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="va-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    clip = work / "clip-720p.mp4"
    if not clip.exists():
        print(f"generating {args.duration:.0f}s 1280x720 clip with speech ...", flush=True)
        make_clip(clip, duration=args.duration, size=(1280, 720), fps=30, audio="speech", face=True)
    exe = [sys.executable, "-m", "video_analysis"]
    with embedded_broker(work) as bootstrap:
        env = stack_env(bootstrap, work / "stack")
        # The service's own analyzer set, not the light one the spine's tests use.
        env["VA_FRAME_ANALYZERS"] = ",".join(Settings().frame_analyzers)
        env["VA_AUDIO_ANALYZERS"] = ",".join(Settings().audio_analyzers)
        analyze_s, done = timed([*exe, "analyze", str(clip)], env)
        if done.returncode != 0:
            print(done.stderr[-3000:])
            return 1
        # Each worker gets its share of the cores, as `dev` (`make run`) gives it.
        share = os.environ.get("VA_CPU_THREADS") or str(dev_cpu_share())
        stack = Stack(
            bootstrap=bootstrap, root=work / "stack", env={**env, "VA_CPU_THREADS": share}
        )
        for role in ROLES:
            stack.start_worker(role)
        try:
            # The first submit also pays for the consumer groups joining: measure it apart.
            warm_s, done = timed([*exe, "submit", str(clip), "--wait", "--timeout", "600"], env)
            if done.returncode != 0:
                print(done.stderr[-3000:], stack.logs())
                return 1
            warm: list[float] = []
            for _ in range(args.runs):
                took, done = timed([*exe, "submit", str(clip), "--wait", "--timeout", "600"], env)
                if done.returncode != 0:
                    print(done.stderr[-3000:], stack.logs())
                    return 1
                warm.append(took)
            submit_s = statistics.median(warm)
            rss = {role: peak_rss_mib(stack.processes[role].pid) for role in ROLES}
        finally:
            stack.stop()
    print()
    print(f"clip: {args.duration:.0f} s, 1280x720, 30 fps, speech; machine: {os.cpu_count()} cores")
    print(f"analyzers: frames {env['VA_FRAME_ANALYZERS']}; audio {env['VA_AUDIO_ANALYZERS']}")
    print(f"workers: VA_CPU_THREADS={stack.env['VA_CPU_THREADS']} each (as dev gives them)")
    print(f"analyze (in-process, no broker)          {analyze_s:7.1f} s wall")
    print(f"submit --wait (first, groups joining)    {warm_s:7.1f} s wall")
    runs = ", ".join(f"{x:.1f}" for x in warm)
    print(
        f"submit --wait (workers warm, median of {args.runs}) {submit_s:5.1f} s wall "
        f"({submit_s / args.duration:.2f}x real time; runs {runs})"
    )
    for role, mib in rss.items():
        print(f"peak RSS worker --role {role:<10}         {mib:7.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
