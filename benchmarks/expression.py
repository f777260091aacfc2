"""Apparent facial expression on real labelled clips: does the service read what people see?

    .venv/bin/python benchmarks/expression.py

The thirteen clips of ``../shared/data/expression`` (MEAD and CREMA-D actors, 2-12 s each,
with ``labels.csv``; never copied into the repo) go through ``analyze_file`` as ``video-analysis
analyze`` runs it: the splitter samples and downsizes the frames, the analyzers read each
batch, and the summary gives the video's dominant apparent expression
(``face.expression.dominant``, the label of most frames). Twice: with the face analyzer alone
(the expression model's labels), then with the pose analyzer as well, whose face landmarks
give the facial action units and, with them, disgust where the model reads angry or sad
(``VA_FACE_ACTION_UNIT_RULE``).

Per clip it prints the label, the dominant expression read and that label's share of the
frames with a face (with the action units, also the share of frames where the nose wrinkler,
the upper-lip raiser and the brow lowerer are active, and the frames the rule changed); then
the confusion table of the clips whose label is one of the model's seven (contempt is not),
rows the truth and columns what was read, and how many were read right. A finer figure, which
moves before a whole clip flips: the share of each clip's frames whose top label is the truth,
averaged over the clips in contract. Prints figures; asserts nothing.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.real_data import EXPRESSION, expression_labels  # noqa: E402
from video_analysis.analyzers.face import LABELS  # noqa: E402
from video_analysis.pipeline import analyze_file  # noqa: E402
from video_analysis.schemas import AnalysisResult  # noqa: E402
from video_analysis.settings import Settings  # noqa: E402

SHORT = {label: label[:4] for label in LABELS}


def read(path: Path, settings: Settings) -> tuple[AnalysisResult, dict[str, float], str | None]:
    """The result, the share of the clip's frames with a face by top label, and its dominant
    apparent expression."""
    result = analyze_file(path, settings, video_id=path.stem)
    expression = result.face.expression
    if expression is None or expression.dominant is None or expression.distribution is None:
        return result, {}, None
    return result, expression.distribution, expression.dominant


def run(truths: dict[str, str], settings: Settings, title: str) -> None:
    with_units = "pose" in settings.frame_analyzers
    confusion = {truth: dict.fromkeys(LABELS, 0) for truth in LABELS}
    right = judged = 0
    frames_right = 0.0
    started = time.perf_counter()
    print(f"\n== {title}")
    extra = f" {'AU9':>4} {'AU10':>4} {'AU4':>4} {'rule':>4}" if with_units else ""
    print(f"{'clip':22} {'truth':9} {'read':9} {'share':>5} {'faces':>5}{extra}")
    for name, truth in truths.items():
        result, distribution, dominant = read(EXPRESSION / name, settings)
        faces = result.face.frames_with_face or 0
        share = distribution.get(dominant) if dominant else None
        mark = ""
        if truth in LABELS:
            judged += 1
            frames_right += distribution.get(truth, 0.0)
            if dominant in LABELS:
                confusion[truth][dominant] += 1
            right += dominant == truth
            mark = "  ok" if dominant == truth else ""
        else:
            mark = "  (out of contract)"
        shown = "-" if share is None else f"{share:.2f}"
        columns = _action_units(result) if with_units else ""
        print(f"{name:22} {truth:9} {dominant or '-':9} {shown:>5} {faces:5d}{columns}{mark}")
    print(f"\nconfusion ({judged} clips in contract; rows truth, columns read):")
    print(" " * 9 + "".join(f"{SHORT[label]:>5}" for label in LABELS))
    for truth in LABELS:
        print(f"{truth:9}" + "".join(f"{confusion[truth][read]:5d}" for read in LABELS))
    elapsed = time.perf_counter() - started
    print(f"\nright: {right} of {judged} in-contract ({elapsed:.1f} s)")
    print(f"frames read right: {frames_right / max(1, judged):.3f} (mean over the clips)")
    missed = [label for label in LABELS if confusion[label][label] == 0]
    print(f"classes never read right: {', '.join(missed) or 'none'}")


def _action_units(result: AnalysisResult) -> str:
    """Active shares of AU9, AU10 and AU4, and the frames the rule read as disgust."""
    units = result.face.action_units
    expression = result.face.expression
    if units is None or not units.units:
        return f" {'-':>4} {'-':>4} {'-':>4} {'-':>4}"
    shares = [
        units.units[k].active_share for k in ("nose_wrinkler", "upper_lip_raiser", "brow_lowerer")
    ]
    changed = (expression.action_unit_frames or {}) if expression is not None else {}
    return "".join(f" {v:4.2f}" for v in shares) + f" {sum(changed.values()):4d}"


def main() -> int:
    truths = expression_labels()
    if not truths:
        print(f"no expression clips in {EXPRESSION}; see ../shared/data/README.md")
        return 1
    run(truths, Settings(frame_analyzers=["face"], audio_analyzers=[]), "expression model alone")
    run(
        truths,
        Settings(frame_analyzers=["face", "pose"], audio_analyzers=[]),
        "with the facial action units (face and pose analyzers, VA_FACE_ACTION_UNIT_RULE)",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
