"""The pose role's per-frame measurement with MediaPipe: face detection and Face Mesh for the
face, Pose and Hands for the body.

``analyze_frames`` measures each sampled frame on its own and returns one row per frame with
its timestamp ``t``; everything that spans time (eye-contact episodes, blink rate, movement,
posture changes) is built in ``summarize`` from the rows of every batch sorted by ``t``, so
the batches of one video may be analysed by different workers in any order.

How the MediaPipe solutions are run, and why:

- Whether a frame has a face is decided by the face detection the face role uses too
  (``face_detection``: MediaPipe's short- and full-range models), so that the two roles agree
  frame by frame. Face Mesh then runs on a crop around the largest face (the one the face
  role describes), enlarged when small: Face Mesh's own detector is the short-range model,
  which misses faces under ~70 px of a 640x360 frame. A close-up's crop is the whole frame.
  Measured on the GRID clips scaled down into a larger frame (the face ~75 px high), against
  Face Mesh on the clips as recorded: on the crop, landmarks on 75 of 75 frames and head pose
  within 0.4 (yaw) and 0.7 (pitch) degrees on average; on the whole frame, 62 of 75 and 2.7
  and 1.1 degrees.
- Face Mesh runs in static-image mode on every frame: with one face at webcam resolution it
  costs the same as tracking mode, and each frame's result then depends on that frame alone,
  never on the batch or the video analysed before it.
- Pose and Hands run in tracking mode, which saves their person/palm detector on most frames
  (Pose 30 ms instead of 50 ms a frame), and are ``reset()`` at the start of every batch, under
  the lock, so tracking state cannot leak from one video's batch into another's.
- Pose and Hands run only on frames picked on a fixed time grid of ``pose_body_fps``
  (posture and hand activity change slowly); the pick depends only on a frame's time, not on
  how the video was cut into batches. Pose uses ``model_complexity=1`` because the lighter
  model is not shipped in the mediapipe wheel and would be downloaded at run time.
- Nods and head shakes are not reported: at the default 5 frames per second a nod (a few
  tenths of a second) is one or two samples, too few to tell it from noise.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any, ClassVar

import cv2
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from ...models import model_info as bundle_model_info
from ...models import record_loaded
from ...schemas import ModelInfo, PartSource
from ...schemas.parts import ActionUnitMeasures, Hand, PartData, PoseFrame, PosePart
from ...settings import Settings
from .. import geometry as geo
from .. import timeseries as ts
from ..base import Analyzer, DecodedFrames, SummaryInput
from ..face_detection import (
    SHARED_DETECTIONS,
    Face,
    FaceDetector,
    MediaPipeFaceDetector,
    import_mediapipe,
    largest,
)
from . import blinks, gaze, gestures, head_pose, posture

log = logging.getLogger(__name__)

# The bundle's entry for MediaPipe's solution models: one identity (name, version, sha256 over
# every .tflite file) wherever the face and pose roles use them.
MODEL_NAME = "mediapipe"

# Pose landmarks count when MediaPipe's visibility is at least 0.5.
MIN_VISIBILITY = 0.5
# A hand touches the face when at least 3 of its 21 landmarks lie in the face box (the mesh's
# bounding box, or the detector's without a mesh, widened by 10% on each side).
FACE_TOUCH_MIN_POINTS = 3
FACE_BOX_MARGIN = 0.10
# Face Mesh sees a square of 1.8 times the detected face's side around its centre (clipped
# to the frame), enlarged to at least this many pixels: Face Mesh's own detector then sees
# the face at about half the crop's side, well inside its range.
CROP_SCALE = 1.8
CROP_SIDE = 256
# Pose and Hands see the frame with its longest side at most this (speed; their models work
# on 224-256 px crops anyway).
BODY_MAX_SIDE = 640

FaceBox = tuple[float, float, float, float]  # x0, y0, x1, y1 relative to the frame


class PoseAnalyzer(Analyzer):
    name: ClassVar[str] = "pose"
    sources: ClassVar[tuple[PartSource, ...]] = (PartSource.FRAMES,)
    sections: ClassVar[tuple[str, ...]] = ("gaze", "head_pose", "blinks", "posture", "gestures")
    frames_data: ClassVar[type[PartData] | None] = PosePart

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._detector: FaceDetector | None = None
        self._face_mesh: Any = None
        self._pose: Any = None
        self._hands: Any = None
        self._info: ModelInfo | None = None
        # MediaPipe graphs are not safe to share between threads, and a batch must run from
        # reset to end without another batch's frames in between.
        self._lock = threading.Lock()

    def load(self) -> None:
        started = time.monotonic()
        mp = import_mediapipe()
        solutions = mp.solutions
        self._detector = MediaPipeFaceDetector(mp)
        self._face_mesh = solutions.face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=1,
            refine_landmarks=True,
            min_detection_confidence=0.5,
        )
        self._pose = solutions.pose.Pose(
            static_image_mode=False,
            model_complexity=1,
            smooth_landmarks=False,  # per-frame measurements; smoothing would hide movement
            enable_segmentation=False,
            min_detection_confidence=0.5,
            min_tracking_confidence=0.5,
        )
        self._hands = solutions.hands.Hands(
            static_image_mode=False,
            max_num_hands=2,
            model_complexity=1,
            min_detection_confidence=0.5,
            min_tracking_confidence=0.5,
        )
        self._info = bundle_model_info(self._settings, MODEL_NAME).model_copy(
            update={"analyzer": self.name, "version": str(mp.__version__)}
        )
        record_loaded(MODEL_NAME, load_time_s=round(time.monotonic() - started, 3), device="cpu")

    @property
    def model_info(self) -> ModelInfo:
        if self._info is None:
            return ModelInfo(analyzer=self.name, name=MODEL_NAME, version="unknown")
        return self._info

    def analyze_frames(self, batch: DecodedFrames) -> PosePart:
        if self._face_mesh is None:
            raise RuntimeError("PoseAnalyzer.load() must be called before analyze_frames()")
        body_fps = self._settings.pose_body_fps
        rows: list[PoseFrame] = []
        with self._lock:
            self._pose.reset()
            self._hands.reset()
            for frame in batch.frames:
                rgb = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)
                row = PoseFrame(index=frame.index, t=round(float(frame.t), 4))
                face_box = self._measure_face(rgb, row, batch.video_id)
                if _on_body_grid(float(frame.t), batch.sample_fps, body_fps):
                    self._measure_body(rgb, row, face_box)
                rows.append(row)
        return PosePart(sample_fps=batch.sample_fps, frames=rows)

    def _measure_face(self, rgb: NDArray[Any], row: PoseFrame, video_id: str) -> FaceBox | None:
        """Fill the row's face figures; return the face's box for the face-touch test."""
        assert self._detector is not None
        height, width = rgb.shape[:2]
        face = largest(SHARED_DETECTIONS.faces(self._detector, rgb, video_id, row.index))
        row.face = face is not None
        if face is None:
            return None
        mesh = self._face_mesh_points(rgb, face)
        row.landmarks = mesh is not None
        if mesh is None:
            x, y, w, h = face.box
            mx, my = w * FACE_BOX_MARGIN, h * FACE_BOX_MARGIN
            return (x - mx) / width, (y - my) / height, (x + w + mx) / width, (y + h + my) / height
        pts = mesh[:, :2]
        angles = geo.head_pose(mesh)
        ear = (
            geo.eye_aspect_ratio(pts[list(geo.RIGHT_EYE_EAR)])
            + geo.eye_aspect_ratio(pts[list(geo.LEFT_EYE_EAR)])
        ) / 2
        row.ear = round(ear, 4)
        measures = geo.action_units(mesh)
        if measures is not None:
            row.action_units = ActionUnitMeasures(
                **{name: round(value, 4) for name, value in measures.items()}
            )
        if angles is not None:
            yaw, pitch, roll = angles
            row.yaw, row.pitch, row.roll = round(yaw, 2), round(pitch, 2), round(roll, 2)
            if len(pts) > max(geo.LEFT_EYE_IRIS):
                offsets = [
                    geo.iris_offset(*pts[list(eye)])
                    for eye in (geo.RIGHT_EYE_IRIS, geo.LEFT_EYE_IRIS)
                ]
                dx = float(np.mean([o[0] for o in offsets]))
                dy = float(np.mean([o[1] for o in offsets]))
                gaze_yaw, gaze_pitch = geo.gaze_angles(yaw, pitch, dx, dy)
                row.gaze_yaw, row.gaze_pitch = round(gaze_yaw, 2), round(gaze_pitch, 2)
                row.looking = gaze.looking_at_camera(gaze_yaw, gaze_pitch)
                row.direction = None if row.looking else gaze.gaze_direction(gaze_yaw, gaze_pitch)
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        mx, my = (x1 - x0) * FACE_BOX_MARGIN, (y1 - y0) * FACE_BOX_MARGIN
        scale = float(max(width, height))
        a, b = geo.FACE_WIDTH_LANDMARKS
        row.face_width = round(float(np.linalg.norm(pts[a] - pts[b])) / scale, 5)
        return (x0 - mx) / width, (y0 - my) / height, (x1 + mx) / width, (y1 + my) / height

    def _face_mesh_points(self, rgb: NDArray[Any], face: Face) -> NDArray[np.float64] | None:
        """Face Mesh landmarks of ``face`` in frame pixels (x, y, and z on the x scale), or
        None where Face Mesh finds no face in the crop."""
        crop, (x0, y0, x1, y1) = _face_crop(rgb, face)
        found = self._face_mesh.process(crop).multi_face_landmarks
        if not found:
            return None
        # Landmarks are relative to the crop, which shows the frame region x0..x1, y0..y1.
        sx, sy = x1 - x0, y1 - y0
        return np.array(
            [(x0 + p.x * sx, y0 + p.y * sy, p.z * sx) for p in found[0].landmark],
            dtype=np.float64,
        )

    def _measure_body(self, rgb: NDArray[Any], row: PoseFrame, face_box: FaceBox | None) -> None:
        """Fill the row's body and hand figures."""
        height, width = rgb.shape[:2]
        small = _shrink(rgb, BODY_MAX_SIDE)
        scale = float(max(width, height))
        row.body_checked = True

        pose = self._pose.process(small)
        row.body = False
        if pose.pose_landmarks is not None:
            lm = pose.pose_landmarks.landmark

            def point(i: int) -> NDArray[Any] | None:
                if lm[i].visibility < MIN_VISIBILITY:
                    return None
                return np.array([lm[i].x * width, lm[i].y * height]) / scale

            left, right = point(geo.POSE_LEFT_SHOULDER), point(geo.POSE_RIGHT_SHOULDER)
            if left is not None and right is not None:
                mid = (left + right) / 2
                row.body = True
                row.shoulder_tilt = round(geo.shoulder_tilt(left, right), 2)
                row.shoulder_width = round(float(np.linalg.norm(left - right)), 5)
                row.shoulder_mid = [round(float(mid[0]), 5), round(float(mid[1]), 5)]
                row.body_visibility = round(
                    min(
                        lm[geo.POSE_LEFT_SHOULDER].visibility,
                        lm[geo.POSE_RIGHT_SHOULDER].visibility,
                    ),
                    3,
                )
                hip_l, hip_r = point(geo.POSE_LEFT_HIP), point(geo.POSE_RIGHT_HIP)
                if hip_l is not None and hip_r is not None:
                    hip = (hip_l + hip_r) / 2
                    row.hip_mid = [round(float(hip[0]), 5), round(float(hip[1]), 5)]

        hands = self._hands.process(small)
        found = hands.multi_hand_landmarks or []
        labels = hands.multi_handedness or []
        centers: list[Hand] = []
        touch = False
        for i, hand in enumerate(found):
            pts = np.array([(p.x, p.y) for p in hand.landmark], dtype=np.float64)
            if face_box is not None and geo.points_in_box(pts, face_box) >= FACE_TOUCH_MIN_POINTS:
                touch = True
            c = pts.mean(axis=0) * np.array([width, height]) / scale
            label = labels[i].classification[0] if i < len(labels) else None
            centers.append(
                Hand(
                    x=round(float(c[0]), 5),
                    y=round(float(c[1]), 5),
                    label=None if label is None else str(label.label),
                    score=None if label is None else round(float(label.score), 3),
                )
            )
        row.hands = centers
        row.face_touch = touch

    @staticmethod
    def summarize(parts: SummaryInput[PosePart, PartData]) -> dict[str, BaseModel]:
        settings = parts.settings
        min_coverage = settings.pose_min_coverage
        rows = ts.unique_rows(row for part in parts.frames for row in part.frames)
        fps = ts.sample_fps(parts.manifest.sample_fps, rows, (p.sample_fps for p in parts.frames))
        expected = max(int(parts.manifest.frames_sampled or 0), len(rows))
        gap = ts.gap_s(fps)
        face_rows = [r for r in rows if r.face]
        face_cov = len(face_rows) / expected if expected else 0.0
        return {
            "gaze": gaze.summarize(
                face_rows, face_cov, min_coverage, settings.pose_min_away_s, fps, gap
            ),
            "head_pose": head_pose.summarize(face_rows, face_cov, min_coverage, gap),
            "blinks": blinks.summarize(face_rows, face_cov, min_coverage, fps, gap),
            "posture": posture.summarize(rows, min_coverage, gap),
            "gestures": gestures.summarize(
                rows, expected, min_coverage, fps, settings.pose_body_fps
            ),
        }


