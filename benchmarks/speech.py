"""Real-time factor of the speech stage on a 60 s clip on this machine.

    .venv/bin/python benchmarks/speech.py [--duration 60]

Makes a clip of varied English sentences spoken by espeak-ng, splits it with the splitter
(16 kHz mono, chunks of at most 30 s), runs the speech analyzer on every chunk as the speech
worker does, and summarizes as the join does. Prints the real-time factor of recognition, of
the voice features, of the speaker path (speech regions, segmentation, CAM++ windows) and of
the whole stage (audio seconds per second of work). Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.media_factory import FFMPEG, make_speech_wav  # noqa: E402
from video_analysis.analyzers.base import SummaryInput  # noqa: E402
from video_analysis.analyzers.registry import get_analyzer  # noqa: E402
from video_analysis.media.codec import decode_audio_chunk  # noqa: E402
from video_analysis.media.splitter import split_video  # noqa: E402
from video_analysis.schemas import (  # noqa: E402
    AnalyzerPlan,
    AudioChunk,
    SpeechPart,
    SpeechSection,
    SplitManifest,
)
from video_analysis.settings import get_settings  # noqa: E402

SENTENCES = [
    "Thank you for the question.",
    "In my last role I led a small team that rebuilt our billing system.",
    "We shipped it in three months and cut support tickets by half.",
    "The hardest part was moving old invoices without any downtime.",
    "We ran both systems side by side for two weeks and compared every total.",
    "I learned to write the plan down early and to share it with the whole team.",
    "Before that I worked on the mobile app, mostly on payments and sign in.",
    "I enjoy problems where the data is messy and people depend on the answer.",
    "When we disagree, I ask for the numbers first and then for the story behind them.",
    "Next year I would like to mentor new engineers and grow into a lead role.",
]


def make_clip(folder: Path, duration: float) -> Path:
    text, sentences = [], iter(SENTENCES * 20)
    # espeak-ng at 160 words per minute: about 2.7 words a second.
    while sum(len(s.split()) for s in text) < duration * 2.7:
        text.append(next(sentences))
    wav = make_speech_wav(folder / "speech.wav", " ".join(text))
    clip = folder / "speech.mp4"
    subprocess.run(
        [FFMPEG, "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         f"color=c=gray:s=320x240:r=5:d={duration}", "-i", str(wav), "-af", "apad",
         "-t", str(duration), "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
         str(clip)],
        check=True,
    )  # fmt: skip
    return clip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    args = parser.parse_args()
    settings = get_settings()
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp), args.duration)
        started = time.perf_counter()
        analyzer = get_analyzer("speech")
        load_s = time.perf_counter() - started
        messages = list(split_video(clip, "bench", settings, language=None))
        chunks = [m for m in messages if isinstance(m, AudioChunk)]
        audio_s = sum(c.end - c.start for c in chunks)
        started = time.perf_counter()
        parts = [
            SpeechPart.model_validate(analyzer.analyze_audio(decode_audio_chunk(c))) for c in chunks
        ]
        analyze_s = time.perf_counter() - started
        manifest = SplitManifest(
            video_id="bench", audio_chunks=len(chunks), analyzers=AnalyzerPlan(audio=["speech"])
        )
        started = time.perf_counter()
        speech = analyzer.summarize(SummaryInput(manifest=manifest, settings=settings, audio=parts))
        summarize_s = time.perf_counter() - started
    transcribe_s = sum(p.timing.get("transcribe_s", 0.0) for p in parts)
    features_s = sum(p.timing.get("features_s", 0.0) for p in parts)
    speakers_s = sum(p.timing.get("speakers_s", 0.0) for p in parts)
    total_s = analyze_s + summarize_s
    section = speech["speech"]
    assert isinstance(section, SpeechSection)
    words = len((section.transcript or "").split())
    print(
        f"clip: {audio_s:.1f} s of espeak-ng English in {len(chunks)} chunks; "
        f"{os.cpu_count()} cores; model {settings.speech_model}, beam {settings.speech_beam_size}"
    )
    print(f"load (once per process)      {load_s:6.1f} s")
    rtf = "x real time"
    print(
        f"recognition                  {transcribe_s:6.1f} s  -> {audio_s / transcribe_s:5.1f}{rtf}"
    )
    print(f"voice features               {features_s:6.1f} s  -> {audio_s / features_s:5.1f}{rtf}")
    print(f"speakers (regions, CAM++)    {speakers_s:6.1f} s  -> {audio_s / speakers_s:5.1f}{rtf}")
    print(f"summarize (join)             {summarize_s:6.2f} s")
    print(f"whole speech stage           {total_s:6.1f} s  -> {audio_s / total_s:5.1f}{rtf}")
    print(
        f"words transcribed: {words}; "
        f"speakers: {section.speakers.count if section.speakers is not None else None}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
