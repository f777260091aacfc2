"""Real recordings of real people from ``../shared/data`` (beside the checkout), and their truth.

AMI meeting excerpts (30 s, 16 kHz, who speaks when in ``train.rttm``), GRID talking-head
clips (3 s, one sentence each, ``transcripts.tsv``), spontaneous Korean utterances (1-6 s,
``korean/transcripts.tsv``; internal evaluation only) and faces showing a known expression
(2-12 s, ``expression/labels.csv``); the folder's README says what each is.
Tests that need them skip with a reason when the folder is absent; benchmarks import the
readers and the scoring from here so that both measure the same way.
"""

from __future__ import annotations

import csv
import re
import subprocess
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
AMI = DATA / "ami"
GRID = DATA / "grid"
KOREAN = DATA / "korean"
EXPRESSION = DATA / "expression"
FILLERS = DATA / "fillers"
FILLERS_RECORDING = "acoustic_corpus"
RATE = 16_000
AMI_FILES = tuple(f"trn0{k}" for k in range(1, 10))
GRID_CLIPS = ("id2_vcd_swwp2s", "lwbsza", "sbia1a", "sbwe5n", "swiz3n")
SCORE_STEP_S = 0.01  # the grid on which turns are compared with the truth

needs_ami = pytest.mark.skipif(
    not (AMI / "train.rttm").is_file(),
    reason=f"the AMI excerpts are not in {AMI} (the shared data folder beside the checkout)",
)
needs_korean = pytest.mark.skipif(
    not (KOREAN / "transcripts.tsv").is_file(),
    reason=f"the Korean utterances are not in {KOREAN} (the shared data folder beside the "
    "checkout)",
)
needs_expression = pytest.mark.skipif(
    not (EXPRESSION / "labels.csv").is_file(),
    reason=f"the expression clips are not in {EXPRESSION} (the shared data folder beside the "
    "checkout)",
)
needs_fillers = pytest.mark.skipif(
    not (FILLERS / f"{FILLERS_RECORDING}.TextGrid").is_file(),
    reason=f"the verbatim recording with fillers is not in {FILLERS} (the shared data folder "
    "beside the checkout)",
)
needs_grid = pytest.mark.skipif(
    not all((GRID / f"{clip}.mpg").is_file() for clip in GRID_CLIPS),
    reason=f"the GRID clips are not in {GRID} (the shared data folder beside the checkout)",
)


def ami_audio(name: str) -> NDArray[np.float32]:
    return _wav(AMI / f"{name}.wav")


def _wav(path: Path) -> NDArray[np.float32]:
    """A 16 kHz mono WAV file of the shared folder as float32 samples."""
    import soundfile

    samples, rate = soundfile.read(str(path), dtype="float32")
    if rate != RATE:
        raise ValueError(f"{path.stem}: expected {RATE} Hz, got {rate}")
    return np.asarray(samples, dtype=np.float32).reshape(-1)


