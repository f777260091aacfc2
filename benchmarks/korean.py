"""Spontaneous Korean through the speech analyzer: character error rate on the real utterances.

    .venv/bin/python benchmarks/korean.py [--hint]

The ten spontaneous utterances of ``../shared/data/korean`` (KsponSpeech samples, 1-6 s each,
with their transcripts; internal evaluation only, never copied into the repo) are analysed:

- one by one, each as its own short answer (the speech analyzer's chunk path and the join's
  summary, as the service runs a one-chunk video), with no language given (``--hint``: with
  ``metadata.language = ko``, as an upload can say);
- joined into one recording with 0.5 s of silence between them, as a longer answer.

Per utterance it prints its length, the language read, the character error rate (Levenshtein
distance over characters, spaces and punctuation left out, over the reference's length; a
number in digits read the Sino-Korean way) and the transcript beside the truth; then the CER
over all of them (total distance over total reference length) one by one, and of the joined
recording with its transcript.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.real_data import KOREAN, character_distance, korean_audio, korean_transcripts  # noqa: E402
from video_analysis.analyzers.base import DecodedAudio, SummaryInput  # noqa: E402
from video_analysis.analyzers.speech import SpeechAnalyzer  # noqa: E402
from video_analysis.schemas import MediaInfo, SpeechSection, SplitManifest  # noqa: E402
from video_analysis.settings import Settings  # noqa: E402

SAMPLE_RATE = 16_000
GAP_S = 0.5


def transcribe(
    analyzer: SpeechAnalyzer, settings: Settings, name: str, x: np.ndarray, language: str | None
) -> tuple[str, str | None]:
    """The transcript and language the service gives a one-chunk video of ``x``."""
    duration = x.size / SAMPLE_RATE
    part = analyzer.analyze_audio(
        DecodedAudio(name, 0, 0.0, duration, SAMPLE_RATE, x, language=language)
    )
    manifest = SplitManifest(video_id=name, media=MediaInfo(duration_s=duration))
    speech = SpeechAnalyzer.summarize(
        SummaryInput(manifest=manifest, settings=settings, audio=[part])
    )["speech"]
    assert isinstance(speech, SpeechSection)
    text = " ".join(segment.text for segment in speech.segments).strip()
    return text, speech.language


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hint", action="store_true", help="metadata.language = ko")
    args = parser.parse_args()
    truths = korean_transcripts()
    if not truths:
        print(f"no Korean utterances in {KOREAN}; see ../shared/data/README.md")
        return 1
    settings = Settings()
    analyzer = SpeechAnalyzer(settings)
    analyzer.load()
    language = "ko" if args.hint else None
    errors = reference = 0
    print(f"one by one ({'metadata.language=ko' if args.hint else 'no language given'}):")
    print(f"{'utterance':18} {'s':>4} {'lang':>4} {'CER':>5}  transcript | truth")
    started = time.perf_counter()
    clips = []
    for name, truth in truths.items():
        x = korean_audio(name)
        clips.append(x)
        text, spoken = transcribe(analyzer, settings, name, x, language)
        distance, length = character_distance(truth, text)
        errors += distance
        reference += length
        print(
            f"{name:18} {x.size / SAMPLE_RATE:4.1f} {spoken or '-':>4} "
            f"{distance / max(1, length):5.2f}  {text} | {truth}"
        )
    print(
        f"all {len(truths)} one by one: CER {errors / max(1, reference):.3f} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    gap = np.zeros(int(GAP_S * SAMPLE_RATE), dtype=np.float32)
    joined = np.concatenate([piece for x in clips for piece in (x, gap)])
    text, spoken = transcribe(analyzer, settings, "joined", joined, language)
    distance, length = character_distance(" ".join(truths.values()), text)
    print(f"joined ({joined.size / SAMPLE_RATE:.1f} s, {spoken}): CER {distance / length:.3f}")
    print(f"  {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
