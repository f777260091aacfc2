"""The join and the API at length, in the warm service: peak RSS for 30 and 60 minutes' parts.

    .venv/bin/python benchmarks/join_service.py [--minutes 30 60] [--parts FILE]

``benchmarks/interview.py --then 60`` measures every role on a real interview, but an hour of
video takes the analyzers a quarter of an hour on this machine. The join and the API only
ever see the analyzers' parts and the result, so this sends them those directly: the parts of
a real, speech-dense minute (``benchmarks/join_build.py`` captures them), repeated with their
times shifted into an N-minute video's (as many frame rows, words, speaker windows and pitch
tracks as the real interview of that length has), published on ``analyzer-results`` with
their manifest on ``video-manifests``, as the splitter and the analyzers publish them, to a
warm `video-analysis dev` (as `make run` starts it). The service joins them, stores and
announces the result; then the result and the report page are fetched over HTTP.

A 1-minute video warms the processes first; before each length every process's peak RSS is
reset (``clear_refs``), so the lengths compare in the same processes. Prints, per length:
the time from the last part sent to the final state, the join's and the API's peak RSS,
the result and report sizes. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from join_build import captured_minute, tiled  # noqa: E402
from measure import DevService, PeakMemory  # noqa: E402

from video_analysis.settings import Settings  # noqa: E402
from video_analysis.streams.topics import ANALYZER_RESULTS, VIDEO_MANIFESTS  # noqa: E402

WATCHED = ("join", "api")


async def publish(
    bootstrap: str, video_id: str, manifest: str, parts: list[str], rate: float
) -> None:
    """The manifest, then every part, keyed by the video as the workers key them, ``rate``
    parts a second (the analyzers' parts come over the video's analysis, not at once: sent
    all at once, they wait in the join's stream buffer, which a real video's never do)."""
    from aiokafka import AIOKafkaProducer

    settings = Settings()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, max_request_size=4 * 2**20, linger_ms=5
    )
    await producer.start()
    try:
        key = video_id.encode()
        await producer.send_and_wait(settings.topic(VIDEO_MANIFESTS), manifest.encode(), key=key)
        started = time.monotonic()
        for k, text in enumerate(parts):
            await producer.send(settings.topic(ANALYZER_RESULTS), text.encode(), key=key)
            if (ahead := started + k / rate - time.monotonic()) > 0:
                await producer.flush()
                await asyncio.sleep(ahead)
        await producer.flush()
    finally:
        await producer.stop()


def one_video(
    dev: DevService, memory: PeakMemory, minute: dict[str, Any], minutes: int, rate: float
) -> dict[str, Any]:
    assert dev.http is not None
    video_id = f"join-{minutes}m-{uuid.uuid4().hex[:8]}"
    manifest, parts = tiled(minute, minutes, video_id)
    memory.reset_peaks()
    started = time.monotonic()
    asyncio.run(publish(dev.bootstrap, video_id, manifest, parts, rate))
    sent = time.monotonic()
    count = len(parts)
    del parts
    status = dev.wait(video_id, timeout_s=1800.0, every_s=1.0)
    final = time.monotonic()
    result = dev.http.get(f"/videos/{video_id}/result")
    report = dev.http.get(f"/videos/{video_id}/report", timeout=600)
    memory.sample()
    log = dev.log_path.read_text(errors="replace")
    return {
        "minutes": minutes,
        "parts": count,
        "state": status["state"],
        "send_s": sent - started,
        "final_s": final - sent,
        "result_kib": len(result.content) // 1024,
        "report_kib": len(report.content) // 1024,
        "report_status": report.status_code,
        # Once unless the join built the result again (it must not).
        "final_results": log.count(f"final result video_id={video_id} "),
        "errors": [line for line in log.splitlines() if "Traceback" in line or "ERROR" in line][:5],
        "peak_mib": {name: memory.peak_mib.get(name, float("nan")) for name in WATCHED},
        "now_mib": {name: memory.now_mib.get(name, float("nan")) for name in WATCHED},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, nargs="*", default=[30, 60])
    parser.add_argument("--warm", type=int, default=1, help="minutes of the warm-up video")
    parser.add_argument(
        "--rate", type=float, default=40.0, help="parts sent a second (an hour has 2520)"
    )
    parser.add_argument("--parts", type=Path, default=ROOT / "var/bench/join-build-minute.json")
    args = parser.parse_args()
    minute = captured_minute(args.parts)
    rows = []
    with tempfile.TemporaryDirectory(prefix="join-service-") as work, DevService(Path(work)) as dev:
        assert dev.process is not None
        memory = PeakMemory(dev.process.pid).start()
        try:
            one_video(dev, memory, minute, args.warm, args.rate)
            for minutes in args.minutes:
                row = one_video(dev, memory, minute, minutes, args.rate)
                rows.append(row)
                print(json.dumps(row), flush=True)
        finally:
            memory.stop()
    print(
        f"\n{'minutes':>7} {'parts':>6} {'state':>9} {'final s':>7} {'result KiB':>10} "
        f"{'report KiB':>10} {'join peak':>9} {'api peak':>8}"
    )
    for row in rows:
        print(
            f"{row['minutes']:7d} {row['parts']:6d} {row['state']:>9} {row['final_s']:7.1f} "
            f"{row['result_kib']:10d} {row['report_kib']:10d} "
            f"{row['peak_mib']['join']:9.0f} {row['peak_mib']['api']:8.0f}"
        )
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        for name in WATCHED:
            a, b = first["peak_mib"][name], last["peak_mib"][name]
            print(
                f"{name}: {first['minutes']} -> {last['minutes']} min {a:.0f} -> {b:.0f} MiB "
                f"({(b - a) / a:+.1%})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
