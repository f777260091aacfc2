"""Praat's voice figures against pYIN on real speech: the speech analyzer's F0, jitter, shimmer
and harmonics-to-noise ratio per speaker, and what pYIN (the tracker they replaced) gives.

    .venv/bin/python benchmarks/voice.py [--timing-only]

Each AMI excerpt (30 s, room microphones) and each GRID clip (3 s, one speaker to the camera;
its sound track decoded with PyAV) goes through the speech analyzer's ``analyze_audio`` as the
service runs it. A speaker's frames are the 20 ms frames under the recognised words whose
middle lies where ``train.rttm`` has that speaker alone (a GRID clip: every word); their median
F0 is taken from the part's track (Praat) and from pYIN (librosa 0.11, 65-400 Hz, 64 ms frames,
as the service ran it) on the same frames, each over the frames it calls voiced. Speakers with
fewer than 25 voiced frames (0.5 s) by either are left out. Besides the two medians and their
difference, each row gives the medians over the frames both call voiced (the estimate of the
same frames), the frames only one of them voices, and the frames where their estimates are an
octave or more apart; then jitter, shimmer and HNR as the result gives them, with coverage.

Then the per-chunk cost: Praat's analysis (``praat.measure``) against pYIN on each 30 s AMI
excerpt (best of three, time.perf_counter), and a fresh process's speech ``load()`` plus its
first chunk, with numba's cache empty as in a new container. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.real_data import AMI, AMI_FILES, GRID, GRID_CLIPS, RATE, ami_audio  # noqa: E402
from video_analysis.analyzers.base import DecodedAudio  # noqa: E402
from video_analysis.analyzers.speech import SpeechAnalyzer, activity, praat, voice  # noqa: E402
from video_analysis.schemas.parts import SpeechPart  # noqa: E402
from video_analysis.settings import Settings  # noqa: E402

MIN_FRAMES = 25  # 0.5 s of voicing
AGREE_PERCENT = 3.0  # the issue's bar for median F0
OCTAVE = 1.8  # estimates this far apart (either way) are an octave error of one of them


def pyin_f0(x: NDArray[np.float32], frames: int) -> NDArray[np.float64]:
    """pYIN as the service ran it before Praat (NaN where unvoiced)."""
    import librosa

    f0, voiced, _ = librosa.pyin(
        x, fmin=65.0, fmax=400.0, sr=RATE, frame_length=1024, hop_length=320
    )
    out = np.where(voiced, f0, np.nan)[:frames]
    return np.asarray(out, dtype=np.float64)


def grid_audio(clip: str) -> NDArray[np.float32]:
    """The clip's sound track, mono 16 kHz, decoded and resampled with PyAV."""
    import av

    pieces = []
    with av.open(str(GRID / f"{clip}.mpg")) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        for frame in container.decode(audio=0):
            pieces.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
        pieces.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    return np.concatenate(pieces).astype(np.float32)


def rttm_turns() -> dict[str, list[tuple[float, float, str]]]:
    turns: dict[str, list[tuple[float, float, str]]] = {}
    for line in (AMI / "train.rttm").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[0] == "SPEAKER":
            start = float(fields[3])
            turns.setdefault(fields[1], []).append((start, start + float(fields[4]), fields[7]))
    return turns


def alone(turns: list[tuple[float, float, str]], who: str, t: float) -> bool:
    """``who`` speaks at ``t`` and nobody else does."""
    speaking = {name for start, end, name in turns if start <= t < end}
    return speaking == {who}


def words_of(part: SpeechPart) -> list[tuple[float, float]]:
    return [(w.start, w.end) for s in part.segments if s.flag is None for w in s.words]


def with_f0(part: SpeechPart, f0: NDArray[np.float64]) -> SpeechPart:
    assert part.track is not None
    return part.model_copy(update={"track": part.track.model_copy(update={"f0": np.round(f0, 1)})})


