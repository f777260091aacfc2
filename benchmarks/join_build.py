"""The join's result building at length: time and memory of ``build_result`` for 30 and 60 minutes.

    .venv/bin/python benchmarks/join_build.py [--minutes 30 60] [--parts FILE]

The parts of a real, speech-dense minute (``benchmarks/interview_media.py``: AMI voices taking
turns, GRID faces) come from one in-process `analyze` of it (kept in ``--parts`` for the next
run); that minute is then repeated, its times shifted, into an N-minute video's parts (frame
rows, words, speaker windows, pitch tracks: as many as the real interview of that length has).
Each length is built in a fresh process that holds the parts as the join's table does
(compressed JSON) and hands them to ``build_result`` one analyzer's at a time, one by one, as
the join does. Prints the parts' JSON and what is held of it, the build's seconds, the
process's RSS before the parts, with them, its peak (VmHWM) and the peak over the RSS before,
and the result's size.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

#: Keys of the parts' data that hold a time in seconds from the video's start.
TIME_KEYS = {"t", "start", "end"}


def capture(path: Path) -> dict[str, Any]:
    """The manifest and parts (as JSON) of one in-process `analyze` of the minute at ``path``."""
    from measure import analysed_parts

    from video_analysis.settings import Settings

    manifest, parts = analysed_parts(path, Settings(), "join-build")
    return {
        "manifest": manifest.model_dump(mode="json"),
        "parts": [part.model_dump(mode="json") for part in parts],
    }


def captured_minute(path: Path) -> dict[str, Any]:
    """The captured minute kept at ``path``; captured there first when it is not."""
    if not path.exists():
        from interview_media import build_interview

        video = build_interview(1.0).video
        print(f"analysing {video.name} in-process for its parts ...", flush=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(capture(video)))
    minute: dict[str, Any] = json.loads(path.read_text())
    return minute


def shifted(value: Any, offset: float) -> Any:
    """``value`` with every time (a ``t``/``start``/``end`` key, or a [start, end] pair)
    moved by ``offset`` seconds."""
    if isinstance(value, dict):
        return {
            k: v + offset if k in TIME_KEYS and isinstance(v, int | float) else shifted(v, offset)
            for k, v in value.items()
        }
    if isinstance(value, list):
        if value and all(_is_span(v) for v in value):
            return [[a + offset, b + offset] for a, b in value]
        return [shifted(v, offset) for v in value]
    return value


def _is_span(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(isinstance(v, float) for v in value)


def tiled(
    minute: dict[str, Any], minutes: int, video_id: str | None = None
) -> tuple[str, list[str]]:
    """The manifest and parts (JSON text) of ``minutes`` copies of the captured minute (of
    the video ``video_id`` when given, else of the captured one's)."""
    manifest = dict(minute["manifest"])
    if video_id is not None:
        manifest["video_id"] = video_id
    batches, chunks = manifest["frame_batches"], manifest["audio_chunks"]
    frames, seconds = manifest["frames_sampled"], float(manifest["media"]["duration_s"])
    parts = []
    for k in range(minutes):
        for part in minute["parts"]:
            copy = dict(part)
            copy["data"] = shifted(part["data"], seconds * k)
            copy["video_id"] = manifest["video_id"]
            if part["source"] == "frames":
                copy["index"] = part["index"] + batches * k
                for row in copy["data"].get("frames", []):
                    row["index"] += frames * k
            else:
                copy["index"] = part["index"] + chunks * k
            parts.append(json.dumps(copy))
    manifest.update(
        frame_batches=batches * minutes,
        audio_chunks=chunks * minutes,
        frames_sampled=frames * minutes,
        media={**manifest["media"], "duration_s": seconds * minutes},
    )
    return json.dumps(manifest), parts


MEASURE = r"""
import json, sys, time
from video_analysis import claim_check
from video_analysis.settings import get_settings
from video_analysis.assemble import build_result
from video_analysis.schemas import PartialResult, SplitManifest
from video_analysis.streams.tables import packed, unpacked

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) // 1024

class Table:
    # The parts as the join's table holds them (compressed JSON), each kept as it arrives and
    # read back one analyzer's at a time.
    def __init__(self, texts):
        self.rows, self.text_bytes = [], 0
        for text in texts:
            self.text_bytes += len(text)
            self.rows.append((json.loads(text)["analyzer"], packed(text)))
    def analyzers(self):
        return {name for name, _ in self.rows}
    def of(self, analyzer):
        for name, value in self.rows:
            if name == analyzer:
                yield PartialResult.model_validate_json(unpacked(value))

before = status("VmRSS:")
# The manifest's line, then a part per line.
with open(sys.argv[1]) as lines:
    manifest = SplitManifest.model_validate_json(next(lines))
    table = Table(line.rstrip("\n") for line in lines)
held = status("VmRSS:")
started = time.perf_counter()
result = build_result(manifest, table, settings=get_settings())
body = claim_check.body_of(result)
open(sys.argv[2], "wb").write(body)
# What the join publishes: the first form that fits a message (a claim check at these lengths).
ref = claim_check.reference(result, body, object_uri=None)
message = next(claim_check.fitting(claim_check.forms(result, body, ref), 900_000))
print(json.dumps({"seconds": time.perf_counter() - started, "before": before, "held": held,
                  "peak": status("VmHWM:"), "kib": len(body) // 1024, "form": message.form,
                  "message_kib": len(message.value) // 1024, "parts": len(table.rows),
                  "text_mib": table.text_bytes / 2**20,
                  "held_mib": sum(len(v) for _, v in table.rows) / 2**20}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, nargs="*", default=[30, 60])
    parser.add_argument("--parts", type=Path, default=ROOT / "var/bench/join-build-minute.json")
    args = parser.parse_args()
    minute = captured_minute(args.parts)
    print(
        f"{'minutes':>7} {'parts':>6} {'text MiB':>8} {'held MiB':>8} {'build s':>7} "
        f"{'RSS before':>10} {'with parts':>10} {'peak':>6} {'+peak':>6} {'result KiB':>10} "
        f"{'published':>15}"
    )
    for minutes in args.minutes:
        manifest, parts = tiled(minute, minutes)
        lines = args.parts.with_name(f"join-build-{minutes}.jsonl")
        lines.write_text("\n".join([manifest, *parts]) + "\n")
        del parts
        run = subprocess.run(
            [sys.executable, "-c", MEASURE, str(lines), str(lines.with_suffix(".result.json"))],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        )
        row = json.loads(run.stdout.strip().splitlines()[-1])
        print(
            f"{minutes:7d} {row['parts']:6d} {row['text_mib']:8.1f} {row['held_mib']:8.1f} "
            f"{row['seconds']:7.1f} "
            f"{row['before']:10d} {row['held']:10d} {row['peak']:6d} "
            f"{row['peak'] - row['before']:6d} "
            f"{row['kib']:10d} {row['form']:>8} {row['message_kib']:4d} KiB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
