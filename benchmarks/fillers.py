"""Filled pauses on real speech: found at their time on a verbatim recording, none invented.

    .venv/bin/python benchmarks/fillers.py [--beam N] [--prompt TEXT]

Runs the speech analyzer as the service does (one chunk per recording, the join's summary) on:

- ``../shared/data/fillers``: 26.7 s of one English speaker whose verbatim transcript, forced
  aligned, keeps three hesitation sounds ("um", "uh", "um"). Prints each filled pause the
  service marks (``filler: true`` words that are hesitation sounds) with its start, whether a
  true one starts within 0.3 s, and how many of the true ones were found;
- the five GRID clips (read commands, no filler in their transcripts): every filled pause found
  there is false, counted per minute of speech;
- the nine AMI meeting excerpts (real meetings; no verbatim transcript here, so what is found
  cannot be checked): the filled pauses found per excerpt, with their times, to listen to.

``--beam`` and ``--prompt`` replace the beam size and the English filler prompt, to compare
decoding choices; ``--without-decoded`` takes every hesitation sound out of Whisper's decode
before the rest runs (as a build that writes none of them), so what is found comes from the
gaps read again (``analyzers/speech/hesitations.py``). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.real_data import (  # noqa: E402
    AMI_FILES,
    FILLERS,
    GRID_CLIPS,
    ami_audio,
    filled_pause_times,
    fillers_audio,
    grid_audio,
)
from video_analysis.analyzers.base import DecodedAudio, SummaryInput  # noqa: E402
from video_analysis.analyzers.speech import SpeechAnalyzer  # noqa: E402
from video_analysis.analyzers.speech import fillers as filler_rules  # noqa: E402
from video_analysis.schemas import MediaInfo, SpeechSection, SplitManifest  # noqa: E402
from video_analysis.schemas.speech import Word  # noqa: E402
from video_analysis.settings import Settings  # noqa: E402

SAMPLE_RATE = 16_000
TOLERANCE_S = 0.3


def section(
    analyzer: SpeechAnalyzer, settings: Settings, name: str, x: np.ndarray
) -> SpeechSection:
    """The speech section the service gives a one-chunk video of ``x`` (English given)."""
    duration = x.size / SAMPLE_RATE
    part = analyzer.analyze_audio(
        DecodedAudio(name, 0, 0.0, duration, SAMPLE_RATE, x, language="en")
    )
    manifest = SplitManifest(video_id=name, media=MediaInfo(duration_s=duration))
    speech = SpeechAnalyzer.summarize(
        SummaryInput(manifest=manifest, settings=settings, audio=[part])
    )["speech"]
    assert isinstance(speech, SpeechSection)
    return speech


def filled_pauses(speech: SpeechSection) -> list[Word]:
    """The words the service marks as fillers that are hesitation sounds."""
    return [
        w
        for s in speech.segments
        for w in s.words
        if w.filler and filler_rules.is_filled_pause(w.word, "en")
    ]


def without_decoded_fillers(analyzer: SpeechAnalyzer) -> None:
    """Make ``analyzer``'s decode leave out every hesitation sound it writes."""
    transcribe = analyzer._transcribe

    def without(*args: Any, **kwargs: Any) -> list[Any]:
        rows = transcribe(*args, **kwargs)
        for row in rows:
            row.words = [w for w in row.words if not filler_rules.is_filled_pause(w.word, "en")]
            row.text = "".join(w.word for w in row.words).strip()
        return rows

    analyzer._transcribe = without  # type: ignore[method-assign]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--beam", type=int, default=None, help="beam size (default: setting)")
    parser.add_argument("--prompt", default=None, help="English filler prompt to use instead")
    parser.add_argument(
        "--without-decoded",
        action="store_true",
        help="take the hesitation sounds out of Whisper's decode (only the gaps find them)",
    )
    args = parser.parse_args()
    if not (FILLERS / "acoustic_corpus.TextGrid").is_file():
        print(f"no verbatim recording in {FILLERS}: the shared data folder is absent")
        return 1
    settings = Settings() if args.beam is None else Settings(speech_beam_size=args.beam)
    if args.prompt is not None:
        filler_rules.FILLER_PROMPTS["en"] = args.prompt
    analyzer = SpeechAnalyzer(settings)
    analyzer.load()
    if args.without_decoded:
        without_decoded_fillers(analyzer)
    started = time.monotonic()
    print(f"beam {settings.speech_beam_size}; prompt {filler_rules.FILLER_PROMPTS['en']!r}")
    if args.without_decoded:
        print("hesitation sounds taken out of the decode: found only in the gaps")

    truth = filled_pause_times()
    found = filled_pauses(section(analyzer, settings, "fillers", fillers_audio()))
    print(f"\nverbatim recording: {len(truth)} true filled pauses")
    for start, word in truth:
        near = [w for w in found if abs(w.start - start) <= TOLERANCE_S]
        shown = ", ".join(f"{w.word.strip()} at {w.start:.2f}" for w in near) or "missed"
        print(f"  {word:<4} at {start:6.2f}  ->  {shown}")
    hits = sum(any(abs(w.start - t) <= TOLERANCE_S for w in found) for t, _ in truth)
    false = [w for w in found if not any(abs(w.start - t) <= TOLERANCE_S for t, _ in truth)]
    print(f"  found {hits} of {len(truth)} within {TOLERANCE_S} s; false: {len(false)}")

    grid_false = 0
    grid_s = 0.0
    for clip in GRID_CLIPS:
        x = grid_audio(clip)
        grid_s += x.size / SAMPLE_RATE
        words = filled_pauses(section(analyzer, settings, clip, x))
        grid_false += len(words)
        if words:
            print(
                f"  GRID {clip}: " + ", ".join(f"{w.word.strip()} at {w.start:.2f}" for w in words)
            )
    print(
        f"\nGRID (no fillers in the transcripts): {grid_false} false in {grid_s:.0f} s "
        f"= {grid_false * 60 / grid_s:.2f} per minute"
    )

    print("\nAMI (no verbatim transcript here: found, not checked)")
    total = 0
    for name in AMI_FILES:
        words = filled_pauses(section(analyzer, settings, name, ami_audio(name)))
        total += len(words)
        shown = ", ".join(f"{w.word.strip()} {w.start:.1f}" for w in words)
        print(f"  {name}: {len(words)}  {shown}")
    ami_s = len(AMI_FILES) * 30
    print(f"  {total} in {ami_s} s = {total * 60 / ami_s:.2f} per minute")
    print(f"\n({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
