"""Finding faces at every distance: the one face detector the face and the pose roles share.

MediaPipe ships two face detection models, and neither covers an interview on its own:

- the short-range model (``model_selection=0``, 128x128 input) is made for faces within about
  2 m of the camera: a laptop or phone close-up. The full-range model misses most of those
  (GRID talking heads cropped so that the face fills the frame: full range found the face in
  7-80% of the frames, short range in all of them);
- the full-range model (``model_selection=1``, 192x192 input) is made for small, distant
  faces. The short-range model letterboxes the frame to 128x128, so in a 640x360 frame a face
  73 px high (a candidate sitting back from a webcam) scores 0.54, at the threshold, where the
  full-range one gives 0.84; under about 70 px the short-range model finds nothing.

So the short-range model runs first, and the full-range one too unless the short-range model
is sure of a face (``SURE_SCORE``); their detections are then merged, best score first, one per
face (``merge``). On one core here the short-range model costs 0.9 ms a 640x360 frame and the
full-range one 2.5 ms; the face role used to run the full-range model alone. Running both on
every frame would cost 2.5 ms more a frame in each role wherever the candidate sits close to
the camera; what it would add there is a second, small face behind the close one, which the
short-range model misses (it finds faces down to about a tenth of the frame's long side).

Where mediapipe is not installed, OpenCV's bundled Haar cascade stands in (frontal, upright
faces only). The face and pose roles build their detector here, so that both say the same
thing about whether a frame has a face.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
from numpy.typing import NDArray

from ..errors import MissingExtra

log = logging.getLogger(__name__)

# MediaPipe's usual threshold, for each model.
MIN_DETECTION_CONFIDENCE = 0.5
# A short-range detection this sure is a face within the model's range: the full-range model
# is not run. Faces within range score 0.78-0.97 (GRID talking heads as recorded and cropped
# to a close-up, skimage's astronaut); one at the edge of its range scores 0.5-0.75 (the
# astronaut 73 px high in a 640x360 frame: 0.54, where the full-range model gives 0.84), and so
# does a face cut off by the frame's edges (GRID cropped closer than brows to chin: 0.51-0.80).
SURE_SCORE = 0.8
# Two detections overlapping by more than this (intersection over the smaller box) are one
# face seen by both models: the two models' boxes of one face overlap by 0.95-1.0 (GRID as
# recorded and cropped, the astronaut at many sizes), though they differ in size (full
# range's is ~8% larger on the GRID faces); two people's faces hardly overlap at all.
SAME_FACE_OVERLAP = 0.5
# Boxes thinner than this (pixels) once clipped to the frame are dropped: nothing to crop.
MIN_BOX_PX = 2
# Haar: ignore "faces" under a tenth of the short side (texture, not the candidate).
HAAR_MIN_FACE_SHARE = 0.1


@dataclass(frozen=True)
class Face:
    """One detected face in pixels of the frame it was found in."""

    box: tuple[int, int, int, int]  # x, y, w, h, clipped to the frame
    score: float | None  # None where the detector gives none (Haar)
    roll_deg: float = 0.0  # the eye line's angle; turning by it makes the face upright
    model: str = ""  # which model found it: "short-range", "full-range" or "haar"
    # The eye centres in frame pixels, the person's right eye first (on the left of an
    # upright picture); None where the detector gives no keypoints (Haar).
    eyes: tuple[tuple[float, float], tuple[float, float]] | None = None

    @property
    def area(self) -> int:
        return self.box[2] * self.box[3]


class FaceDetector:
    """The faces of one RGB frame."""

    name: ClassVar[str] = "none"

    def detect(self, rgb: NDArray[Any]) -> list[Face]:
        raise NotImplementedError


class MediaPipeFaceDetector(FaceDetector):
    name: ClassVar[str] = "mediapipe-face-detection-short+full-range"

    def __init__(self, mp: Any) -> None:
        solution = mp.solutions.face_detection
        self._short_range = solution.FaceDetection(
            model_selection=0, min_detection_confidence=MIN_DETECTION_CONFIDENCE
        )
        self._full_range = solution.FaceDetection(
            model_selection=1, min_detection_confidence=MIN_DETECTION_CONFIDENCE
        )
        # A MediaPipe graph runs one image at a time; a worker's threads share the detector.
        self._lock = threading.Lock()

    def detect(self, rgb: NDArray[Any]) -> list[Face]:
        with self._lock:
            faces = _faces(self._short_range, rgb, "short-range")
            if not any(face.score is not None and face.score >= SURE_SCORE for face in faces):
                faces += _faces(self._full_range, rgb, "full-range")
        return merge(faces)


class HaarFaceDetector(FaceDetector):
    name: ClassVar[str] = "opencv-haar-frontalface"

    def __init__(self) -> None:
        cascades = cv2.data.haarcascades  # type: ignore[attr-defined]
        path = Path(cascades) / "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise RuntimeError(f"cannot read OpenCV's Haar cascade at {path}")

    def detect(self, rgb: NDArray[Any]) -> list[Face]:
        gray = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        smallest = max(24, round(min(gray.shape[:2]) * HAAR_MIN_FACE_SHARE))
        boxes = self._cascade.detectMultiScale(
            gray, scaleFactor=1.1, minNeighbors=5, minSize=(smallest, smallest)
        )
        return [Face((int(x), int(y), int(w), int(h)), None, model="haar") for x, y, w, h in boxes]


class SharedDetections:
    """The faces of recently analysed frames, for the other analyzer of the same process.

    The face and the pose analyzers look for faces on the same frames with the same detector;
    where both run in one process (``analyze``, the ``all`` role) the second one takes the
    first one's answer instead of running the models again (6.8 ms a 640x360 frame here).
    A frame is known by its video, its index and a fingerprint of its pixels, so another
    video under a reused id never gets these faces. When both ask at once, one detects and
    the other waits for it.
    """

    def __init__(self, capacity: int = 512) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._found: OrderedDict[tuple[Any, ...], Future[list[Face]]] = OrderedDict()

    def faces(
        self, detector: FaceDetector, rgb: NDArray[Any], video_id: str, index: int
    ) -> list[Face]:
        key = (detector.name, video_id, index, rgb.shape, _fingerprint(rgb))
        with self._lock:
            known = self._found.get(key)
            if known is None:
                mine: Future[list[Face]] = Future()
                self._found[key] = mine
                while len(self._found) > self._capacity:
                    self._found.popitem(last=False)
        if known is not None:
            return list(known.result())
        try:
            faces = detector.detect(rgb)
        except BaseException as exc:
            mine.set_exception(exc)
            with self._lock:
                self._found.pop(key, None)
            raise
        mine.set_result(faces)
        return list(faces)


def _fingerprint(rgb: NDArray[Any]) -> int:
    """A cheap checksum of every 8th pixel of every 8th row."""
    return zlib.crc32(np.ascontiguousarray(rgb[::8, ::8]).tobytes())


#: One per process: the face and the pose analyzers share it.
SHARED_DETECTIONS = SharedDetections()


def build_detector() -> FaceDetector:
    """MediaPipe's two models, or the Haar cascade where mediapipe is not installed."""
    try:
        mp = import_mediapipe()
    except MissingExtra:
        log.warning("mediapipe is not installed; using OpenCV's Haar cascade to find faces")
        return HaarFaceDetector()
    return MediaPipeFaceDetector(mp)


