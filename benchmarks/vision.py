"""Vision stage speed and memory on this machine.

    .venv/bin/python benchmarks/vision.py [--frames 100] [--videos 30]

Prints, at 640x360 on one core (the process pins itself to CPU 0), for a face at webcam
distance (the astronaut photo, its face ~60 px high) and a close-up (her face filling the
frame, as a laptop or phone frames it):
- ms per sampled frame of each vision analyzer (face, pose) and of all of them together,
  measured through ``analyze_frames`` on batches of the splitter's size: wall-clock time, and
  the CPU time the process used (the steadier figure on a machine shared with other work);
- frames per second of the whole vision stage;
- the RSS of one process analysing ``--videos`` clips in a row, after the first and at the
  end, to show that models are built once and nothing grows per video.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from video_analysis.analyzers.base import DecodedFrame, DecodedFrames  # noqa: E402
from video_analysis.analyzers.registry import get_analyzer  # noqa: E402
from video_analysis.settings import get_settings  # noqa: E402

ANALYZERS = ("face", "pose")
SCENES = ("webcam", "close-up")


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def face_frames(count: int, offset: int = 0, scene: str = "webcam") -> list[np.ndarray]:
    """640x360 frames of the astronaut photo (a real face), drifting a little per frame:
    ``webcam``, the photo 300 px high on a grey canvas (her face ~60 px); ``close-up``, her
    face cut out (brows to chin, 16:9) and enlarged to fill the frame."""
    import cv2
    from skimage import data

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    small = cv2.resize(photo, (300, 300), interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(count):
        drift = int(20 * np.sin((i + offset) / 7))
        if scene == "close-up":
            x, y = 226 - 89 + drift // 4, 124 - 50
            frames.append(
                cv2.resize(
                    photo[y : y + 100, x : x + 178], (640, 360), interpolation=cv2.INTER_CUBIC
                )
            )
            continue
        canvas = np.full((360, 640, 3), 90, np.uint8)
        x = 170 + drift
        canvas[30:330, x : x + 300] = small
        frames.append(canvas)
    return frames


def batches(images: list[np.ndarray], size: int = 25) -> list[DecodedFrames]:
    out = []
    for b, start in enumerate(range(0, len(images), size)):
        chunk = images[start : start + size]
        frames = [DecodedFrame(start + i, (start + i) / 5.0, img) for i, img in enumerate(chunk)]
        out.append(DecodedFrames("bench", b, 5.0, frames))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--videos", type=int, default=30)
    parser.add_argument("--frames-per-video", type=int, default=50)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

    analyzers = {}
    for name in ANALYZERS:
        started = time.perf_counter()
        analyzers[name] = get_analyzer(name, get_settings())
        print(f"load {name:<6} {time.perf_counter() - started:7.1f} s")
    for scene in SCENES:
        work = batches(face_frames(args.frames, scene=scene))
        for analyzer in analyzers.values():  # warm-up: first calls build graphs and caches
            analyzer.analyze_frames(work[0])
        wall: dict[str, float] = {}
        cpu: dict[str, float] = {}
        for name, analyzer in analyzers.items():
            started, started_cpu = time.perf_counter(), time.process_time()
            for batch in work:
                analyzer.analyze_frames(batch)
            wall[name] = (time.perf_counter() - started) * 1000 / args.frames
            cpu[name] = (time.process_time() - started_cpu) * 1000 / args.frames
        total, total_cpu = sum(wall.values()), sum(cpu.values())
        print(f"\n{scene}: {args.frames} frames at 640x360, one core (CPU 0), wall / CPU:")
        for name in analyzers:
            print(f"  {name:<6} {wall[name]:7.1f} / {cpu[name]:5.1f} ms/frame")
        print(
            f"  all    {total:7.1f} / {total_cpu:5.1f} ms/frame  ->  "
            f"{1000 / total:5.1f} frames/s of the vision stage"
        )
        print(f"  a 60 s video at 5 fps (300 frames): {300 * total / 1000:5.1f} s of one core")

    rss_first = None
    for video in range(args.videos):
        for batch in batches(face_frames(args.frames_per_video, offset=video * 13)):
            for analyzer in analyzers.values():
                analyzer.analyze_frames(batch)
        if video == 0:
            rss_first = rss_mib()
    rss_last = rss_mib()
    assert rss_first is not None
    growth = (rss_last - rss_first) / rss_first * 100
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nmemory over {args.videos} videos of {args.frames_per_video} frames each:")
    print(
        f"  RSS after video 1 {rss_first:7.1f} MiB, after video {args.videos} "
        f"{rss_last:7.1f} MiB ({growth:+.1f}%), peak {peak:.1f} MiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
