"""The face and pose roles' frame rows of a whole video as columns: what the join reads of them
once their sections are summarised.

The timeline, each word's camera figures and the facial action units read a few fields of
every sampled frame, after the face and pose sections are built. Held as rows (a slotted
dataclass per frame, a float object per number, a dict of scores), an hour's 18,000 face and
18,000 pose rows took 32 MiB of the join while both were held; as these arrays they take
about 3. Each role's rows are read into its columns right after its section is summarised, so
the join never holds both roles' rows at once (``benchmarks/join_service.py``).

Rows come as the parts hold them, in any order and possibly twice; the columns hold each frame
once, in time order (``timeseries.unique_rows``). A number a row lacks is NaN.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..schemas.parts import ActionUnitMeasures, FaceFrame, PoseFrame
from . import timeseries as ts
from .face import LABELS

#: The action units' measures, in the order of ``PoseColumns.units``' columns.
UNIT_KEYS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ActionUnitMeasures))


@dataclass(frozen=True)
class FaceColumns:
    """The face role's rows: frame, time, faces found and the expression scores."""

    index: NDArray[np.int64]
    t: NDArray[np.float64]
    faces: NDArray[np.int64]
    #: One row per frame, one column per label of ``LABELS``; NaN where no face was scored.
    scores: NDArray[np.float64]

    @classmethod
    def of(cls, rows: Iterable[FaceFrame]) -> FaceColumns:
        ordered = ts.unique_rows(rows)
        return cls(
            index=np.array([r.index for r in ordered], dtype=np.int64),
            t=np.array([r.t for r in ordered], dtype=np.float64),
            faces=np.array([r.faces for r in ordered], dtype=np.int64),
            scores=_filled(
                len(LABELS),
                ([r.scores[label] for label in LABELS] if r.scores else None for r in ordered),
            ),
        )

    def __len__(self) -> int:
        return int(self.index.size)

    def top(self, k: int) -> str | None:
        """The expression model's top label of the ``k``-th frame; None where it scored no
        face."""
        row = self.scores[k]
        return None if np.isnan(row[0]) else LABELS[int(row.argmax())]

    def with_scores(self, changed: dict[int, dict[str, float]]) -> FaceColumns:
        """These columns with the scores of the frames in ``changed`` (by frame index)
        replaced."""
        if not changed:
            return self
        scores = self.scores.copy()
        for k, index in enumerate(self.index.tolist()):
            if index in changed:
                scores[k] = [changed[index][label] for label in LABELS]
        return dataclasses.replace(self, scores=scores)


@dataclass(frozen=True)
class PoseColumns:
    """The pose role's rows: frame, time, and what the timeline, the words and the action
    units read of the face, gaze, head and hands."""

    index: NDArray[np.int64]
    t: NDArray[np.float64]
    face: NDArray[np.bool_]
    #: 1.0 looking at the camera, 0.0 not, NaN not measured.
    looking: NDArray[np.float64]
    yaw: NDArray[np.float64]
    pitch: NDArray[np.float64]
    body_checked: NDArray[np.bool_]
    #: Hands found on a frame whose body and hands were looked for (0 elsewhere).
    hands: NDArray[np.int64]
    #: One row per frame, one column per measure of ``UNIT_KEYS``; NaN where the face's
    #: landmarks were not measured.
    units: NDArray[np.float64]

    @classmethod
    def of(cls, rows: Iterable[PoseFrame]) -> PoseColumns:
        ordered = ts.unique_rows(rows)
        return cls(
            index=np.array([r.index for r in ordered], dtype=np.int64),
            t=np.array([r.t for r in ordered], dtype=np.float64),
            face=np.array([bool(r.face) for r in ordered], dtype=np.bool_),
            looking=_or_nan(float(r.looking) if r.looking is not None else None for r in ordered),
            yaw=_or_nan(r.yaw for r in ordered),
            pitch=_or_nan(r.pitch for r in ordered),
            body_checked=np.array([bool(r.body_checked) for r in ordered], dtype=np.bool_),
            hands=np.array([len(r.hands or []) for r in ordered], dtype=np.int64),
            units=_filled(len(UNIT_KEYS), (_measures(r.action_units) for r in ordered)),
        )

    def __len__(self) -> int:
        return int(self.index.size)

    def measured(self) -> NDArray[np.bool_]:
        """Which frames have their action units measured."""
        measured: NDArray[np.bool_] = ~np.isnan(self.units[:, 0])
        return measured


def _or_nan(values: Iterable[float | None]) -> NDArray[np.float64]:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _filled(width: int, rows: Iterable[list[float] | None]) -> NDArray[np.float64]:
    """One row of ``width`` numbers per item of ``rows``; NaN for an item that is None."""
    items = list(rows)
    table = np.full((len(items), width), np.nan)
    for k, values in enumerate(items):
        if values is not None:
            table[k] = values
    return table


def _measures(units: ActionUnitMeasures | None) -> list[float] | None:
    return None if units is None else [float(getattr(units, key)) for key in UNIT_KEYS]
