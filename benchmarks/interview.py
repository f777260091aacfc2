"""A whole two-person interview through the warm service (`dev`) and through cold `analyze`.

    .venv/bin/python benchmarks/interview.py [--minutes 30] [--then MINUTES] [--pair mf|ff]
                                             [--skip-dev] [--skip-analyze] [--json OUT]
                                             [--keep DIR] [--set VA_NAME=VALUE]

The interview is built from the real recordings of ``../shared/data`` by
``benchmarks/interview_media.py`` (AMI voices taking turns, GRID faces, 1280x720 25 fps
H.264 + AAC; built once, then reused from ``var/bench/interview/``), with its questions in the
upload's ``metadata`` and its truth (who speaks when) beside it.

Warm service: `video-analysis dev` (embedded broker, one process per worker role, the API; as
`make run` runs it), first a 1-minute interview to warm it, then the interview over HTTP.
Prints the latency (upload start to final state) and real-time factor, the work per stage
(the result's ``timings`` and the workers' Prometheus metrics), peak RSS per process, the
result's and the report page's sizes, what ``analysis-results`` carried for the video (the
result inline, a claim check with ``result_ref``, or nothing) and errors in dev's log.
Cold `analyze`: a fresh process on the same file; wall time, real-time factor, peak RSS.
Both: speakers against the truth (share of single-speaker time, and of word time, given to the
right speaker after the best mapping of labels). ``--then 60`` sends a 60-minute interview
through the same warm service afterwards and prints each process's peak RSS at both lengths,
measured in the same processes. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from interview_media import PAIRS, Interview, build_interview  # noqa: E402
from measure import (  # noqa: E402
    DevService,
    PeakMemory,
    _own_env,
    cold_env,
    cold_run,
    stage_work,
    work_between,
)

from tests.real_data import SCORE_STEP_S, Truth, score_turns, turn_labels  # noqa: E402

KIB = 1024
MIB = 1024 * 1024


def word_score(truth: Truth, segments: list[dict[str, Any]]) -> tuple[float, int]:
    """Share of word time, over words whose midpoint falls where exactly one person speaks,
    given to the right speaker after the best one-to-one mapping of labels; and how many
    words that is. A word without a speaker counts as wrong."""
    from scipy.optimize import linear_sum_assignment

    single = truth.active.sum(axis=0) == 1
    labels: dict[str, int] = {}
    rows: list[tuple[int, int, float]] = []  # true speaker, found label, seconds
    total = 0.0
    for segment in segments:
        for word in segment.get("words") or []:
            frame = int(round((word["start"] + word["end"]) / 2 / SCORE_STEP_S))
            if frame >= single.size or not single[frame]:
                continue
            seconds = max(0.0, word["end"] - word["start"])
            total += seconds
            who = word.get("speaker") or segment.get("speaker")
            if who:
                found = labels.setdefault(who, len(labels))
                rows.append((int(np.argmax(truth.active[:, frame])), found, seconds))
    if not total or not labels:
        return 0.0, len(rows)
    overlap = np.zeros((len(truth.speakers), len(labels)))
    for true, found, seconds in rows:
        overlap[true, found] += seconds
    r, c = linear_sum_assignment(-overlap)
    return float(overlap[r, c].sum() / total), len(rows)


def judge(interview: Interview, result: dict[str, Any]) -> dict[str, Any]:
    """The result against what is true about the interview."""
    truth = interview.truth()
    speech = result.get("speech") or {}
    turns = speech.get("turns") or []
    score = score_turns(truth, turns)
    words_right, words = word_score(truth, speech.get("segments") or [])
    talk = {who: 0.0 for who in truth.speakers}
    for turn in interview.turns:
        talk[turn["speaker"]] += turn["end"] - turn["start"]
    structure = result.get("structure") or {}
    # Seconds of each true speaker's single-speaker time given to each found label.
    labels = turn_labels(turns, truth.active.shape[1])
    single = truth.active.sum(axis=0) == 1
    confusion = {
        str(found): {
            who: round(float((single & truth.active[k] & (labels == found)).sum() * SCORE_STEP_S))
            for k, who in enumerate(truth.speakers)
        }
        for found in sorted({t["speaker"] for t in turns})
    }
    return {
        "speakers_found": len({t["speaker"] for t in turns}),
        "speakers_true": len(truth.speakers),
        "turn_time_right": round(score.right, 3),
        "turn_time_found": round(score.found, 3),
        "word_time_right": round(words_right, 3),
        "words_scored": words,
        "talk_ratio": structure.get("talk_ratio"),
        "talk_ratio_true": round(talk["candidate"] / sum(talk.values()), 3),
        "questions_found": len(structure.get("questions") or []),
        "questions_true": len(interview.questions),
        "words": sum(len(s.get("words") or []) for s in speech.get("segments") or []),
        "confusion_s": confusion,
    }


def section_sizes(result: dict[str, Any]) -> dict[str, int]:
    """Bytes of each top-level section in compact JSON, largest first."""
    sizes = {
        key: len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        for key, value in result.items()
    }
    return dict(sorted(sizes.items(), key=lambda kv: -kv[1]))


def kafka_message(bootstrap: str, video_id: str, wait_s: float = 60.0) -> dict[str, Any]:
    """What ``analysis-results`` carries for the video: inline, claim check, or nothing."""
    from tests.stack import read_all

    topic = "analysis-results"  # dev's topics have no prefix
    deadline = time.monotonic() + wait_s
    while True:
        try:
            found = [v for k, v in asyncio.run(read_all(bootstrap, topic)) if k == video_id]
        except Exception as exc:  # noqa: BLE001 - reported, not raised: the rest still counts
            return {"form": "unreadable", "error": f"{type(exc).__name__}: {exc}"[:500]}
        if found and found[-1] is not None:
            value = found[-1]
            size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
            if value.get("result_ref"):
                return {"form": "claim_check", "bytes": size, "result_ref": value["result_ref"]}
            return {"form": "inline", "bytes": size, "status": value.get("status")}
        if time.monotonic() > deadline:
            return {"form": "none", "messages_for_video": len(found)}
        time.sleep(5)


def log_problems(text: str, limit: int = 8) -> list[str]:
    """Distinct lines of dev's log that say something went wrong."""
    marks = ("ERROR", "Traceback", "Error:", "exited (", "CRITICAL")
    seen: list[str] = []
    for line in text.splitlines():
        if any(m in line for m in marks):
            short = line.strip()[:300]
            if short not in seen:
                seen.append(short)
    return seen[:limit] + ([f"... {len(seen) - limit} more"] if len(seen) > limit else [])


