"""Gaze, head pose, blinks, posture and gestures with MediaPipe Face Mesh, Pose and Hands.

``analyze_frames`` measures each sampled frame on its own and returns one row per frame with
its timestamp ``t``; everything that spans time (eye-contact episodes, blink rate, movement,
posture changes) is built in ``summarize`` from the rows of every batch sorted by ``t``, so
the batches of one video may be analysed by different workers in any order.

How the MediaPipe solutions are run, and why:

- Face Mesh runs in static-image mode on every frame: with one face at webcam resolution it
  costs the same as tracking mode (about 6 ms a frame here), and each frame's result then
  depends on that frame alone, never on the batch or the video analysed before it.
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

import hashlib
import logging
import math
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
from numpy.typing import NDArray

from ..models.bundle import record_loaded
from ..schemas import ModelInfo, PartSource
from ..settings import Settings, get_settings
from . import geometry as geo
from .base import Analyzer, DecodedFrames, SummaryInput

log = logging.getLogger(__name__)

MODEL_NAME = "mediapipe-facemesh-pose-hands"
# The weights the three solutions load (relative to the mediapipe package), for the checksum.
MODEL_FILES = (
    "modules/face_detection/face_detection_short_range.tflite",
    "modules/face_landmark/face_landmark_with_attention.tflite",
    "modules/pose_detection/pose_detection.tflite",
    "modules/pose_landmark/pose_landmark_full.tflite",
    "modules/palm_detection/palm_detection_full.tflite",
    "modules/hand_landmark/hand_landmark_full.tflite",
)

# --- defaults of settings read with getattr (the lead adds them to Settings) ----------------
#: Sections whose input was found in fewer sampled frames than this say cannot_assess.
DEFAULT_MIN_COVERAGE = 0.3
#: Gaze-away episodes shorter than this (seconds) are glances, not reported.
DEFAULT_MIN_AWAY_S = 1.0
#: Frames per second of video on which Pose and Hands run.
DEFAULT_BODY_FPS = 1.67  # the settings default (pose_body_fps)

# --- thresholds ------------------------------------------------------------------------------
# "Looking at the camera": gaze within 15 degrees sideways and 20 up or down. A webcam sits
# above the screen, so a person reading the screen looks 10-15 degrees down and should still
# count; iris-based gaze from a webcam is itself only good to about 5-10 degrees.
EYE_CONTACT_MAX_YAW = 15.0
EYE_CONTACT_MAX_PITCH = 20.0
# Blinks need at least 10 sampled frames a second: a blink lasts 100-400 ms.
BLINK_MIN_FPS = 10.0
# Eyes count as shut below 70% of the video's median eye aspect ratio (relative, so that
# narrow and wide eyes are treated alike); a shut run longer than 0.5 s is not a blink.
BLINK_EAR_RATIO = 0.7
BLINK_MAX_S = 0.5
# A large head movement: yaw or pitch moves 15 degrees away from where the head was.
LARGE_HEAD_MOVE_DEG = 15.0
# Frames more than 2.5 sampling intervals apart are not consecutive (a missing batch or
# frames without the input): episodes and movements do not span such gaps.
GAP_INTERVALS = 2.5
# Posture: shoulder width 10% above or below its median over the video is leaning towards or
# away from the camera.
LEAN_RATIO = 0.10
# A posture change: the (0.5 s median-smoothed) shoulder midpoint moves 0.5 shoulder widths,
# the shoulder width changes by 15% or the shoulder line turns by 8 degrees from the posture
# held before.
POSTURE_SHIFT_WIDTHS = 0.5
POSTURE_WIDTH_CHANGE = 0.15
POSTURE_TILT_CHANGE_DEG = 8.0
POSTURE_SMOOTH_S = 0.5
# Torso movement in shoulder widths per second: under 0.05 is still, over 0.15 restless.
MOVEMENT_STILL = 0.05
MOVEMENT_RESTLESS = 0.15
# Pose landmarks count when MediaPipe's visibility is at least 0.5.
MIN_VISIBILITY = 0.5
# A hand touches the face when at least 3 of its 21 landmarks lie in the face box (the mesh's
# bounding box widened by 10% on each side).
FACE_TOUCH_MIN_POINTS = 3
FACE_BOX_MARGIN = 0.10
# A face too small for Face Mesh is cropped with this much room around the detected box and
# enlarged to this size before Face Mesh runs on it again.
CROP_SCALE = 1.8
CROP_SIDE = 256
# Pose and Hands see the frame with its longest side at most this (speed; their models work
# on 224-256 px crops anyway).
BODY_MAX_SIDE = 640


class PoseAnalyzer(Analyzer):
    name: ClassVar[str] = "pose"
    sources: ClassVar[tuple[PartSource, ...]] = (PartSource.FRAMES,)
    sections: ClassVar[tuple[str, ...]] = ("gaze", "head_pose", "blinks", "posture", "gestures")

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings or get_settings()
        self._face_mesh: Any = None
        self._face_detection: Any = None
        self._pose: Any = None
        self._hands: Any = None
        self._version = "unknown"
        self._sha256: str | None = None
        # MediaPipe graphs are not safe to share between threads, and a batch must run from
        # reset to end without another batch's frames in between.
        self._lock = threading.Lock()

    def load(self) -> None:
        started = time.monotonic()
        mp = _import_mediapipe()
        solutions = mp.solutions
        # Only for faces too small for Face Mesh's own detector (see _face_mesh_points).
        self._face_detection = solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=0.5
        )
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
        self._version = str(mp.__version__)
        self._sha256 = _weights_sha256(Path(mp.__file__).parent)
        # Reported under the bundle name, so /models/status shows the mediapipe entry loaded.
        record_loaded("mediapipe", load_time_s=round(time.monotonic() - started, 3), device="cpu")

    @property
    def model_info(self) -> ModelInfo:
        return ModelInfo(
            analyzer=self.name, name=MODEL_NAME, version=self._version, sha256=self._sha256
        )

    def analyze_frames(self, batch: DecodedFrames) -> dict[str, Any]:
        if self._face_mesh is None:
            raise RuntimeError("PoseAnalyzer.load() must be called before analyze_frames()")
        body_fps = float(getattr(self._settings, "pose_body_fps", DEFAULT_BODY_FPS))
        rows: list[dict[str, Any]] = []
        with self._lock:
            self._pose.reset()
            self._hands.reset()
            for frame in batch.frames:
                rgb = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)
                row: dict[str, Any] = {"index": frame.index, "t": round(float(frame.t), 4)}
                face_box = self._measure_face(rgb, row)
                if _on_body_grid(float(frame.t), batch.sample_fps, body_fps):
                    self._measure_body(rgb, row, face_box)
                rows.append(row)
        return {"sample_fps": batch.sample_fps, "frames": rows}

    def _measure_face(
        self, rgb: NDArray[Any], row: dict[str, Any]
    ) -> tuple[float, float, float, float] | None:
        height, width = rgb.shape[:2]
        mesh = self._face_mesh_points(rgb)
        if mesh is None:
            row["face"] = False
            return None
        pts = mesh[:, :2]
        row["face"] = True
        pose = geo.head_pose(mesh)
        ear = (
            geo.eye_aspect_ratio(pts[list(geo.RIGHT_EYE_EAR)])
            + geo.eye_aspect_ratio(pts[list(geo.LEFT_EYE_EAR)])
        ) / 2
        row["ear"] = round(ear, 4)
        if pose is not None:
            yaw, pitch, roll = pose
            row.update(yaw=round(yaw, 2), pitch=round(pitch, 2), roll=round(roll, 2))
            if len(pts) > max(geo.LEFT_EYE_IRIS):
                offsets = [
                    geo.iris_offset(*pts[list(eye)])
                    for eye in (geo.RIGHT_EYE_IRIS, geo.LEFT_EYE_IRIS)
                ]
                dx = float(np.mean([o[0] for o in offsets]))
                dy = float(np.mean([o[1] for o in offsets]))
                gaze_yaw, gaze_pitch = geo.gaze_angles(yaw, pitch, dx, dy)
                row.update(gaze_yaw=round(gaze_yaw, 2), gaze_pitch=round(gaze_pitch, 2))
                row["looking"] = looking_at_camera(gaze_yaw, gaze_pitch)
                row["direction"] = None if row["looking"] else gaze_direction(gaze_yaw, gaze_pitch)
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        mx, my = (x1 - x0) * FACE_BOX_MARGIN, (y1 - y0) * FACE_BOX_MARGIN
        scale = float(max(width, height))
        a, b = geo.FACE_WIDTH_LANDMARKS
        row["face_width"] = round(float(np.linalg.norm(pts[a] - pts[b])) / scale, 5)
        return (x0 - mx) / width, (y0 - my) / height, (x1 + mx) / width, (y1 + my) / height

    def _face_mesh_points(self, rgb: NDArray[Any]) -> NDArray[np.float64] | None:
        """Face Mesh landmarks in pixels (x, y, and z on the x scale), or None.

        Face Mesh finds faces with a short-range detector that misses a face under ~100 px
        (a candidate sitting back from the webcam in a 640x360 frame). Then the full-range
        detector finds the face and Face Mesh runs again on a crop around it, enlarged.
        """
        height, width = rgb.shape[:2]
        faces = self._face_mesh.process(rgb).multi_face_landmarks
        if faces:
            return np.array(
                [(p.x * width, p.y * height, p.z * width) for p in faces[0].landmark],
                dtype=np.float64,
            )
        detections = self._face_detection.process(rgb).detections
        if not detections:
            return None
        box = max(
            (d.location_data.relative_bounding_box for d in detections),
            key=lambda b: b.width * b.height,
        )
        side = max(box.width * width, box.height * height) * CROP_SCALE
        cx, cy = (box.xmin + box.width / 2) * width, (box.ymin + box.height / 2) * height
        x0, y0 = int(max(0.0, cx - side / 2)), int(max(0.0, cy - side / 2))
        x1, y1 = int(min(width, cx + side / 2)), int(min(height, cy + side / 2))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None
        crop = cv2.resize(rgb[y0:y1, x0:x1], (CROP_SIDE, CROP_SIDE), interpolation=cv2.INTER_CUBIC)
        faces = self._face_mesh.process(crop).multi_face_landmarks
        if not faces:
            return None
        sx, sy = (x1 - x0), (y1 - y0)
        return np.array(
            [(x0 + p.x * sx, y0 + p.y * sy, p.z * sx) for p in faces[0].landmark],
            dtype=np.float64,
        )

    def _measure_body(
        self,
        rgb: NDArray[Any],
        row: dict[str, Any],
        face_box: tuple[float, float, float, float] | None,
    ) -> None:
        height, width = rgb.shape[:2]
        small = _shrink(rgb, BODY_MAX_SIDE)
        scale = float(max(width, height))
        row["body_checked"] = True

        pose = self._pose.process(small)
        row["body"] = False
        if pose.pose_landmarks is not None:
            lm = pose.pose_landmarks.landmark

            def point(i: int) -> NDArray[Any] | None:
                if lm[i].visibility < MIN_VISIBILITY:
                    return None
                return np.array([lm[i].x * width, lm[i].y * height]) / scale

            left, right = point(geo.POSE_LEFT_SHOULDER), point(geo.POSE_RIGHT_SHOULDER)
            if left is not None and right is not None:
                mid = (left + right) / 2
                row.update(
                    body=True,
                    shoulder_tilt=round(geo.shoulder_tilt(left, right), 2),
                    shoulder_width=round(float(np.linalg.norm(left - right)), 5),
                    shoulder_mid=[round(float(mid[0]), 5), round(float(mid[1]), 5)],
                    body_visibility=round(
                        min(
                            lm[geo.POSE_LEFT_SHOULDER].visibility,
                            lm[geo.POSE_RIGHT_SHOULDER].visibility,
                        ),
                        3,
                    ),
                )
                hip_l, hip_r = point(geo.POSE_LEFT_HIP), point(geo.POSE_RIGHT_HIP)
                if hip_l is not None and hip_r is not None:
                    hip = (hip_l + hip_r) / 2
                    row["hip_mid"] = [round(float(hip[0]), 5), round(float(hip[1]), 5)]

        hands = self._hands.process(small)
        found = hands.multi_hand_landmarks or []
        labels = hands.multi_handedness or []
        centers: list[dict[str, Any]] = []
        touch = False
        for i, hand in enumerate(found):
            pts = np.array([(p.x, p.y) for p in hand.landmark], dtype=np.float64)
            if face_box is not None and geo.points_in_box(pts, face_box) >= FACE_TOUCH_MIN_POINTS:
                touch = True
            c = pts.mean(axis=0) * np.array([width, height]) / scale
            label = labels[i].classification[0] if i < len(labels) else None
            centers.append(
                {
                    "x": round(float(c[0]), 5),
                    "y": round(float(c[1]), 5),
                    "label": None if label is None else str(label.label),
                    "score": None if label is None else round(float(label.score), 3),
                }
            )
        row["hands"] = centers
        row["face_touch"] = touch

    @staticmethod
    def summarize(parts: SummaryInput) -> dict[str, dict[str, Any]]:
        settings = parts.settings
        min_coverage = float(getattr(settings, "pose_min_coverage", DEFAULT_MIN_COVERAGE))
        min_away_s = float(getattr(settings, "pose_min_away_s", DEFAULT_MIN_AWAY_S))
        body_fps = float(getattr(settings, "pose_body_fps", DEFAULT_BODY_FPS))
        rows = _unique_rows(parts.frames)
        fps = _sample_fps(parts, rows)
        expected = max(int(parts.manifest.frames_sampled or 0), len(rows))
        gap = GAP_INTERVALS / fps if fps > 0 else math.inf
        face_rows = [r for r in rows if r.get("face")]
        face_cov = len(face_rows) / expected if expected else 0.0
        return {
            "gaze": _gaze(face_rows, face_cov, min_coverage, min_away_s, fps, gap),
            "head_pose": _head_pose(face_rows, face_cov, min_coverage, gap),
            "blinks": _blinks(face_rows, face_cov, min_coverage, fps, gap),
            "posture": _posture(rows, min_coverage, gap),
            "gestures": _gestures(rows, expected, min_coverage, fps, body_fps),
        }


# --- per-frame helpers ----------------------------------------------------------------------


def looking_at_camera(gaze_yaw: float, gaze_pitch: float) -> bool:
    return abs(gaze_yaw) <= EYE_CONTACT_MAX_YAW and abs(gaze_pitch) <= EYE_CONTACT_MAX_PITCH


def gaze_direction(gaze_yaw: float, gaze_pitch: float) -> str:
    """Where the person looks, in their own left and right (see ``geometry``)."""
    if abs(gaze_yaw) / EYE_CONTACT_MAX_YAW >= abs(gaze_pitch) / EYE_CONTACT_MAX_PITCH:
        return "left" if gaze_yaw > 0 else "right"
    return "up" if gaze_pitch > 0 else "down"


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


def _import_mediapipe() -> Any:
    # mediapipe.tasks imports tensorflow, when installed, only for a documentation decorator
    # (mediapipe/tasks/python/core/optional_dependencies.py); that costs seconds and hundreds
    # of MB. Hide tensorflow during the import unless something else has already loaded it.
    hide = "tensorflow" not in sys.modules
    if hide:
        sys.modules["tensorflow"] = None  # type: ignore[assignment]
    try:
        import mediapipe as mp  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ImportError(
            "the pose analyzer needs mediapipe: pip install 'video-analysis[models]'"
        ) from exc
    finally:
        if hide and sys.modules.get("tensorflow", 0) is None:
            del sys.modules["tensorflow"]
    return mp


def _weights_sha256(package_dir: Path) -> str | None:
    """One sha256 over the solutions' .tflite files, in a fixed order."""
    digest = hashlib.sha256()
    for relative in MODEL_FILES:
        path = package_dir / relative
        try:
            digest.update(relative.encode())
            digest.update(path.read_bytes())
        except OSError:
            log.warning("mediapipe weights file %s not found; no checksum reported", path)
            return None
    return digest.hexdigest()