def import_mediapipe() -> Any:
    """``mediapipe``, or ``MissingExtra`` naming the extra that installs it."""
    # mediapipe.tasks imports tensorflow, when installed, only for a documentation decorator
    # (mediapipe/tasks/python/core/optional_dependencies.py); that costs seconds and hundreds
    # of MB. Hide tensorflow during the import unless something else has already loaded it.
    hide = "tensorflow" not in sys.modules
    if hide:
        sys.modules["tensorflow"] = None  # type: ignore[assignment]
    try:
        import mediapipe as mp  # type: ignore[import-untyped]
    except ImportError as exc:
        raise MissingExtra("mediapipe", "vision") from exc
    finally:
        if hide and sys.modules.get("tensorflow", 0) is None:
            del sys.modules["tensorflow"]
    return mp


def merge(faces: Sequence[Face], same_face_overlap: float = SAME_FACE_OVERLAP) -> list[Face]:
    """One detection per face, best score first: a detection that overlaps one already kept
    by more than ``same_face_overlap`` (of the smaller box) is the same face again."""
    ranked = sorted(faces, key=lambda f: -1.0 if f.score is None else f.score, reverse=True)
    kept: list[Face] = []
    for face in ranked:
        if all(overlap(face.box, other.box) <= same_face_overlap for other in kept):
            kept.append(face)
    return kept


def overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection of two (x, y, w, h) boxes over the smaller one's area."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    smaller = min(a[2] * a[3], b[2] * b[3])
    if width <= 0 or height <= 0 or smaller <= 0:
        return 0.0
    return width * height / smaller


def largest(faces: Sequence[Face]) -> Face | None:
    """The face the analyzers describe: the largest, which is the candidate's."""
    return max(faces, key=lambda face: face.area, default=None)


def _faces(graph: Any, rgb: NDArray[Any], model: str) -> list[Face]:
    height, width = rgb.shape[:2]
    found = (_face(d, width, height, model) for d in graph.process(rgb).detections or [])
    return [face for face in found if face is not None]


def _face(detection: Any, width: int, height: int, model: str) -> Face | None:
    rel = detection.location_data.relative_bounding_box
    x0 = max(0.0, rel.xmin) * width
    y0 = max(0.0, rel.ymin) * height
    x1 = min(1.0, rel.xmin + rel.width) * width
    y1 = min(1.0, rel.ymin + rel.height) * height
    if x1 - x0 < MIN_BOX_PX or y1 - y0 < MIN_BOX_PX:
        return None
    box = (round(x0), round(y0), round(x1 - x0), round(y1 - y0))
    # Keypoints 0 and 1 are the right and left eye (the person's): upright, the right eye is
    # on the left of the picture.
    right, left = detection.location_data.relative_keypoints[:2]
    roll = math.degrees(math.atan2((left.y - right.y) * height, (left.x - right.x) * width))
    eyes = ((right.x * width, right.y * height), (left.x * width, left.y * height))
    return Face(box, float(detection.score[0]), roll, model, eyes)