def run_dev(
    interviews: list[Interview], warm: Interview, work: Path, settings: dict[str, str]
) -> list[dict[str, Any]]:
    """The interviews one after the other through one warm service: the figures of each. Each
    process's peak RSS starts again from its RSS of the moment before each interview after the
    first, so that the peaks of two lengths compare in the same processes (two services
    started apart differed by 40-50 MiB per process after the same warm-up)."""
    runs: list[dict[str, Any]] = []
    with DevService(work / "dev", env={**_own_env(), **settings}) as dev:
        assert dev.process is not None
        memory = PeakMemory(dev.process.pid).start()
        try:
            started = time.monotonic()
            warm_id = dev.upload(warm.video, warm.metadata)
            warm_status = dev.wait(warm_id, timeout_s=900)
            warm_figures = {
                "warmup_s": time.monotonic() - started,
                "warmup_state": warm_status["state"],
            }
            print(f"warm-up done in {warm_figures['warmup_s']:.1f} s", flush=True)
            for k, interview in enumerate(interviews):
                if k:
                    memory.reset_peaks()
                figures = {**warm_figures, "rss_after_warmup_mib": dict(memory.peak_mib)}
                print(f"uploading the {interview.duration_s / 60:g}-minute interview ...")
                runs.append(figures | _one_interview(dev, memory, interview, work / f"dev-{k}"))
        finally:
            memory.stop()
    problems = log_problems(dev.log_path.read_text(errors="replace"))
    for figures in runs:
        figures["log_problems"] = problems
        figures["log"] = str(dev.log_path)
    return runs


def _one_interview(
    dev: DevService, memory: PeakMemory, interview: Interview, work: Path
) -> dict[str, Any]:
    assert dev.http is not None
    work.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {}
    before = stage_work(dev.metrics_ports)
    cpu_before = memory.cpu_s()
    started = time.monotonic()
    video_id = dev.upload(interview.video, interview.metadata)
    figures["upload_s"] = time.monotonic() - started
    status = dev.wait(video_id, timeout_s=max(1800.0, 3 * interview.duration_s))
    figures["latency_s"] = time.monotonic() - started
    figures["state"] = status["state"]
    figures["error"] = status.get("error")
    figures["stage_work"] = work_between(before, stage_work(dev.metrics_ports))
    memory.sample()
    figures["cpu_s"] = {
        name: round(seconds - cpu_before.get(name, 0.0), 1)
        for name, seconds in sorted(memory.cpu_s().items())
    }
    deadline = time.monotonic() + 120
    while (answer := dev.http.get(f"/videos/{video_id}/result")).status_code == 202:
        if time.monotonic() > deadline:
            break
        time.sleep(2)
    figures["result_http_status"] = answer.status_code
    (work / "dev-result.json").write_bytes(answer.content)
    result = answer.json()
    figures["result_bytes"] = len(answer.content)
    figures["result_compact_bytes"] = len(
        json.dumps(result, separators=(",", ":"), ensure_ascii=False).encode()
    )
    figures["sections_bytes"] = section_sizes(result)
    figures["timings"] = result.get("timings", {})
    rendered = time.monotonic()
    report = dev.http.get(f"/videos/{video_id}/report", timeout=600)
    figures["report_s"] = time.monotonic() - rendered
    figures["report_http_status"] = report.status_code
    figures["report_bytes"] = len(report.content)
    (work / "dev-report.html").write_bytes(report.content)
    figures["kafka"] = kafka_message(dev.bootstrap, video_id)
    figures["truth"] = judge(interview, result)
    memory.sample()
    figures["peak_rss_mib"] = dict(sorted(memory.peak_mib.items()))
    figures["restarts"] = dict(memory.restarts)
    return figures


