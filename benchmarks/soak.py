"""The soak: the 20-video / 5-kill fault run under ``video-analysis dev`` (``tests/dev_runs.py``),
many times in a row, each from a cold start (a new broker, stores and data directory).

Prints one row per run (videos complete, left unfinished, workers restarted, partitions a
worker found stalled and read again, results on ``analysis-results`` and duplicates among
them, rows stored, stuck videos healed, seconds) and a total; exits 1 when any video was
left unfinished or not stored exactly once.

    .venv/bin/python benchmarks/soak.py --runs 30 [--seed 7] [--json soak.json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.dev_runs import SoakRun, soak_once  # noqa: E402

COLUMNS = (
    "run",
    "seed",
    "complete",
    "unfinished",
    "restarts",
    "stalled",
    "on topic",
    "duplicates",
    "stored once",
    "healed",
    "seconds",
)


def row(index: int, run: SoakRun) -> list[str]:
    return [
        str(index),
        str(run.seed),
        f"{run.complete}/{run.videos}",
        str(len(run.unfinished)),
        str(run.restarts),
        str(run.stalls),
        str(run.on_topic),
        str(run.duplicates),
        "yes" if run.stored_once else "NO",
        str(run.heals),
        f"{run.seconds:.0f}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seed", type=int, help="seed of the first run's kills (then +1)")
    parser.add_argument("--wait-s", type=float, default=420.0, help="wait for the videos")
    parser.add_argument("--json", type=Path, help="write every run's figures here")
    parser.add_argument("--keep", action="store_true", help="keep each run's directory")
    args = parser.parse_args()

    first_seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    runs: list[SoakRun] = []
    for index in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="va-soak-") as tmp:
            root = Path(tmp)
            try:
                run = soak_once(root, first_seed + index - 1, wait_s=args.wait_s)
            except Exception as exc:  # noqa: BLE001 - a run that broke is a row, not the end
                run = SoakRun(seed=first_seed + index - 1, diagnosis=f"run failed: {exc!r}")
            if run.unfinished or not run.stored_once:
                keep = Path(f"soak-failed-{index}.log")
                dev_log = root / "dev.log"
                keep.write_text(
                    run.diagnosis
                    + "\n"
                    + (dev_log.read_text(errors="replace") if dev_log.exists() else "")
                )
                print(f"  (run {index}: dev.log kept in {keep})", file=sys.stderr)
            if args.keep:
                kept = Path(f"soak-run-{index}")
                kept.mkdir(exist_ok=True)
                if (root / "dev.log").exists():
                    (kept / "dev.log").write_bytes((root / "dev.log").read_bytes())
        runs.append(run)
        print("| " + " | ".join(row(index, run)) + " |", flush=True)

    unfinished = sum(len(run.unfinished) for run in runs)
    bad_runs = [i + 1 for i, run in enumerate(runs) if run.unfinished or not run.stored_once]
    print(
        f"\n{len(runs)} runs, {sum(run.videos for run in runs)} videos: {unfinished} left "
        f"unfinished, {sum(run.complete for run in runs)} complete, "
        f"{sum(run.restarts for run in runs)} workers restarted, "
        f"{sum(run.stalls for run in runs)} stalled partitions read again, "
        f"{sum(run.duplicates for run in runs)} duplicates on the topic, "
        f"{sum(run.heals for run in runs)} healed; runs with a loss: {bad_runs or 'none'}"
    )
    if args.json:
        args.json.write_text(json.dumps([asdict(run) for run in runs], indent=2))
    return 1 if bad_runs else 0


if __name__ == "__main__":
    sys.exit(main())
