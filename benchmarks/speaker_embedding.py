"""Speed and memory of the CAM++ speaker embedder on real meeting audio, on this machine.

    .venv/bin/python benchmarks/speaker_embedding.py [--data ../shared/data/ami] [--repeat 3]

Embeds windows of 1.5 s every 0.75 s over the whole of each AMI excerpt (nine 30 s files) as
the speaker separation does, with 1 and 2 onnxruntime threads and several batch sizes, each
setting in a process of its own so that its peak RSS is its own. Prints milliseconds of work
per second of audio (wall clock, best of ``--repeat`` passes, and the process's CPU time: on a
busy machine the CPU time of one thread is the steadier figure), the time spent on features
(Kaldi fbank), the load time and the peak RSS. Needs the model installed (`video-analysis
models install campplus-speaker`). Asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from video_analysis.analyzers.speaker_embedding import (  # noqa: E402
    SpeakerEmbedder,
    fbank,
    plan_windows,
)
from video_analysis.settings import get_settings  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "ami"
SAMPLE_RATE = 16_000
SETTINGS = [(1, 1), (1, 4), (1, 8), (1, 16), (2, 1), (2, 4), (2, 8), (2, 16)]  # (threads, batch)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def run_one(data: Path, threads: int, max_batch: int, repeat: int) -> None:
    audio = [sf.read(path, dtype="float32")[0] for path in sorted(data.glob("*.wav"))]
    seconds = sum(x.size for x in audio) / SAMPLE_RATE
    windows = [plan_windows([(0.0, x.size / SAMPLE_RATE)]) for x in audio]
    count = sum(len(w) for w in windows)
    embedder = SpeakerEmbedder(get_settings(), threads=threads, max_batch=max_batch)
    started = time.perf_counter()
    embedder.load()
    load_s = time.perf_counter() - started
    embedder.embed(audio[0], windows[0][:2])  # warm-up: first-run allocations
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        for x, w in zip(audio, windows, strict=True):
            embedder.embed(x, w)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    print(
        f"threads {threads}  batch {max_batch:>2}: {best_wall / seconds * 1000:5.1f} ms per "
        f"second of audio, CPU {best_cpu / seconds * 1000:5.1f} ms "
        f"({best_wall / count * 1000:5.1f} ms a window; load {load_s:.2f} s; "
        f"peak RSS {peak_rss_mb():.0f} MB)",
        flush=True,
    )


def run_features(data: Path) -> None:
    audio = [sf.read(path, dtype="float32")[0] for path in sorted(data.glob("*.wav"))]
    seconds = sum(x.size for x in audio) / SAMPLE_RATE
    cpu = time.process_time()
    for x in audio:
        for start, end in plan_windows([(0.0, x.size / SAMPLE_RATE)]):
            fbank(x[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)])
    used = time.process_time() - cpu
    print(f"features alone (included above): CPU {used / seconds * 1000:.1f} ms per second")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder of the AMI .wav files")
    parser.add_argument("--repeat", type=int, default=3, help="passes per setting; best counts")
    parser.add_argument("--one", nargs=2, type=int, metavar=("THREADS", "BATCH"), help="internal")
    args = parser.parse_args()
    files = sorted(args.data.glob("*.wav"))
    if not files:
        print(f"no .wav files in {args.data} (the shared data folder beside the checkout)")
        return 1
    if args.one:
        run_one(args.data, *args.one, repeat=args.repeat)
        return 0
    seconds = sum(sf.info(str(path)).frames for path in files) / SAMPLE_RATE
    windows = sum(len(plan_windows([(0.0, sf.info(str(p)).duration)])) for p in files)
    print(f"{len(files)} files, {seconds:.0f} s of audio, {windows} windows of 1.5 s every 0.75 s")
    for threads, batch in SETTINGS:
        command = [sys.executable, __file__, "--data", str(args.data)]
        command += ["--repeat", str(args.repeat), "--one", str(threads), str(batch)]
        subprocess.run(command, check=True)
    run_features(args.data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