def grid_audio(clip: str) -> NDArray[np.float32]:
    """The clip's sound track, mono 16 kHz float32 (decoded by ffmpeg)."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(GRID / f"{clip}.mpg"), "-ac", "1", "-ar", str(RATE)]
        + ["-f", "f32le", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, dtype=np.float32).copy()


def korean_transcripts() -> dict[str, str]:
    """Each Korean utterance's transcript by its file's stem; empty without the folder."""
    table = KOREAN / "transcripts.tsv"
    if not table.is_file():
        return {}
    rows = (line.split("\t", 1) for line in table.read_text(encoding="utf-8").splitlines())
    return {name: text.strip() for name, text in (r for r in rows if len(r) == 2)}


def korean_audio(name: str) -> NDArray[np.float32]:
    return _wav(KOREAN / f"{name}.wav")


def fillers_audio() -> NDArray[np.float32]:
    return _wav(FILLERS / f"{FILLERS_RECORDING}.wav")


#: The hesitation sounds of the verbatim transcript (its "yknow" is a lexical filler).
FILLED_PAUSES = frozenset({"um", "uh", "er", "erm", "ah", "hmm"})


def filled_pause_times() -> list[tuple[float, str]]:
    """Start and word of each hesitation sound in the recording's Praat TextGrid (its "word"
    tier, from forced alignment)."""
    text = (FILLERS / f"{FILLERS_RECORDING}.TextGrid").read_text()
    tier = text.split('name = "word"', 1)[1].split("class = ", 1)[0]
    intervals = re.findall(r'xmin = ([\d.]+)\s+xmax = [\d.]+\s+text = "([^"]*)"', tier)
    return [(float(start), word) for start, word in intervals if word.lower() in FILLED_PAUSES]


def expression_labels() -> dict[str, str]:
    """Each expression clip's label (what the face was seen or asked to show) by its file
    name, in the order of ``labels.csv``; empty without the folder."""
    table = EXPRESSION / "labels.csv"
    if not table.is_file():
        return {}
    with open(table, newline="", encoding="utf-8") as handle:
        return {row["file"]: row["label"] for row in csv.DictReader(handle)}


def grid_transcripts() -> dict[str, str]:
    rows = (GRID / "transcripts.tsv").read_text().splitlines()
    return {name.removesuffix(".mpg"): text for name, text in (r.split("\t") for r in rows if r)}


def with_noise(x: NDArray[np.float32], snr_db: float, seed: int = 0) -> NDArray[np.float32]:
    """``x`` plus white noise at ``snr_db`` below its power (seeded: the same every time)."""
    noise = np.random.default_rng(seed).standard_normal(x.size)
    scale = np.sqrt(np.mean(x.astype(np.float64) ** 2) / np.mean(noise**2)) * 10 ** (-snr_db / 20)
    return np.asarray(x + scale * noise, dtype=np.float32)


@dataclass(frozen=True)
class Truth:
    speakers: list[str]
    active: NDArray[np.bool_]  # (speakers, frames) on the scoring grid


def ami_truth(duration_s: float = 30.0) -> dict[str, Truth]:
    """Who speaks when in each excerpt (``train.rttm``), on the scoring grid."""
    frames = int(round(duration_s / SCORE_STEP_S)) + 1
    spans: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for line in (AMI / "train.rttm").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[0] == "SPEAKER":
            start, length = float(fields[3]), float(fields[4])
            spans[fields[1]].append((start, start + length, fields[7]))
    out = {}
    for name, rows in spans.items():
        names = sorted({who for _, _, who in rows})
        active = np.zeros((len(names), frames), dtype=bool)
        for start, end, who in rows:
            first, last = int(round(start / SCORE_STEP_S)), int(round(end / SCORE_STEP_S))
            active[names.index(who), first:last] = True
        out[name] = Truth(names, active)
    return out


def turn_labels(turns: list[dict[str, Any]], frames: int) -> NDArray[Any]:
    """The speaker of each frame of the scoring grid ('' where no turn)."""
    labels = np.full(frames, "", dtype=object)
    for turn in turns:
        first = int(round(turn["start"] / SCORE_STEP_S))
        last = int(round(turn["end"] / SCORE_STEP_S))
        labels[first:last] = turn["speaker"]
    return labels


@dataclass(frozen=True)
class SpeakerScore:
    """Over the time where exactly one person speaks in the truth, with the best one-to-one
    mapping of found to true speakers: ``right`` = share given to the right speaker (time
    given to nobody counts as wrong), ``found`` = share given to some speaker, and
    ``right_of_found`` = right / found."""

    right: float
    found: float
    right_of_found: float


def score_turns(truth: Truth, turns: list[dict[str, Any]]) -> SpeakerScore:
    from scipy.optimize import linear_sum_assignment

    labels = turn_labels(turns, truth.active.shape[1])
    single = truth.active.sum(axis=0) == 1
    total = int(single.sum())
    found = int((single & (labels != "")).sum())
    names = sorted({str(v) for v in labels if v})
    if not total or not names:
        return SpeakerScore(0.0, found / total if total else 0.0, 0.0)
    overlap = np.array(
        [[(row & single & (labels == n)).sum() for n in names] for row in truth.active]
    )
    rows, cols = linear_sum_assignment(-overlap)
    right = int(overlap[rows, cols].sum())
    return SpeakerScore(right / total, found / total, right / found if found else 0.0)


DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SINO_DIGITS = ("영", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구")
SINO_UNITS = ((1000, "천"), (100, "백"), (10, "십"))


def sino_korean(number: int) -> str:
    """``number`` read the Sino-Korean way, as a Korean transcript spells it: 3 삼, 15 십오,
    250 이백오십, 20000 이만. One before a unit is left out (십, 백, 천, 만)."""
    if number == 0:
        return SINO_DIGITS[0]

    def below_10000(n: int) -> str:
        out = ""
        for value, unit in SINO_UNITS:
            count, n = divmod(n, value)
            if count:
                out += ("" if count == 1 else SINO_DIGITS[count]) + unit
        return out + (SINO_DIGITS[n] if n else "")

    out = ""
    for value, unit in ((10**8, "억"), (10**4, "만")):
        count, number = divmod(number, value)
        if count:
            out += ("" if count == 1 and unit == "만" else below_10000(count)) + unit
    return out + (below_10000(number) if number else "")


def _is_hangul(c: str) -> bool:
    return "\uac00" <= c <= "\ud7a3"


def character_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over characters (lower case, spaces and punctuation dropped,
    digits spelled out in English as GRID's transcripts have them) divided by the
    reference's length."""
    distance, length = character_distance(reference, hypothesis)
    return distance / max(1, length)


def character_distance(reference: str, hypothesis: str) -> tuple[int, int]:
    """The Levenshtein distance of ``character_error_rate`` and the reference's length in
    characters (to add up over several utterances). Against a Korean reference (Hangul in it,
    numbers written as spoken, as KsponSpeech's are) numbers are read the Sino-Korean way:
    Whisper writes "3점" for 삼 점."""
    korean = any(_is_hangul(c) for c in reference)

    def chars(text: str) -> list[str]:
        if korean:
            spelled = re.sub(r"\d+", lambda m: sino_korean(int(m.group())), text)
        else:
            spelled = "".join(f" {DIGITS[int(c)]} " if c.isdigit() else c for c in text.lower())
        return [c for c in spelled if c.isalnum()]

    ref = chars(reference)
    return edit_distance(ref, chars(hypothesis)), len(ref)


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance between two token sequences (characters or words): the
    substitutions, deletions and insertions that turn ``reference`` into ``hypothesis``."""
    previous = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, 1):
        current = [i]
        for j, h in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]