def run_analyze(interview: Interview, work: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "video_analysis", "analyze", str(interview.video)]
    cmd += ["--metadata", json.dumps(interview.metadata)]
    done = cold_run(cmd, cold_env(work / "analyze"))
    (work / "analyze-result.json").write_text(done.stdout)
    result = json.loads(done.stdout)
    return {
        "wall_s": done.wall_s,
        "peak_rss_mib": done.peak_rss_mib,
        "state": result.get("status"),
        "result_compact_bytes": len(
            json.dumps(result, separators=(",", ":"), ensure_ascii=False).encode()
        ),
        "timings": result.get("timings", {}),
        "truth": judge(interview, result),
    }


def show(interview: Interview, figures: dict[str, Any]) -> None:
    d = interview.duration_s
    print()
    print(
        f"interview: {d / 60:g} min, 1280x720 25 fps H.264+AAC, "
        f"{interview.video.stat().st_size / MIB:.0f} MiB, {len(interview.turns)} turns, "
        f"{len(interview.questions)} questions; machine: {os.cpu_count()} cores"
    )
    dev = figures.get("dev")
    if dev:
        print("\nwarm service (dev, upload over HTTP)")
        print(f"  warm-up (1-minute interview)   {dev['warmup_s']:8.1f} s  {dev['warmup_state']}")
        print(f"  upload                         {dev['upload_s']:8.1f} s")
        print(
            f"  latency (upload to final)      {dev['latency_s']:8.1f} s  "
            f"({dev['latency_s'] / d:.3f}x real time)  {dev['state']}"
            + (f"  error {dev['error']}" if dev.get("error") else "")
        )
        print("  work per stage, worker metrics (items, seconds, x real time):")
        for key, (count, seconds) in dev["stage_work"].items():
            print(f"    {key:<28} {count:6d} {seconds:9.1f} s  {seconds / d:6.3f}x")
        print("  result timings: " + _timings(dev["timings"]))
        cpu = dev.get("cpu_s", {})
        print(
            f"  CPU seconds per process ({sum(cpu.values()):.0f} s in all, "
            f"{sum(cpu.values()) / dev['latency_s']:.2f} cores busy on average): "
            + ", ".join(f"{name} {seconds:.0f}" for name, seconds in cpu.items())
        )
        print("  peak RSS (MiB, before this interview -> peak):")
        after = dev["rss_after_warmup_mib"]
        for name, mib in dev["peak_rss_mib"].items():
            restarts = dev["restarts"].get(name, 0)
            print(
                f"    {name:<10} {after.get(name, float('nan')):7.0f} -> {mib:7.0f}"
                + (f"  ({restarts} restarts)" if restarts else "")
            )
        print(
            f"  result (GET /result {dev['result_http_status']}): {dev['result_bytes'] / KIB:.0f} "
            f"KiB served, {dev['result_compact_bytes'] / KIB:.0f} KiB compact; largest: "
            + ", ".join(f"{k} {v / KIB:.0f}" for k, v in list(dev["sections_bytes"].items())[:5])
        )
        print(
            f"  report (GET /report {dev['report_http_status']}): "
            f"{dev['report_bytes'] / KIB:.0f} KiB in {dev['report_s']:.1f} s"
        )
        kafka = dev["kafka"]
        if kafka["form"] == "claim_check":
            said = f"claim check, {kafka['bytes'] / KIB:.1f} KiB, result_ref {kafka['result_ref']}"
        elif kafka["form"] == "inline":
            said = f"result inline, {kafka['bytes'] / KIB:.0f} KiB, status {kafka['status']}"
        else:
            said = json.dumps(kafka)
        print(f"  analysis-results: {said}")
        print("  speakers: " + _truth(dev["truth"]))
        problems = dev["log_problems"]
        print(f"  dev log ({dev['log']}): " + ("no errors" if not problems else ""))
        for line in problems:
            print(f"    {line}")
    cold = figures.get("analyze")
    if cold:
        print("\ncold analyze (one process, no broker)")
        print(
            f"  wall {cold['wall_s']:8.1f} s  ({cold['wall_s'] / d:.3f}x real time)  "
            f"peak RSS {cold['peak_rss_mib']:.0f} MiB  {cold['state']}; "
            f"result {cold['result_compact_bytes'] / KIB:.0f} KiB compact"
        )
        print("  result timings: " + _timings(cold["timings"]))
        print("  speakers: " + _truth(cold["truth"]))