def _face_crop(rgb: NDArray[Any], face: Face) -> tuple[NDArray[Any], tuple[int, int, int, int]]:
    """(crop, (x0, y0, x1, y1)): the square of ``CROP_SCALE`` times the face's side around
    its centre, clipped to the frame (not padded: on close-ups a padded edge moved Face Mesh's
    pitch by up to 6 degrees against the whole frame), enlarged so that the square's side is
    at least ``CROP_SIDE``, never shrunk; and the frame region it shows."""
    height, width = rgb.shape[:2]
    x, y, w, h = face.box
    side = max(w, h) * CROP_SCALE
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = max(0, math.floor(cx - side / 2)), max(0, math.floor(cy - side / 2))
    x1, y1 = min(width, math.ceil(cx + side / 2)), min(height, math.ceil(cy + side / 2))
    crop = rgb[y0:y1, x0:x1]
    zoom = CROP_SIDE / side
    if zoom > 1.0:
        size = (max(1, round((x1 - x0) * zoom)), max(1, round((y1 - y0) * zoom)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(crop), (x0, y0, x1, y1)


def _on_body_grid(t: float, sample_fps: float, body_fps: float) -> bool:
    """Is this frame the first at or after a point of the ``body_fps`` grid? Decided from its
    own time only, so every worker picks the same frames whatever the batching."""
    if body_fps <= 0 or sample_fps <= 0 or body_fps >= sample_fps:
        return True
    step = 1.0 / sample_fps
    eps = 1e-6
    return math.floor((t + eps) * body_fps) != math.floor((t - step + eps) * body_fps)


def _shrink(rgb: NDArray[np.uint8], side: int) -> NDArray[np.uint8]:
    height, width = rgb.shape[:2]
    if max(height, width) <= side:
        return rgb
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.ascontiguousarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))
