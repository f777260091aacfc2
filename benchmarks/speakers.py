"""Who speaks when on real meetings: the speech analyzer on the AMI excerpts of ../shared/data.

    .venv/bin/python benchmarks/speakers.py [--min-similarity 0.35 ...] [--full]

Each 30 s excerpt (16 kHz, room microphones, real people; README in the data folder) goes
through the speech analyzer's per-chunk speaker path (speech regions, CAM++ windows) and the
join's clustering, as the service runs them; ``--full`` runs the whole analyze_audio +
summarize instead (Whisper included) and scores the result's ``speech.turns``.

Per excerpt it prints the true and found speaker count and, over the time where exactly one
person speaks in the RTTM truth, with the best one-to-one mapping of found to true speakers:
``right`` = share of that time given to the right speaker (time where nothing was found counts
as wrong) and ``right|found`` = the same share over the part of that time the analyzer gave to
some speaker, with ``found`` that part. Beside them the field's scores from
``pyannote.metrics`` over the whole excerpt, overlaps included and no collar (as pyannote 3.1's
published AMI figure, DER 18.8%, is computed): the diarization error rate and its parts (missed
speech, false alarm, speaker confusion, each a share of the true speech) and the Jaccard error
rate. Several --min-similarity values compare thresholds. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.real_data import AMI, ami_audio, ami_truth, score_turns  # noqa: E402
from video_analysis.analyzers.base import DecodedAudio, SummaryInput  # noqa: E402
from video_analysis.analyzers.speech import SpeechAnalyzer  # noqa: E402
from video_analysis.analyzers.speech import speakers as speaker_mod  # noqa: E402
from video_analysis.analyzers.speech.analyzer import HeardSpeech  # noqa: E402
from video_analysis.schemas import MediaInfo, SpeechSection, SplitManifest  # noqa: E402
from video_analysis.schemas.parts import SpeechPart  # noqa: E402
from video_analysis.settings import Settings  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-similarity", type=float, nargs="*", default=None)
    parser.add_argument("--full", action="store_true", help="whole analyzer, Whisper included")
    args = parser.parse_args()
    if not (AMI / "train.rttm").is_file():
        print(f"no AMI excerpts in {AMI}; see ../shared/data/README.md")
        return 1
    settings = Settings()
    thresholds = args.min_similarity or [settings.speech_speaker_min_similarity]
    analyzer = SpeechAnalyzer(settings)
    started = time.perf_counter()
    analyzer.load()
    print(f"load {time.perf_counter() - started:.1f} s")
    wavs = sorted(AMI.glob("*.wav"))
    truths = ami_truth()
    reference = rttm_segments(AMI / "train.rttm")
    parts: dict[str, SpeechPart | HeardSpeech] = {}
    seconds = 0.0
    audio_s = 0.0
    for wav in wavs:
        x = ami_audio(wav.stem)
        chunk = DecodedAudio(wav.stem, 0, 0.0, x.size / 16_000, 16_000, x)
        started = time.perf_counter()
        if args.full:
            parts[wav.stem] = analyzer.analyze_audio(chunk)
        else:
            probabilities = speaker_mod_probabilities(analyzer, x)
            parts[wav.stem] = analyzer._speaker_windows(x, 0.0, probabilities)  # noqa: SLF001
        seconds += time.perf_counter() - started
        audio_s += x.size / 16_000
    what = "analyze_audio" if args.full else "speaker path (regions + CAM++ windows)"
    print(f"{what}: {1000 * seconds / audio_s:.1f} ms per second of audio")
    for threshold in thresholds:
        print(f"\nmin_similarity {threshold}")
        print(
            f"{'file':6} {'true':>4} {'found':>5} {'right':>6} {'right|found':>11} {'found':>6}"
            f" {'DER':>6} {'missed':>6} {'false':>6} {'conf.':>6} {'JER':>6}"
        )
        totals: dict[str, float] = {}
        for wav in wavs:
            truth = truths.get(wav.stem)
            if truth is None:
                continue
            data = parts[wav.stem]
            local = settings.model_copy(update={"speech_speaker_min_similarity": threshold})
            if args.full:
                manifest = SplitManifest(video_id=wav.stem, media=MediaInfo(duration_s=30.0))
                assert isinstance(data, SpeechPart)
                speech = SpeechAnalyzer.summarize(
                    SummaryInput(manifest=manifest, settings=local, audio=[data])
                )["speech"]
                assert isinstance(speech, SpeechSection)
                turns = [t.model_dump() for t in speech.turns]
            else:
                windows = [speaker_mod.SpeakerWindow.from_row(w) for w in data.speaker_windows]
                found = speaker_mod.diarize(
                    windows,
                    data.speech_regions,
                    min_similarity=threshold,
                    max_speakers=local.speech_max_speakers,
                )
                turns = [{"start": t.start, "end": t.end, "speaker": t.speaker} for t in found]
            result = score_turns(truth, turns)
            count = len({t["speaker"] for t in turns})
            field = field_scores(reference[wav.stem], turns, totals)
            print(
                f"{wav.stem:6} {len(truth.speakers):4d} {count:5d} {result.right:6.2f} "
                f"{result.right_of_found:11.2f} {result.found:6.2f} {field}"
            )
        total = totals.get("total", 0.0)
        if total:
            der = (totals["missed"] + totals["false"] + totals["confusion"]) / total
            print(
                f"all {total:.1f} s of speech: DER {der:.1%} (missed {totals['missed'] / total:.1%}"
                f", false alarm {totals['false'] / total:.1%}, confusion "
                f"{totals['confusion'] / total:.1%}); pyannote 3.1 on AMI (its published "
                "benchmark): DER 18.8%"
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {peak:.0f} MiB")
    return 0


def rttm_segments(path: Path) -> dict[str, list[tuple[float, float, str]]]:
    """Each file's (start, end, speaker) rows of an RTTM file."""
    rows: dict[str, list[tuple[float, float, str]]] = {}
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[0] == "SPEAKER":
            start, length = float(fields[3]), float(fields[4])
            rows.setdefault(fields[1], []).append((start, start + length, fields[7]))
    return rows