def compare_peaks(minutes: float, first: dict[str, Any], then: list[dict[str, Any]]) -> None:
    """Each process's peak RSS at each length, in the same warm service."""
    lengths = [minutes, *(t["minutes"] for t in then)]
    peaks = [first["peak_rss_mib"], *(t["dev"]["peak_rss_mib"] for t in then)]
    print("\npeak RSS per process, the same warm service (MiB; change from the first length):")
    print("  " + f"{'':<10}" + "".join(f"{m:>10g} min" for m in lengths))
    for name in peaks[0]:
        cells = [f"{peaks[0][name]:14.0f}"]
        for peak in peaks[1:]:
            mib = peak.get(name, float("nan"))
            cells.append(f"{mib:7.0f} ({(mib / peaks[0][name] - 1) * 100:+4.0f}%)")
        print(f"  {name:<10}" + "".join(cells))


def _timings(timings: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in timings.items()) or "none"


def _truth(t: dict[str, Any]) -> str:
    given = "; ".join(
        f"{label}: " + ", ".join(f"{who} {s} s" for who, s in row.items())
        for label, row in t["confusion_s"].items()
    )
    return (
        f"found {t['speakers_found']} of {t['speakers_true']}; single-speaker time right "
        f"{t['turn_time_right']:.2f} (given to someone {t['turn_time_found']:.2f}); word time "
        f"right {t['word_time_right']:.2f} ({t['words_scored']} of {t['words']} words); "
        f"talk ratio {t['talk_ratio']} (true {t['talk_ratio_true']}); "
        f"questions {t['questions_found']} of {t['questions_true']}\n"
        f"  true time each label got: {given}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--pair", choices=sorted(PAIRS), default="mf", help="interviewer+candidate")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument(
        "--then",
        type=float,
        action="append",
        default=[],
        metavar="MINUTES",
        help="then an interview of MINUTES through the same warm service, each process's "
        "peak RSS measured again from there (e.g. --minutes 30 --then 60); repeatable",
    )
    parser.add_argument("--skip-dev", action="store_true", help="no warm-service run")
    parser.add_argument("--skip-analyze", action="store_true", help="no cold analyze run")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--keep", type=Path, default=None, help="work folder: logs, results, report (default: temp)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="VA_NAME=VALUE",
        help="a setting of the warm service (e.g. VA_ANALYSIS_PREFETCH=16); repeatable",
    )
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="va-interview-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    interview = build_interview(args.minutes, pair=args.pair, seed=args.seed)
    warm = build_interview(1.0, pair=args.pair, seed=args.seed)
    built_s = time.perf_counter() - started
    print(f"interview: {interview.video} (ready in {built_s:.1f} s)", flush=True)
    figures: dict[str, Any] = {
        "minutes": args.minutes,
        "pair": args.pair,
        "seed": args.seed,
        "video": str(interview.video),
        "cores": os.cpu_count(),
    }
    later = [
        build_interview(minutes, pair=args.pair, seed=args.seed)
        for minutes in ([] if args.skip_dev else args.then)  # --then is of the warm service
    ]
    try:
        if not args.skip_dev:
            settings = dict(pair.split("=", 1) for pair in args.set)
            runs = run_dev([interview, *later], warm, work, settings)
            figures["dev"] = runs[0]
            figures["then"] = [
                {"minutes": minutes, "video": str(one.video), "dev": run}
                for minutes, one, run in zip(args.then, later, runs[1:], strict=True)
            ]
        if not args.skip_analyze:
            print("cold analyze ...", flush=True)
            figures["analyze"] = run_analyze(interview, work)
    finally:
        if args.json is not None:
            args.json.write_text(json.dumps(figures, indent=1, default=str))
    show(interview, figures)
    for one, then in zip(later, figures.get("then", []), strict=False):
        show(one, {"dev": then["dev"]})
    if figures.get("then"):
        compare_peaks(args.minutes, figures["dev"], figures["then"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