def row(
    label: str, sex: str, part: SpeechPart, pyin: SpeechPart, spans: list[tuple[float, float]]
) -> dict[str, Any] | None:
    spans = activity.union(spans)
    praat_f0 = voice.frames_within([part], spans, "f0")
    pyin_values = voice.frames_within([pyin], spans, "f0")
    if min(praat_f0.size, pyin_values.size) < MIN_FRAMES:
        return None
    # Frame by frame, on the same grid: where both voice, and where only one does.
    assert part.track is not None and pyin.track is not None
    mask = voice.span_mask(
        [(a - part.track.start, b - part.track.start) for a, b in spans], len(part.track.f0)
    )
    a, b = part.track.f0[mask], pyin.track.f0[mask]
    both = np.isfinite(a) & np.isfinite(b)
    ratio = a[both] / b[both]
    db = voice.frames_within([part], spans, "db")
    measures = voice.voice_measures_of(
        voice.stretches_within([part], spans), voice.frames_within([part], spans, "hnr"), db.size
    )
    median_praat, median_pyin = float(np.median(praat_f0)), float(np.median(pyin_values))
    # The same pooling without the result's minimum, to show what too little voicing gives.
    stretches = voice.stretches_within([part], spans)
    periods = sum(s.periods for s in stretches)
    hnr = voice.frames_within([part], spans, "hnr")
    raw = (
        sum(s.jitter_percent * s.periods for s in stretches) / periods if periods else None,
        sum(s.shimmer_percent * s.periods for s in stretches) / periods if periods else None,
        float(np.mean(hnr)) if hnr.size else None,
    )
    return {
        "label": label,
        "sex": sex,
        "frames": (int(pyin_values.size), int(praat_f0.size)),
        "pyin": median_pyin,
        "praat": median_praat,
        "diff": 100 * (median_praat / median_pyin - 1),
        "both": int(both.sum()),
        "both_diff": 100 * (float(np.median(a[both])) / float(np.median(b[both])) - 1)
        if both.any()
        else float("nan"),
        "only_praat": int((np.isfinite(a) & ~np.isfinite(b)).sum()),
        "only_pyin": int((~np.isfinite(a) & np.isfinite(b)).sum()),
        "octave": int(((ratio > OCTAVE) | (ratio < 1 / OCTAVE)).sum()),
        "voice": measures,
        "raw": raw,
    }


def fmt(value: float | None, raw: float | None, digits: int = 2) -> str:
    """The result's figure, or in brackets what the stretches give under its minimum."""
    if value is not None:
        return f"{value:.{digits}f}"
    return "-" if raw is None else f"({raw:.{digits}f})"


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        f"{'recording/speaker':24} {'sex':3} {'frames pYIN/Praat':>17} {'pYIN Hz':>8} "
        f"{'Praat Hz':>8} {'diff %':>7} {'<=3%':>4} | {'both':>4} {'both %':>6} "
        f"{'only Praat':>10} {'only pYIN':>9} {'octave':>6} | {'jitter %':>8} "
        f"{'shimmer %':>9} {'HNR dB':>6} {'periods':>7} {'cover':>5} {'HNR cover':>9}"
    )
    for r in rows:
        v = r["voice"]
        print(
            f"{r['label']:24} {r['sex']:3} {r['frames'][0]:>8}/{r['frames'][1]:<8} "
            f"{r['pyin']:8.1f} {r['praat']:8.1f} {r['diff']:+7.1f} "
            f"{'yes' if abs(r['diff']) <= AGREE_PERCENT else 'NO':>4} | {r['both']:>4} "
            f"{r['both_diff']:+6.1f} {r['only_praat']:>10} {r['only_pyin']:>9} "
            f"{r['octave']:>6} | {fmt(v.jitter_local_percent, r['raw'][0]):>8} "
            f"{fmt(v.shimmer_local_percent, r['raw'][1]):>9} "
            f"{fmt(v.hnr_db, r['raw'][2], 1):>6} {v.periods:>7} "
            f"{v.coverage:5.2f} {v.hnr_coverage:9.2f}"
        )
    within = sum(abs(r["diff"]) <= AGREE_PERCENT for r in rows)
    print(
        f"\nmedian F0 within {AGREE_PERCENT:.0f}%: {within} of {len(rows)} rows; (figures) in "
        f"brackets: under the result's minimum ({voice.MIN_PERIODS} periods, "
        f"{voice.MIN_HNR_FRAMES} voiced frames), null in the result"
    )


