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
some speaker, with ``found`` that part. Several --min-similarity values compare thresholds.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

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
        print(f"{'file':6} {'true':>4} {'found':>5} {'right':>6} {'right|found':>11} {'found':>6}")
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
            print(
                f"{wav.stem:6} {len(truth.speakers):4d} {count:5d} {result.right:6.2f} "
                f"{result.right_of_found:11.2f} {result.found:6.2f}"
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {peak:.0f} MiB")
    return 0


def speaker_mod_probabilities(analyzer: SpeechAnalyzer, x: np.ndarray) -> np.ndarray:
    from video_analysis.analyzers.speech import activity

    return activity.silero_probabilities(analyzer._vad_model, x)  # noqa: SLF001


if __name__ == "__main__":
    raise SystemExit(main())