# --- summary helpers ------------------------------------------------------------------------


def _unique_rows(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Keyed by frame index (or time): a batch delivered twice counts once.
    unique: dict[tuple[str, float], dict[str, Any]] = {}
    for part in parts:
        for row in part.get("frames", []):
            key = ("index", float(row["index"])) if "index" in row else ("t", float(row["t"]))
            unique[key] = row
    return sorted(unique.values(), key=lambda r: float(r["t"]))


def _sample_fps(parts: SummaryInput, rows: list[dict[str, Any]]) -> float:
    fps = float(parts.manifest.sample_fps or 0.0)
    if fps <= 0:
        fps = max((float(p.get("sample_fps") or 0.0) for p in parts.frames), default=0.0)
    if fps <= 0 and len(rows) > 1:
        steps = np.diff([float(r["t"]) for r in rows])
        steps = steps[steps > 0]
        fps = 1.0 / float(np.median(steps)) if steps.size else 0.0
    return fps


def _low_coverage(name: str, coverage: float, minimum: float, what: str) -> str | None:
    if coverage < minimum:
        return (
            f"{what} found in {coverage:.0%} of sampled frames, below the {minimum:.0%} "
            f"needed to judge {name}"
        )
    return None


def _runs(rows: list[dict[str, Any]], gap: float) -> list[list[dict[str, Any]]]:
    """Split time-sorted rows where consecutive ones are more than ``gap`` apart."""
    runs: list[list[dict[str, Any]]] = []
    for row in rows:
        if runs and float(row["t"]) - float(runs[-1][-1]["t"]) <= gap:
            runs[-1].append(row)
        else:
            runs.append([row])
    return runs


def _observed_s(rows: list[dict[str, Any]], fps: float, gap: float) -> float:
    """Seconds of video the rows stand for: each frame for one sampling interval."""
    if fps > 0:
        return len(rows) / fps
    return sum(float(r[-1]["t"]) - float(r[0]["t"]) for r in _runs(rows, gap))


def _per_min(count: int, seconds: float) -> float | None:
    return round(count * 60.0 / seconds, 2) if seconds > 0 else None


def _stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    a = np.asarray(values, dtype=np.float64)
    return {
        "mean": round(float(a.mean()), 2),
        "std": round(float(a.std()), 2),
        "min": round(float(a.min()), 2),
        "max": round(float(a.max()), 2),
    }


def _gaze(
    face_rows: list[dict[str, Any]],
    coverage: float,
    min_coverage: float,
    min_away_s: float,
    fps: float,
    gap: float,
) -> dict[str, Any]:
    rows = [r for r in face_rows if r.get("looking") is not None]
    section: dict[str, Any] = {
        "coverage": round(coverage, 4),
        "confidence": round(0.8 * coverage, 4),
        "cannot_assess": _low_coverage("gaze", coverage, min_coverage, "a face"),
        "eye_contact_ratio": None,
        "away_episodes": [],
        "min_away_s": min_away_s,
        "basis": "iris position in the eye plus head pose; left/right are the person's own",
    }
    if section["cannot_assess"] or not rows:
        section["cannot_assess"] = section["cannot_assess"] or "no gaze could be measured"
        section["confidence"] = 0.0
        return section
    section["eye_contact_ratio"] = round(sum(bool(r["looking"]) for r in rows) / len(rows), 4)
    interval = 1.0 / fps if fps > 0 else 0.0
    episodes: list[dict[str, Any]] = []
    for run in _runs(rows, gap):
        current: list[dict[str, Any]] = []
        for row in [*run, None]:
            if row is not None and not row["looking"]:
                current.append(row)
                continue
            if current:
                start = float(current[0]["t"])
                end = float(current[-1]["t"]) + interval
                if end - start >= min_away_s:
                    directions = Counter(str(r.get("direction")) for r in current)
                    episodes.append(
                        {
                            "start": round(start, 3),
                            "end": round(end, 3),
                            "direction": directions.most_common(1)[0][0],
                        }
                    )
                current = []
    section["away_episodes"] = episodes
    return section


def _head_pose(
    face_rows: list[dict[str, Any]], coverage: float, min_coverage: float, gap: float
) -> dict[str, Any]:
    rows = [r for r in face_rows if r.get("yaw") is not None]
    section: dict[str, Any] = {
        "coverage": round(coverage, 4),
        "confidence": round(0.9 * coverage, 4),
        "cannot_assess": _low_coverage("head pose", coverage, min_coverage, "a face"),
        "convention": "degrees; yaw > 0 turned to the person's own left, pitch > 0 up, "
        "roll > 0 tilted towards their left shoulder",
        "nods_shakes": "not reported: not reliable at the sampled frame rates",
    }
    if section["cannot_assess"] or not rows:
        section["cannot_assess"] = section["cannot_assess"] or "no head pose could be measured"
        section["confidence"] = 0.0
        return section
    for angle in ("yaw", "pitch", "roll"):
        section[angle] = _stats([float(r[angle]) for r in rows])
    moves = 0
    seconds = 0.0
    for run in _runs(rows, gap):
        seconds += float(run[-1]["t"]) - float(run[0]["t"])
        anchor = run[0]
        for row in run[1:]:
            if (
                abs(float(row["yaw"]) - float(anchor["yaw"])) > LARGE_HEAD_MOVE_DEG
                or abs(float(row["pitch"]) - float(anchor["pitch"])) > LARGE_HEAD_MOVE_DEG
            ):
                moves += 1
                anchor = row
    section["large_movements"] = moves
    section["large_movements_per_min"] = _per_min(moves, seconds)
    return section


def _blinks(
    face_rows: list[dict[str, Any]], coverage: float, min_coverage: float, fps: float, gap: float
) -> dict[str, Any]:
    rows = [r for r in face_rows if r.get("ear") is not None]
    section: dict[str, Any] = {
        "coverage": round(coverage, 4),
        "confidence": round(coverage * min(1.0, fps / 30.0), 4),
        "cannot_assess": _low_coverage("blinks", coverage, min_coverage, "a face"),
        "per_min": None,
        "count": None,
        "sample_fps": round(fps, 3),
    }
    if section["cannot_assess"] is None and fps < BLINK_MIN_FPS:
        section["cannot_assess"] = (
            f"frames sampled at {fps:g} fps; blinks need at least {BLINK_MIN_FPS:g} fps"
        )
    if section["cannot_assess"] or not rows:
        section["cannot_assess"] = section["cannot_assess"] or "no eye could be measured"
        section["confidence"] = 0.0
        return section
    baseline = float(np.median([float(r["ear"]) for r in rows]))
    threshold = BLINK_EAR_RATIO * baseline
    interval = 1.0 / fps
    count = 0
    for run in _runs(rows, gap):
        shut: list[dict[str, Any]] = []
        for row in [*run, None]:
            if row is not None and float(row["ear"]) < threshold:
                shut.append(row)
                continue
            # A blink opens again inside the run; shut at the run's edge may be cut off.
            if shut and row is not None and shut[0] is not run[0]:
                if float(shut[-1]["t"]) - float(shut[0]["t"]) + interval <= BLINK_MAX_S:
                    count += 1
            shut = []
    seconds = _observed_s(rows, fps, gap)
    section.update(count=count, per_min=_per_min(count, seconds), ear_baseline=round(baseline, 4))
    return section


def _posture(rows: list[dict[str, Any]], min_coverage: float, gap: float) -> dict[str, Any]:
    checked = [r for r in rows if r.get("body_checked")]
    body = [r for r in checked if r.get("body")]
    coverage = len(body) / len(checked) if checked else 0.0
    visibility = float(np.mean([float(r.get("body_visibility", 1.0)) for r in body])) if body else 0
    section: dict[str, Any] = {
        "coverage": round(coverage, 4),
        "confidence": round(coverage * visibility, 4),
        "cannot_assess": _low_coverage("posture", coverage, min_coverage, "shoulders"),
        "convention": "shoulder_tilt in degrees, > 0 when the person's left shoulder is lower; "
        "movement in shoulder widths per second",
    }
    if section["cannot_assess"]:
        section["confidence"] = 0.0
        return section
    widths = np.array([float(r["shoulder_width"]) for r in body])
    median_width = float(np.median(widths))
    ratios = widths / median_width if median_width > 0 else np.ones_like(widths)
    section["shoulder_tilt"] = _stats([float(r["shoulder_tilt"]) for r in body])
    section["lean"] = {
        "toward_camera_share": round(float(np.mean(ratios > 1 + LEAN_RATIO)), 4),
        "away_share": round(float(np.mean(ratios < 1 - LEAN_RATIO)), 4),
        "width_ratio_std": round(float(ratios.std()), 4),
        "basis": "shoulder width against its median over the video",
    }
    # Torso movement: shoulder (and hip) midpoint speed between consecutive body frames.
    speeds: list[float] = []
    body_gap = gap * 2  # body frames are picked on a coarser grid
    runs = _runs(body, body_gap)
    for run in runs:
        for a, b in zip(run, run[1:], strict=False):
            dt = float(b["t"]) - float(a["t"])
            width = (float(a["shoulder_width"]) + float(b["shoulder_width"])) / 2
            if dt <= 0 or width <= 0:
                continue
            step = float(np.linalg.norm(np.subtract(b["shoulder_mid"], a["shoulder_mid"])))
            if a.get("hip_mid") and b.get("hip_mid"):
                hip = float(np.linalg.norm(np.subtract(b["hip_mid"], a["hip_mid"])))
                step = (step + hip) / 2
            speeds.append(step / width / dt)
    movement = float(np.mean(speeds)) if speeds else None
    level = None
    if movement is not None:
        level = (
            "still"
            if movement < MOVEMENT_STILL
            else "restless"
            if movement > MOVEMENT_RESTLESS
            else "moderate"
        )
    section["movement"] = {
        "mean_speed": None if movement is None else round(movement, 4),
        "level": level,
    }
    changes, seconds = _posture_changes(runs)
    section["posture_changes"] = changes
    section["posture_changes_per_min"] = _per_min(changes, seconds)
    return section


def _posture_changes(runs: list[list[dict[str, Any]]]) -> tuple[int, float]:
    changes = 0
    seconds = 0.0
    for run in runs:
        seconds += float(run[-1]["t"]) - float(run[0]["t"])
        times = np.array([float(r["t"]) for r in run])
        smooth = []
        for t in times:
            near = [r for r, u in zip(run, times, strict=True) if abs(u - t) <= POSTURE_SMOOTH_S]
            smooth.append(
                (
                    np.median([r["shoulder_mid"] for r in near], axis=0),
                    float(np.median([float(r["shoulder_width"]) for r in near])),
                    float(np.median([float(r["shoulder_tilt"]) for r in near])),
                )
            )
        anchor = smooth[0]
        for state in smooth[1:]:
            width = anchor[1]
            if width <= 0:
                continue
            shifted = float(np.linalg.norm(state[0] - anchor[0])) / width > POSTURE_SHIFT_WIDTHS
            resized = abs(state[1] / width - 1) > POSTURE_WIDTH_CHANGE
            turned = abs(state[2] - anchor[2]) > POSTURE_TILT_CHANGE_DEG
            if shifted or resized or turned:
                changes += 1
                anchor = state
    return changes, seconds


def _gestures(
    rows: list[dict[str, Any]], expected: int, min_coverage: float, fps: float, body_fps: float
) -> dict[str, Any]:
    checked = [r for r in rows if r.get("body_checked")]
    # Hands run on a subset of frames by design; coverage is the share of the video's frames
    # that arrived and could be looked at.
    coverage = len(rows) / expected if expected else 0.0
    scores = [
        float(h["score"])
        for r in checked
        for h in r.get("hands") or []
        if h.get("score") is not None
    ]
    section: dict[str, Any] = {
        "coverage": round(coverage, 4),
        "confidence": round(coverage * (float(np.mean(scores)) if scores else 0.5), 4),
        "cannot_assess": _low_coverage("gestures", coverage, min_coverage, "frames"),
    }
    if section["cannot_assess"] is None and not checked:
        section["cannot_assess"] = "no frame was checked for hands"
    if section["cannot_assess"]:
        section["confidence"] = 0.0
        return section
    visible = [r for r in checked if r.get("hands")]
    section["hands_visible_ratio"] = round(len(visible) / len(checked), 4)
    # Hand activity: speed of each hand's centre between consecutive checked frames, in face
    # widths per second (matched by handedness label), averaged over frame pairs.
    speeds: list[float] = []
    step = 1.0 / min(body_fps, fps) if body_fps > 0 and fps > 0 else math.inf
    for a, b in zip(checked, checked[1:], strict=False):
        dt = float(b["t"]) - float(a["t"])
        scale = a.get("face_width") or b.get("face_width")
        if dt <= 0 or dt > GAP_INTERVALS * step or not scale:
            continue
        before = {h.get("label"): h for h in a.get("hands") or []}
        for hand in b.get("hands") or []:
            prev = before.get(hand.get("label"))
            if prev is not None:
                dist = math.hypot(hand["x"] - prev["x"], hand["y"] - prev["y"])
                speeds.append(dist / float(scale) / dt)
    section["hand_activity"] = round(float(np.mean(speeds)), 4) if speeds else 0.0
    section["hand_activity_unit"] = "face widths per second"
    episodes: list[dict[str, float]] = []
    for run in _runs(checked, GAP_INTERVALS * step):
        current: list[dict[str, Any]] = []
        for row in [*run, None]:
            if row is not None and row.get("face_touch"):
                current.append(row)
                continue
            if current:
                tail = step if math.isfinite(step) else 0.0
                end = float(row["t"]) if row is not None else float(current[-1]["t"]) + tail
                episodes.append({"start": round(float(current[0]["t"]), 3), "end": round(end, 3)})
            current = []
    section["face_touching_episodes"] = episodes
    section["face_touching_count"] = len(episodes)
    return section
