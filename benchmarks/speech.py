"""Real-time factor of the speech stage in one process on this machine, on real speech.

    .venv/bin/python benchmarks/speech.py [--source ami|espeak] [--clip FILE] [--repeat N]

The clip: the nine real AMI meeting excerpts joined (``--source ami``, 270 s of continuous
meeting speech, four voices at a time; ``--repeat`` joins them again), a clip of espeak-ng
sentences (``--source espeak``, the old synthetic benchmark), or any video or audio file
(``--clip``, e.g. an interview built by ``benchmarks/interview.py``). It is split by the
splitter as a video is, its audio chunks are analysed in a pool of ``analysis_threads``
threads exactly as the speech worker does (several chunks of one video at once), and the
parts summarized as the join does. Prints the wall time and real-time factor of the stage,
the work per step summed over chunks (recognition, voice features, speakers), CPU time and
peak memory. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.media_factory import FFMPEG, make_speech_wav  # noqa: E402
from tests.real_data import AMI, AMI_FILES  # noqa: E402
from video_analysis.analyzers.base import SummaryInput  # noqa: E402
from video_analysis.analyzers.speech import SpeechAnalyzer  # noqa: E402
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


def with_video(folder: Path, audio: Path, duration: float | None = None) -> Path:
    """``audio`` in an MP4 with a small gray picture: the splitter takes videos."""
    clip = folder / "speech.mp4"
    length = ["-t", str(duration)] if duration else ["-shortest"]
    subprocess.run(
        [FFMPEG, "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=320x240:r=5",
         "-i", str(audio), *length, "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
         "-b:a", "128k", str(clip)],
        check=True,
    )  # fmt: skip
    return clip


def espeak_clip(folder: Path, duration: float) -> Path:
    text, sentences = [], iter(SENTENCES * 20)
    # espeak-ng at 160 words per minute: about 2.7 words a second.
    while sum(len(s.split()) for s in text) < duration * 2.7:
        text.append(next(sentences))
    return with_video(folder, make_speech_wav(folder / "speech.wav", " ".join(text)), duration)


def ami_clip(folder: Path, repeat: int) -> Path:
    """The AMI excerpts one after the other (``repeat`` times): real meeting speech."""
    listing = folder / "ami.txt"
    listing.write_text(
        "".join(f"file '{AMI / name}.wav'\n" for _ in range(repeat) for name in AMI_FILES)
    )
    joined = folder / "ami.wav"
    subprocess.run(
        [FFMPEG, "-loglevel", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
         "-c:a", "pcm_s16le", str(joined)],
        check=True,
    )  # fmt: skip
    return with_video(folder, joined)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=("ami", "espeak"), default="ami")
    parser.add_argument("--clip", type=Path, help="a video or audio file instead")
    parser.add_argument("--duration", type=float, default=60.0, help="espeak clip length")
    parser.add_argument("--repeat", type=int, default=1, help="AMI excerpts joined N times")
    args = parser.parse_args()
    settings = get_settings()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.clip is not None:
            clip, name = args.clip, args.clip.name
        elif args.source == "ami":
            clip, name = ami_clip(folder, args.repeat), f"AMI x{args.repeat} (real meetings)"
        else:
            clip, name = espeak_clip(folder, args.duration), "espeak-ng English"
        started = time.perf_counter()
        analyzer = SpeechAnalyzer(settings)
        analyzer.load()
        load_s = time.perf_counter() - started
        messages = list(split_video(clip, "bench", settings, language=None))
        chunks = [m for m in messages if isinstance(m, AudioChunk)]
        audio_s = sum(c.end - c.start for c in chunks)
        cpu_started = time.process_time()
        started = time.perf_counter()
        with ThreadPoolExecutor(settings.analysis_threads) as pool:
            parts = list(
                pool.map(
                    lambda c: SpeechPart.model_validate(
                        analyzer.analyze_audio(decode_audio_chunk(c))
                    ),
                    chunks,
                )
            )
        analyze_s = time.perf_counter() - started
        manifest = SplitManifest(
            video_id="bench", audio_chunks=len(chunks), analyzers=AnalyzerPlan(audio=["speech"])
        )
        started = time.perf_counter()
        speech = analyzer.summarize(SummaryInput(manifest=manifest, settings=settings, audio=parts))
        summarize_s = time.perf_counter() - started
        cpu_s = time.process_time() - cpu_started
    transcribe_s = sum(p.timing.get("transcribe_s", 0.0) for p in parts)
    features_s = sum(p.timing.get("features_s", 0.0) for p in parts)
    speakers_s = sum(p.timing.get("speakers_s", 0.0) for p in parts)
    total_s = analyze_s + summarize_s
    section = speech["speech"]
    assert isinstance(section, SpeechSection)
    words = len((section.transcript or "").split())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"clip: {audio_s:.1f} s of {name} in {len(chunks)} chunks; {os.cpu_count()} cores; "
        f"{settings.analysis_threads} analysis threads; model {settings.speech_model}, "
        f"beam {settings.speech_beam_size}"
    )
    print(f"load (once per process)          {load_s:6.1f} s")
    print("work per step, summed over chunks (they overlap in the pool):")
    for label, seconds in (
        ("  recognition (VAD, language, Whisper)", transcribe_s),
        ("  voice features (pitch, voice, level)", features_s),
        ("  speakers (regions, CAM++)          ", speakers_s),
    ):
        print(f"{label} {seconds:6.1f} s  -> {audio_s / max(seconds, 1e-9):5.1f}x real time")
    print(f"summarize (join)                 {summarize_s:6.2f} s")
    print(
        f"whole speech stage (wall)        {total_s:6.1f} s  -> {audio_s / total_s:5.1f}x real "
        f"time; CPU {cpu_s:.1f} s; peak RSS {peak_mb:.0f} MiB"
    )
    print(f"words transcribed: {words}; speakers: {section.speakers.count}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
