"""The README's pictures of the report: a Korean interview and an English one, built from the
real recordings in ../shared/data, analysed in-process, drawn by Chromium.

    .venv/bin/python scripts/report_screenshots.py [--out docs]

- Korean (``docs/report-ko.png``): four real faces (GRID clips, each held for its answer) with
  four spontaneous Korean answers (KsponSpeech samples of ``../shared/data/korean``) over them,
  each answer a question of ``metadata.questions``; the page in Korean.
- English (``docs/report.png``): four GRID clips as recorded (face and voice), each a question;
  the page in English.
Each report is also written beside its picture (``report-ko.html``, ``report.html``) in a temporary
folder, and the recordings are never copied into the repository.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data"
GRID_CLIPS = ("sbia1a", "lwbsza", "swiz3n", "sbwe5n")
KOREAN_ANSWERS = ("KaiSpeech_000012", "KaiSpeech_000014", "KaiSpeech_000016", "KaiSpeech_000018")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True)


def _seconds(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip())


def _joined(parts: list[Path], out: Path) -> tuple[Path, list[dict[str, object]]]:
    """``parts`` one after the other, each a question of the metadata."""
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{p}'\n" for p in parts))
    _ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(out))
    questions, at = [], 0.0
    for k, part in enumerate(parts):
        length = _seconds(part)
        questions.append(
            {"question_id": f"q{k + 1}", "start": round(at, 2), "end": round(at + length, 2)}
        )
        at += length
    return out, questions


def korean_interview(folder: Path) -> tuple[Path, list[dict[str, object]]]:
    parts = []
    for k, (clip, answer) in enumerate(zip(GRID_CLIPS, KOREAN_ANSWERS, strict=True)):
        audio = DATA / "korean" / f"{answer}.wav"
        part = folder / f"ko-{k}.mp4"
        # The face held (looped) for as long as the answer and half a second after it.
        _ffmpeg(
            "-stream_loop", "-1", "-i", str(DATA / "grid" / f"{clip}.mpg"), "-i", str(audio),
            "-filter_complex", "[1:a]apad=pad_dur=0.5[a]", "-map", "0:v", "-map", "[a]",
            "-t", f"{_seconds(audio) + 0.5:.2f}", "-r", "25", "-c:v", "libx264",
            "-preset", "veryfast", "-c:a", "aac", "-ar", "16000", str(part),
        )  # fmt: skip
        parts.append(part)
    return _joined(parts, folder / "korean-interview.mp4")


def english_interview(folder: Path) -> tuple[Path, list[dict[str, object]]]:
    parts = []
    for k, clip in enumerate(GRID_CLIPS):
        part = folder / f"en-{k}.mp4"
        _ffmpeg(
            "-i", str(DATA / "grid" / f"{clip}.mpg"), "-r", "25", "-c:v", "libx264",
            "-preset", "veryfast", "-c:a", "aac", "-ar", "16000", str(part),
        )  # fmt: skip
        parts.append(part)
    return _joined(parts, folder / "english-interview.mp4")


def analyse(video: Path, questions: list[dict[str, object]], language: str, page: Path) -> None:
    """`video-analysis analyze` as a user runs it, with the report in ``language``."""
    subprocess.run(
        [sys.executable, "-m", "video_analysis", "analyze", str(video), "--metadata",
         json.dumps({"questions": questions}), "--language", language, "--report", str(page),
         "--lang", language,
         "--out", str(page.with_suffix(".json"))],
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=ROOT,
    )  # fmt: skip


def screenshot(page: Path, picture: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            tab = browser.new_page(viewport={"width": 1200, "height": 900})
            tab.goto(page.as_uri())
            tab.wait_for_load_state("networkidle")
            height = min(3400, tab.evaluate("document.body.scrollHeight"))
            tab.set_viewport_size({"width": 1200, "height": height})
            tab.screenshot(path=str(picture))
        finally:
            browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for build, language, name in (
            (korean_interview, "ko", "report-ko"),
            (english_interview, "en", "report"),
        ):
            video, questions = build(folder)
            page = folder / f"{name}.html"
            analyse(video, questions, language, page)
            screenshot(page, args.out / f"{name}.png")
            print(f"{args.out / (name + '.png')}: {video.name}, {_seconds(video):.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
