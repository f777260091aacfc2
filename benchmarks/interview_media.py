"""A whole two-person interview built from real recordings, with its truth, for benchmarks.

    .venv/bin/python benchmarks/interview_media.py [--minutes 30] [--pair mf|ff] [--seed 17]

Audio: an interviewer and a candidate taking turns, speech nearly all the time (questions of
5-15 s, answers of 30-120 s, 0.3-1.5 s between turns, now and then a turn that starts before
the other ends), cut from the stretches of the AMI meeting excerpts in ``../shared/data/ami``
where exactly one person speaks (``train.rttm``), at random offsets and in random order, each
cut at the quietest moment near the chosen point. ``mf``: a man interviews a woman (MÉO069 of
trn03, FEE083 of trn06 and trn09); ``ff``: both women (FEE078 of trn05, FEE083). There are
only 29-38 s of each voice, so stretches repeat, never as one loop.

Video: 1280x720, 25 fps, a real face in frame all the time: the GRID talking-head clips
(3 s each, as recorded, mirrored or played backwards: 20 variants) over a blurred fill of
themselves, in random order. H.264 (x264 veryfast, a keyframe every clip) + AAC 48 kHz mono.

Beside the video: ``.rttm`` (who speaks when, from the source RTTM segments moved to where they
were placed; speakers ``interviewer`` and ``candidate``) and ``.json`` (``metadata`` to upload
with the video: ``questions`` [{question_id, start, end}], one per question and its answer;
the turns; the sources). Built once per parameter set under ``var/bench/interview/``; the
same parameters give the same files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.real_data import AMI, GRID, GRID_CLIPS, RATE, SCORE_STEP_S, Truth  # noqa: E402

#: Bump when the build changes: cached files of older builds are not reused.
BUILD_VERSION = 1
CACHE = ROOT / "var" / "bench" / "interview"
FPS = 25
SIZE = (1280, 720)
CLIP_FRAMES = 75  # every GRID clip is 3 s at 25 fps

#: (interviewer, candidate) AMI speakers: the voices with the most single-speaker time.
PAIRS = {"mf": ("MÉO069", "FEE083"), "ff": ("FEE078", "FEE083")}
ROLES = ("interviewer", "candidate")
QUESTION_S = (5.0, 15.0)
ANSWER_S = (30.0, 120.0)
TURN_GAP_S = (0.3, 1.5)
OVERLAP_SHARE = 0.12  # of turn changes where the next speaker starts early
OVERLAP_S = (0.2, 0.7)
PIECE_S = (2.0, 9.0)  # one cut from a stretch
PIECE_GAP_S = (0.05, 0.25)  # between two cuts within one turn
MIN_STRETCH_S = 1.0
SNAP_S = 0.2  # a cut moves to the quietest 20 ms within this distance
FADE_S = 0.01
LEAD_IN_S = 0.5
MIN_TURN_S = 2.0  # a last turn shorter than this is left out
TARGET_RMS = 10 ** (-24 / 20)  # each voice brought to about -24 dBFS over its speech
NOISE_RMS = 10 ** (-62 / 20)  # a faint noise floor between turns, as a room has


@dataclass(frozen=True)
class Interview:
    """A built interview: its files and what is true about it."""

    video: Path
    rttm: Path
    info: Path
    duration_s: float
    metadata: dict[str, Any]
    turns: list[dict[str, Any]]

    @property
    def questions(self) -> list[dict[str, Any]]:
        return list(self.metadata["questions"])

    def truth(self) -> Truth:
        """Who speaks when, on the scoring grid of ``tests/real_data.score_turns``."""
        return rttm_truth(self.rttm, self.duration_s)


@dataclass(frozen=True)
class Stretch:
    """Where one speaker alone speaks in an excerpt, and their RTTM segments inside it."""

    excerpt: str
    start: float
    end: float
    segments: tuple[tuple[float, float], ...]

    @property
    def length(self) -> float:
        return self.end - self.start


def read_rttm(path: Path) -> dict[str, list[tuple[float, float, str]]]:
    """(start, end, speaker) rows of each file named in an RTTM."""
    rows: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[0] == "SPEAKER":
            start, length = float(fields[3]), float(fields[4])
            rows[fields[1]].append((start, start + length, fields[7]))
    return rows


def _active(rows: list[tuple[float, float, str]], duration_s: float) -> Truth:
    """(start, end, speaker) rows on the scoring grid of ``tests/real_data.score_turns``."""
    frames = int(round(duration_s / SCORE_STEP_S)) + 1
    names = sorted({who for _, _, who in rows})
    active = np.zeros((len(names), frames), dtype=bool)
    for start, end, who in rows:
        first, last = int(round(start / SCORE_STEP_S)), int(round(end / SCORE_STEP_S))
        active[names.index(who), first:last] = True
    return Truth(names, active)


def rttm_truth(path: Path, duration_s: float) -> Truth:
    """An RTTM of one file as a ``Truth``."""
    return _active([row for rows in read_rttm(path).values() for row in rows], duration_s)


def single_speaker_stretches(speaker: str) -> list[Stretch]:
    """The stretches of the AMI excerpts where ``speaker`` alone speaks, longest first."""
    found = []
    for excerpt, rows in sorted(read_rttm(AMI / "train.rttm").items()):
        own = [(s, e) for s, e, who in rows if who == speaker]
        if not own:
            continue
        truth = _active(rows, 30.0)
        alone = truth.active[truth.speakers.index(speaker)] & (truth.active.sum(axis=0) == 1)
        edges = np.diff(np.r_[0, alone.astype(np.int8), 0])
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        for first, last in zip(starts, ends, strict=True):
            start, end = first * SCORE_STEP_S, last * SCORE_STEP_S
            if end - start < MIN_STRETCH_S:
                continue
            inside = tuple(
                (max(s, start), min(e, end)) for s, e in own if min(e, end) - max(s, start) > 0.05
            )
            found.append(Stretch(excerpt, start, end, inside))
    return sorted(found, key=lambda s: -s.length)


class Voice:
    """One speaker's stretches and the audio they come from, brought to one loudness."""

    def __init__(self, speaker: str) -> None:
        from tests.real_data import ami_audio

        self.speaker = speaker
        self.stretches = single_speaker_stretches(speaker)
        if not self.stretches:
            raise ValueError(f"{speaker} never speaks alone in {AMI / 'train.rttm'}")
        self.audio: dict[str, NDArray[np.float32]] = {}
        self.energy: dict[str, NDArray[np.float64]] = {}
        for excerpt in sorted({s.excerpt for s in self.stretches}):
            x = ami_audio(excerpt).astype(np.float64)
            spoken = np.concatenate(
                [
                    x[int(s * RATE) : int(e * RATE)]
                    for st in self.stretches
                    if st.excerpt == excerpt
                    for s, e in st.segments
                ]
            )
            gain = TARGET_RMS / max(1e-6, float(np.sqrt(np.mean(spoken**2))))
            gain = min(gain, 0.9 / max(1e-6, float(np.abs(x).max())))
            self.audio[excerpt] = (x * gain).astype(np.float32)
            hop = RATE // 50  # 20 ms
            frames = x[: x.size // hop * hop].reshape(-1, hop)
            self.energy[excerpt] = np.sqrt(np.mean(frames**2, axis=1))

    def snap(self, stretch: Stretch, t: float) -> float:
        """``t`` moved to the quietest 20 ms of the excerpt near it, inside the stretch."""
        energy = self.energy[stretch.excerpt]
        lo = max(stretch.start, t - SNAP_S)
        hi = min(stretch.end, t + SNAP_S)
        first, last = int(lo * 50), max(int(lo * 50) + 1, int(hi * 50))
        window = energy[first:last]
        if window.size == 0:
            return t
        return min(max((first + int(np.argmin(window)) + 0.5) / 50, stretch.start), stretch.end)


def _turn(
    voice: Voice, length_s: float, rng: np.random.Generator, last: list[Stretch | None]
) -> list[tuple[Stretch, float, float, float]]:
    """Cuts (stretch, source start, source end, offset in the turn) filling ``length_s``."""
    cuts: list[tuple[Stretch, float, float, float]] = []
    at = 0.0
    weights = np.array([s.length for s in voice.stretches])
    while length_s - at > 0.8:
        choices = [i for i, s in enumerate(voice.stretches) if s is not last[0]] or [0]
        p = weights[choices] / weights[choices].sum()
        stretch = voice.stretches[int(rng.choice(choices, p=p))]
        want = min(rng.uniform(*PIECE_S), stretch.length, length_s - at)
        start = stretch.start + rng.uniform(0.0, stretch.length - want)
        s0 = voice.snap(stretch, start)
        s1 = voice.snap(stretch, min(stretch.end, s0 + want))
        if s1 - s0 < 0.5:
            s0, s1 = stretch.start, min(stretch.end, stretch.start + want)
        cuts.append((stretch, s0, s1, at))
        last[0] = stretch
        at += (s1 - s0) + rng.uniform(*PIECE_GAP_S)
    return cuts


def _compose(
    duration_s: float, pair: str, seed: int
) -> tuple[NDArray[np.float32], list[dict[str, Any]], list[tuple[float, float, str]], list[Any]]:
    """The interview's audio, its turns, its RTTM rows and its questions."""
    rng = np.random.default_rng(seed)
    voices = {role: Voice(name) for role, name in zip(ROLES, PAIRS[pair], strict=True)}
    last: dict[str, list[Stretch | None]] = {role: [None] for role in ROLES}
    total = int(round(duration_s * RATE))
    audio = (rng.standard_normal(total) * NOISE_RMS).astype(np.float32)
    fade = np.linspace(0.0, 1.0, int(FADE_S * RATE), dtype=np.float32)
    turns: list[dict[str, Any]] = []
    rows: list[tuple[float, float, str]] = []
    questions: list[dict[str, Any]] = []
    cursor = LEAD_IN_S
    end_s = duration_s - 0.3
    while cursor < end_s - 1.0:
        for role, span in (("interviewer", QUESTION_S), ("candidate", ANSWER_S)):
            if cursor >= end_s - 1.0:
                break
            if turns:
                if rng.random() < OVERLAP_SHARE:
                    cursor -= rng.uniform(*OVERLAP_S)
                else:
                    cursor += rng.uniform(*TURN_GAP_S)
            length = min(rng.uniform(*span), end_s - cursor)
            cuts = _turn(voices[role], length, rng, last[role])
            if length < MIN_TURN_S or not cuts:
                cursor = end_s  # no room left for a turn
                break
            voice = voices[role]
            turn_end = cursor
            for stretch, s0, s1, offset in cuts:
                piece = voice.audio[stretch.excerpt][int(s0 * RATE) : int(s1 * RATE)].copy()
                piece[: fade.size] *= fade[: piece.size]
                piece[-fade.size :] *= fade[::-1][-piece.size :]
                at = cursor + offset
                first = int(round(at * RATE))
                piece = piece[: max(0, total - first)]
                audio[first : first + piece.size] += piece
                for s, e in stretch.segments:
                    a, b = max(s, s0), min(e, s1)
                    if b - a > 0.05:
                        rows.append((at + a - s0, min(at + b - s0, duration_s), role))
                turn_end = max(turn_end, at + piece.size / RATE)
            turns.append({"speaker": role, "start": round(cursor, 3), "end": round(turn_end, 3)})
            if role == "interviewer":
                questions.append(
                    {"question_id": f"q{len(questions) + 1:02d}", "start": round(cursor, 3)}
                )
            questions[-1]["end"] = round(turn_end, 3)
            cursor = turn_end
    for question, following in zip(questions, questions[1:], strict=False):
        # A platform's spans do not overlap: where the next question starts over the end of
        # an answer, the answer's span ends there.
        question["end"] = min(question["end"], following["start"])
    np.clip(audio, -1.0, 1.0, out=audio)
    return audio, turns, sorted(rows), questions


def _ffmpeg(args: list[str]) -> None:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg is needed to build the interview (apt-get install ffmpeg)")
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {' '.join(cmd)}\n{done.stderr[-3000:]}")


def _face_variants(folder: Path) -> list[Path]:
    """Each GRID clip as recorded, mirrored, backwards and both, as 3 s 1280x720 H.264 with
    the same encoder settings, so that any sequence of them joins without re-encoding."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    w, h = SIZE
    for clip in GRID_CLIPS:
        for flip in ("", "hflip,"):
            for backwards in ("", "reverse,"):
                target = folder / f"{clip}{'-m' if flip else ''}{'-r' if backwards else ''}.mp4"
                if not target.exists():
                    # The clips' edges carry a few pixels of border: cropped away.
                    graph = (
                        f"[0:v]crop=352:280:4:4,setsar=1,{flip}{backwards}split[a][b];"
                        f"[a]scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},"
                        "boxblur=20:2[bg];"
                        f"[b]scale=-2:{h}[fg];[bg][fg]overlay=(W-w)/2:0,setpts=N/{FPS}/TB,format=yuv420p[v]"
                    )
                    _ffmpeg(
                        ["-i", str(GRID / f"{clip}.mpg"), "-filter_complex", graph, "-map", "[v]"]
                        + ["-an", "-frames:v", str(CLIP_FRAMES), *_x264(), str(target) + ".tmp.mp4"]
                    )
                    Path(str(target) + ".tmp.mp4").replace(target)
                out.append(target)
    return out


def _x264() -> list[str]:
    return [
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "26",
        "-g",
        str(CLIP_FRAMES),
        "-keyint_min",
        str(CLIP_FRAMES),
        "-sc_threshold",
        "0",
        "-r",
        str(FPS),
        "-fflags",
        "+bitexact",
        "-flags:v",
        "+bitexact",
    ]


def build_interview(
    minutes: float = 30.0, *, pair: str = "mf", seed: int = 17, cache: Path = CACHE
) -> Interview:
    """The ``minutes``-long interview, built now or found in ``cache`` from an earlier build."""
    if pair not in PAIRS:
        raise ValueError(f"pair must be one of {sorted(PAIRS)}")
    if not (AMI / "train.rttm").is_file() or not (GRID / f"{GRID_CLIPS[0]}.mpg").is_file():
        raise FileNotFoundError(f"the real recordings are not in {AMI.parent} (shared/data)")
    duration_s = round(minutes * 60.0, 3)
    stem = f"interview-{minutes:g}min-{pair}-seed{seed}-v{BUILD_VERSION}"
    folder = cache / stem
    video, rttm, info = folder / f"{stem}.mp4", folder / f"{stem}.rttm", folder / f"{stem}.json"
    if not (video.exists() and rttm.exists() and info.exists()):
        folder.mkdir(parents=True, exist_ok=True)
        audio, turns, rows, questions = _compose(duration_s, pair, seed)
        import soundfile

        wav = folder / "audio.wav"
        soundfile.write(str(wav), audio, RATE, subtype="PCM_16")
        variants = _face_variants(cache / f"faces-v{BUILD_VERSION}")
        rng = np.random.default_rng(seed + 1)
        order: list[int] = []
        for _ in range(int(np.ceil(duration_s * FPS / CLIP_FRAMES))):
            # Never the same person twice in a row (4 variants per GRID clip).
            choices = [i for i in range(len(variants)) if not order or i // 4 != order[-1] // 4]
            order.append(int(rng.choice(choices)))
        listing = folder / "faces.txt"
        listing.write_text("".join(f"file '{variants[i]}'\n" for i in order))
        tmp = folder / f"{stem}.tmp.mp4"
        _ffmpeg(
            ["-f", "concat", "-safe", "0", "-i", str(listing), "-i", str(wav)]
            + ["-map", "0:v", "-map", "1:a", "-c:v", "copy"]
            + ["-c:a", "aac", "-b:a", "96k", "-ar", "48000", "-ac", "1", "-t", f"{duration_s}"]
            + ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact"]
            + ["-movflags", "+faststart", str(tmp)]
        )
        wav.unlink()
        rttm.write_text(
            "".join(
                f"SPEAKER {stem} 1 {s:.3f} {e - s:.3f} <NA> <NA> {who} <NA> <NA>\n"
                for s, e, who in rows
            )
        )
        metadata = {"interview_id": stem, "questions": questions}
        info.write_text(
            json.dumps(
                {
                    "video": video.name,
                    "duration_s": duration_s,
                    "size": list(SIZE),
                    "fps": FPS,
                    "pair": pair,
                    "seed": seed,
                    "speakers": dict(zip(ROLES, PAIRS[pair], strict=True)),
                    "metadata": metadata,
                    "turns": turns,
                    "sources": "AMI excerpts (CC BY 4.0) and GRID clips (CC BY 4.0) of "
                    "../shared/data; see its README.md",
                },
                indent=1,
                ensure_ascii=False,
            )
        )
        tmp.replace(video)  # last: a video present means its truth is too
    data = json.loads(info.read_text())
    return Interview(video, rttm, info, data["duration_s"], data["metadata"], data["turns"])


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--pair", choices=sorted(PAIRS), default="mf")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    started = time.perf_counter()
    interview = build_interview(args.minutes, pair=args.pair, seed=args.seed)
    took = time.perf_counter() - started
    talk: dict[str, float] = defaultdict(float)
    for turn in interview.turns:
        talk[turn["speaker"]] += turn["end"] - turn["start"]
    truth = interview.truth()
    speech = truth.active.any(axis=0).mean()
    print(f"{interview.video} ({interview.video.stat().st_size / 2**20:.1f} MiB) in {took:.1f} s")
    print(f"truth: {interview.rttm}; metadata: {interview.info}")
    print(
        f"{interview.duration_s:.0f} s, {len(interview.turns)} turns, "
        f"{len(interview.questions)} questions; speech {speech:.0%} of the time; "
        + ", ".join(f"{who} {s:.0f} s" for who, s in talk.items())
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