def agreement(analyzer: SpeechAnalyzer) -> None:
    rows: list[dict[str, Any]] = []
    turns = rttm_turns()
    for name in AMI_FILES:
        x = ami_audio(name)
        part = analyzer.analyze_audio(DecodedAudio(name, 0, 0.0, x.size / RATE, RATE, x))
        if part.track is None:
            continue
        pyin = with_f0(part, pyin_f0(x, len(part.track.f0)))
        for who in sorted({w for _, _, w in turns[name]}):
            spans = [(a, b) for a, b in words_of(part) if alone(turns[name], who, (a + b) / 2)]
            found = row(f"{name} {who}", who[0], part, pyin, spans)
            if found is not None:
                rows.append(found)
    for clip in GRID_CLIPS:
        x = grid_audio(clip)
        part = analyzer.analyze_audio(DecodedAudio(clip, 0, 0.0, x.size / RATE, RATE, x))
        if part.track is None:
            continue
        pyin = with_f0(part, pyin_f0(x, len(part.track.f0)))
        found = row(f"GRID {clip}", "?", part, pyin, words_of(part))
        if found is not None:
            rows.append(found)
    print_table(rows)


def per_chunk_cost() -> None:
    import librosa
    import parselmouth

    print("\nper 30 s chunk (best of 3): pYIN (librosa.pyin) against Praat (praat.measure)")
    librosa.pyin(np.zeros(RATE // 2, dtype=np.float32), fmin=65.0, fmax=400.0, sr=RATE)
    for name in AMI_FILES:
        x = ami_audio(name)
        frames = voice.rms_db(x).size
        pyin_s, praat_s = [], []
        for _ in range(3):
            started = time.perf_counter()
            pyin_f0(x, frames)
            pyin_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            praat.measure(
                parselmouth, x, frames=frames, hop_s=voice.HOP_S, offset=0.0, speech=[(0.0, 30.0)]
            )
            praat_s.append(time.perf_counter() - started)
        print(f"{name}: pYIN {min(pyin_s):.3f} s, Praat {min(praat_s):.3f} s")


COLD = """
import time
started = time.perf_counter()
import numpy as np
from video_analysis.analyzers.base import DecodedAudio
from video_analysis.analyzers.speech import SpeechAnalyzer
from video_analysis.settings import Settings
from tests.real_data import ami_audio
x = ami_audio("trn03")
analyzer = SpeechAnalyzer(Settings())
analyzer.load()
loaded = time.perf_counter()
part = analyzer.analyze_audio(DecodedAudio("cold", 0, 0.0, x.size / 16000, 16000, x))
done = time.perf_counter()
print(f"load {loaded - started:.1f} s, first 30 s chunk {done - loaded:.1f} s "
      f"(features {part.timing['features_s']:.2f} s)")
"""


def cold_start() -> None:
    """A fresh process: numba's cache in an empty folder, as in a new container."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        out = subprocess.run(
            [sys.executable, "-c", COLD], cwd=ROOT, env=env, capture_output=True, text=True
        )
    print(f"\nfresh process, empty numba cache: {out.stdout.strip() or out.stderr[-500:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timing-only", action="store_true", help="skip the agreement table")
    args = parser.parse_args()
    if not (AMI / "train.rttm").is_file() or not GRID.is_dir():
        print(f"no AMI excerpts or GRID clips in {AMI.parent}; see ../shared/data/README.md")
        return 1
    if not args.timing_only:
        analyzer = SpeechAnalyzer(Settings())
        analyzer.load()
        agreement(analyzer)
    per_chunk_cost()
    cold_start()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
