"""Spontaneous Korean through the speech analyzer: character error rate on the real utterances.

    .venv/bin/python benchmarks/korean.py [--hint]

The ten spontaneous utterances of ``../shared/data/korean`` (KsponSpeech samples, 1-6 s each,
with their transcripts; internal evaluation only, never copied into the repo) are analysed:

- one by one, each as its own short answer (the speech analyzer's chunk path and the join's
  summary, as the service runs a one-chunk video), with no language given (``--hint``: with
  ``metadata.language = ko``, as an upload can say);
- joined into one recording with 0.5 s of silence between them, as a longer answer, put in a
  video and cut into audio chunks by the splitter as the service does.

``--option NAME=VALUE`` (repeatable) replaces one of faster-whisper's decoding options
(``beam_size``, ``patience``, ``length_penalty``, ``no_repeat_ngram_size``,
``hallucination_silence_threshold``, ``initial_prompt``...) and ``--vad NAME=VALUE`` one of
its voice-detection options (``speech_pad_ms``...), to compare decoding choices on Korean.

Per utterance it prints its length, the language read, the character error rate (Levenshtein
distance over characters, spaces and punctuation left out, over the reference's length; a
number in digits read the Sino-Korean way) and the transcript beside the truth; then the CER
over all of them (total distance over total reference length) one by one, and of the joined
recording with its transcript.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import ast
import sys
import tempfile
import time
import wave
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.speech import with_video  # noqa: E402
from tests.real_data import KOREAN, character_distance, korean_audio, korean_transcripts  # noqa: E402
from video_analysis.analyzers.base import DecodedAudio, SummaryInput  # noqa: E402
from video_analysis.analyzers.speech import SpeechAnalyzer  # noqa: E402
from video_analysis.media.codec import decode_audio_chunk  # noqa: E402
from video_analysis.media.splitter import split_video  # noqa: E402
from video_analysis.schemas import AudioChunk, MediaInfo, SpeechSection, SplitManifest  # noqa: E402
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


def as_a_video(
    analyzer: SpeechAnalyzer, settings: Settings, x: np.ndarray, language: str | None
) -> tuple[str, str | None]:
    """The transcript and language the service gives a video whose sound is ``x``: cut into
    audio chunks by the splitter, each analysed, the parts summarised."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with wave.open(str(folder / "joined.wav"), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(SAMPLE_RATE)
            out.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
        clip = with_video(folder, folder / "joined.wav")
        chunks = [
            m
            for m in split_video(clip, "joined", settings, language=language)
            if isinstance(m, AudioChunk)
        ]
        parts = [analyzer.analyze_audio(decode_audio_chunk(c)) for c in chunks]
    manifest = SplitManifest(video_id="joined", media=MediaInfo(duration_s=x.size / SAMPLE_RATE))
    speech = SpeechAnalyzer.summarize(
        SummaryInput(manifest=manifest, settings=settings, audio=parts)
    )["speech"]
    assert isinstance(speech, SpeechSection)
    return " ".join(segment.text for segment in speech.segments).strip(), speech.language


def overrides(pairs: list[str]) -> dict[str, Any]:
    """``NAME=VALUE`` pairs, each value read as a Python literal when it is one."""
    out: dict[str, Any] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        try:
            out[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[name] = value
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hint", action="store_true", help="metadata.language = ko")
    parser.add_argument("--option", action="append", default=[], help="decoding NAME=VALUE")
    parser.add_argument("--vad", action="append", default=[], help="voice detection NAME=VALUE")
    args = parser.parse_args()
    truths = korean_transcripts()
    if not truths:
        print(f"no Korean utterances in {KOREAN}; see ../shared/data/README.md")
        return 1
    settings = Settings()
    analyzer = SpeechAnalyzer(settings)
    analyzer.load()
    decoding, detection = overrides(args.option), overrides(args.vad)
    recognizer: Any = analyzer._recognizer
    if decoding:
        options = recognizer._options
        recognizer._options = lambda **given: options(**{**given, **decoding})
        print(f"decoding options: {decoding}")
    if detection:
        vad: Any = analyzer._vad
        analyzer._vad = SimpleNamespace(VadOptions=partial(vad.VadOptions, **detection))
        print(f"voice detection options: {detection}")
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
    text, spoken = as_a_video(analyzer, settings, joined, language)
    distance, length = character_distance(" ".join(truths.values()), text)
    print(f"joined ({joined.size / SAMPLE_RATE:.1f} s, {spoken}): CER {distance / length:.3f}")
    print(f"  {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
