"""Throughput of the service: many videos at once, with one and with two processes per heavy
role, and the memory of every role over many videos.

    .venv/bin/python benchmarks/throughput.py [--videos 8] [--duration 20] [--replicas 1,2]
                                              [--growth 30]

Starts its own embedded broker and worker processes (SQLite store, the service's analyzer set,
as `make run` runs it). For each replica count R: R processes of each heavy role (face, pose,
speech; one splitter, quality and join), one warm-up video, then ``--videos`` videos published
at once; prints videos per minute, p50/p95 latency (publish to result built), and peak RSS per
role. With ``--growth N`` it then sends N more videos one after another to the one-replica
stack and prints each role's RSS after the warm-up and after the N videos (the growth the
issue bounds at 5%). Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.media_factory import make_clip  # noqa: E402
from tests.stack import Stack, embedded_broker, stack_env  # noqa: E402
from video_analysis.settings import Settings  # noqa: E402

HEAVY = ("face", "pose", "speech")
LIGHT = ("splitter", "quality", "join")


def rss_mib(pid: int, field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of a process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def by_role(stack: Stack, field: str) -> dict[str, float]:
    """Per role: the largest of its processes' figures."""
    out: dict[str, float] = {}
    for name, process in stack.processes.items():
        role = name.split("-")[0]
        out[role] = max(out.get(role, 0.0), rss_mib(process.pid, field))
    return out


def run_videos(stack: Stack, clip: Path, count: int, *, at_once: bool) -> list[float]:
    """Publish ``count`` videos (all at once, or each after the previous result); latencies."""
    latencies: list[float] = []
    pending: dict[str, float] = {}
    for _ in range(count):
        video_id = f"bench-{uuid.uuid4().hex[:10]}"
        pending[video_id] = time.time()
        stack.submit(clip, video_id)
        if not at_once:
            latencies += _collect(stack, pending)
            pending = {}
    if pending:
        latencies += _collect(stack, pending)
    return latencies


def _collect(stack: Stack, pending: dict[str, float]) -> list[float]:
    results = stack.results(set(pending), timeout_s=1800)
    latencies = []
    for video_id, sent in pending.items():
        result = results[video_id]
        if result["status"] != "complete":
            raise RuntimeError(f"{video_id}: {result['status']} {result.get('error')}")
        built = datetime.fromisoformat(result["created_at"]).timestamp()
        latencies.append(built - sent)
    return latencies


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--replicas", default="1,2")
    parser.add_argument("--growth", type=int, default=0, help="videos for the RSS growth run")
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="va-throughput-"))
    work.mkdir(parents=True, exist_ok=True)
    clip = work / f"clip-{args.duration:.0f}s.mp4"
    if not clip.exists():
        make_clip(clip, duration=args.duration, size=(1280, 720), fps=30, audio="speech", face=True)
    print(
        f"clip: {args.duration:.0f} s 1280x720 30 fps with speech; {args.videos} videos at once; "
        f"machine: {os.cpu_count()} cores",
        flush=True,
    )
    with embedded_broker(work) as bootstrap:
        for replicas in (int(r) for r in args.replicas.split(",")):
            env = stack_env(
                bootstrap,
                work / f"stack-{replicas}",
                VA_TOPIC_PARTITIONS="4",
                VA_LOG_LEVEL="WARNING",
                VA_FRAME_ANALYZERS=",".join(Settings().frame_analyzers),
                VA_AUDIO_ANALYZERS=",".join(Settings().audio_analyzers),
            )
            stack = Stack(bootstrap=bootstrap, root=work / f"stack-{replicas}", env=env)
            for role in LIGHT:
                stack.start_worker(role)
            for role in HEAVY:
                for i in range(replicas):
                    stack.start_worker(role, f"{role}-{i}")
            try:
                run_videos(stack, clip, 1, at_once=False)  # warm-up: models, groups
                started = time.monotonic()
                latencies = run_videos(stack, clip, args.videos, at_once=True)
                wall = time.monotonic() - started
                peak = by_role(stack, "VmHWM")
                print(
                    f"\n{replicas} process(es) per heavy role: {args.videos} videos in "
                    f"{wall:.1f} s = {args.videos / wall * 60:.1f} videos/min "
                    f"({args.videos * args.duration / wall:.2f} s of video per second); "
                    f"latency p50 {statistics.median(latencies):.1f} s, "
                    f"p95 {percentile(latencies, 0.95):.1f} s"
                )
                for role, mib in peak.items():
                    print(f"  peak RSS {role:<9} {mib:7.1f} MiB (largest process)")
                if args.growth and replicas == 1:
                    # From after the burst (every pool at its high-water mark) on: what
                    # grows now grows with each video.
                    steps = [by_role(stack, "VmRSS")]
                    for _ in range(3):
                        run_videos(stack, clip, args.growth // 3, at_once=False)
                        steps.append(by_role(stack, "VmRSS"))
                    print(
                        f"  RSS (MiB) after the burst, then after each {args.growth // 3} "
                        "more videos one after another:"
                    )
                    for role, first in steps[0].items():
                        path = " -> ".join(f"{step[role]:.1f}" for step in steps)
                        grown = (steps[-1][role] - first) / first * 100
                        print(f"    {role:<9} {path} ({grown:+.1f}%)")
            finally:
                stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