def field_scores(
    truth: list[tuple[float, float, str]],
    turns: list[dict[str, Any]],
    totals: dict[str, float],
    duration_s: float = 30.0,
) -> str:
    """DER (and its parts) and JER of ``turns`` against ``truth`` over the excerpt's
    ``duration_s`` with ``pyannote.metrics``, overlaps scored and no collar; adds the seconds of
    each part to ``totals``."""
    from pyannote.core import Annotation, Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate, JaccardErrorRate

    reference, hypothesis = Annotation(), Annotation()
    for k, (start, end, who) in enumerate(truth):
        reference[Segment(start, end), k] = who
    for k, turn in enumerate(turns):
        hypothesis[Segment(turn["start"], turn["end"]), k] = turn["speaker"]
    uem = Timeline([Segment(0.0, duration_s)])
    parts = DiarizationErrorRate(collar=0.0, skip_overlap=False)(
        reference, hypothesis, uem=uem, detailed=True
    )
    jer = JaccardErrorRate()(reference, hypothesis, uem=uem)
    total = parts["total"]
    for key, name in (
        ("total", "total"),
        ("missed detection", "missed"),
        ("false alarm", "false"),
        ("confusion", "confusion"),
    ):
        totals[name] = totals.get(name, 0.0) + parts[key]

    def share(key: str) -> str:
        return f"{parts[key] / total:6.1%}" if total else f"{'-':>6}"

    return (
        f"{parts['diarization error rate']:6.1%} {share('missed detection')} "
        f"{share('false alarm')} {share('confusion')} {jer:6.1%}"
    )


def speaker_mod_probabilities(analyzer: SpeechAnalyzer, x: np.ndarray) -> np.ndarray:
    from video_analysis.analyzers.speech import activity

    return activity.silero_probabilities(analyzer._vad_model, x)  # noqa: SLF001


if __name__ == "__main__":
    raise SystemExit(main())
