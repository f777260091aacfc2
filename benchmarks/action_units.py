"""How far a talking, neutral face moves each facial action unit: the evidence for the active
thresholds of ``video_analysis/analyzers/action_units.py``.

    .venv/bin/python benchmarks/action_units.py [--fps 25]

The five GRID talking heads of ``../shared/data/grid`` (five people reading a sentence with a
neutral face, frontal, 3 s each) go through ``analyze_file`` with the face and pose analyzers,
every frame sampled (``--fps``). Each clip's movements are measured against that person's
neutral face as the service measures them (``action_units.neutral`` and ``intensities``), and
the 95th percentile of each unit's movement is printed per person and over all five, beside the
threshold in use. The two CREMA-D clips of ``../shared/data/expression`` that people saw as
neutral (one actor) are printed too: the thresholds were first read from them, in the folder
whose clips the expression benchmark judges. A threshold under the talkers' 95th percentile
calls ordinary talking an action. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from measure import analysed_parts  # noqa: E402

from tests.real_data import EXPRESSION, GRID, GRID_CLIPS  # noqa: E402
from video_analysis.analyzers import action_units as au  # noqa: E402
from video_analysis.analyzers.frame_columns import FaceColumns, PoseColumns  # noqa: E402
from video_analysis.schemas.parts import FacePart, PosePart  # noqa: E402
from video_analysis.settings import Settings  # noqa: E402

NEUTRAL_CLIPS = ("1001_DFA_NEU_XX.flv", "1001_DFA_SAD_XX.flv")
PERCENTILE = 95


def movements(path: Path, settings: Settings) -> tuple[np.ndarray[Any, Any], str]:
    """Each measured frame's movement from the person's neutral (frames x units), and where
    the neutral came from."""
    _, parts = analysed_parts(path, settings, path.stem)
    pose_rows, face_rows = [], []
    for part in parts:
        if part.error is not None:
            continue
        if part.analyzer == "pose":
            pose_rows += PosePart.model_validate(part.data).frames
        elif part.analyzer == "face":
            face_rows += FacePart.model_validate(part.data).frames
    pose = PoseColumns.of(pose_rows)
    found = au.neutral(pose, FaceColumns.of(face_rows))
    if found is None:
        return np.zeros((0, len(au.UNITS))), "no landmarks"
    baseline, source, count = found
    table = au.intensities(pose, baseline).values
    return table, f"{count} frames, {source}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fps", type=float, default=25.0, help="frames sampled per second")
    args = parser.parse_args()
    settings = Settings(frame_analyzers=["face", "pose"], audio_analyzers=[], frame_rate=args.fps)
    groups = {
        "GRID": [GRID / f"{clip}.mpg" for clip in GRID_CLIPS],
        "CREMA-D neutral": [EXPRESSION / name for name in NEUTRAL_CLIPS],
    }
    pooled: dict[str, list[np.ndarray[Any, Any]]] = {}
    header = f"{'clip':24} {'frames':>6} " + " ".join(f"{u.au:>7}" for u in au.UNITS)
    print(
        f"{PERCENTILE}th percentile of movement from the person's neutral (inter-ocular "
        f"distances), frames sampled at {args.fps:g} fps\n"
    )
    print(header)
    print(f"{'threshold in use':24} {'':>6} " + " ".join(f"{u.active:7.3f}" for u in au.UNITS))
    for group, paths in groups.items():
        for path in paths:
            table, source = movements(path, settings)
            pooled.setdefault(group, []).append(table)
            if not len(table):
                print(f"{path.stem:24} {0:6d}  ({source})")
                continue
            p = np.percentile(table, PERCENTILE, axis=0)
            print(f"{path.stem:24} {len(table):6d} " + " ".join(f"{v:7.3f}" for v in p))
        every = np.concatenate([t for t in pooled[group] if len(t)])
        p = np.percentile(every, PERCENTILE, axis=0)
        print(f"{'= ' + group + ' pooled':24} {len(every):6d} " + " ".join(f"{v:7.3f}" for v in p))
    grid = np.concatenate([t for t in pooled["GRID"] if len(t)])
    print("\nshare of GRID's talking frames each threshold in use calls active:")
    print(
        " ".join(
            f"{u.au}: {float(np.mean(grid[:, k] >= u.active)):.3f}" for k, u in enumerate(au.UNITS)
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
