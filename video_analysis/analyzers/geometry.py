"""Face and body geometry for the pose analyzer: head pose, eye openness, gaze, body lines.

Pure NumPy and OpenCV on landmark coordinates, so it can be tested without MediaPipe.
Landmark numbers are those of MediaPipe Face Mesh (468 points, 478 with the iris refinement)
and MediaPipe Pose (33 points).

Sign conventions (all angles in degrees, the camera image as recorded, not mirrored):

- yaw > 0: the person turns their head to THEIR left (the nose moves to the right of the
  image); yaw < 0: to their right.
- pitch > 0: the person looks up; pitch < 0: down.
- roll > 0: the head tilts towards the person's left shoulder (the right side of the image).
- shoulder tilt > 0: the person's left shoulder (right side of the image) is lower.
- gaze left / right are the person's own left and right, like yaw.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

# --- head pose ---------------------------------------------------------------------------
# Face Mesh indices: 33 is the outer corner of the person's right eye (image left), 263 of
# the left; 10 the top of the forehead, 152 the chin.
# The points that span the face's own axes in ``head_pose``.
MESH_RIGHT_EYE_OUTER, MESH_LEFT_EYE_OUTER, MESH_FOREHEAD, MESH_CHIN = 33, 263, 10, 152

# --- eyes ----------------------------------------------------------------------------------
# Eye aspect ratio points p1..p6 (Soukupova and Cech 2016): corners p1/p4, upper lid p2/p3,
# lower lid p6/p5.
RIGHT_EYE_EAR = (33, 160, 158, 133, 153, 144)  # the person's right eye, image left
LEFT_EYE_EAR = (362, 385, 387, 263, 373, 380)
# (corner on the image's left, corner on the image's right, iris centre)
RIGHT_EYE_IRIS = (33, 133, 468)
LEFT_EYE_IRIS = (362, 263, 473)
# The iris moves by about the eyeball radius (12 mm) times sin(angle) and the eye opening is
# about 30 mm wide: an offset of d eye-widths is an eye rotation of asin(2.5 d).
EYE_WIDTH_PER_RADIUS = 2.5
# Outermost face-outline points (cheek to cheek), the face's width for normalising.
FACE_WIDTH_LANDMARKS = (234, 454)

# --- body (MediaPipe Pose) ----------------------------------------------------------------
POSE_LEFT_SHOULDER, POSE_RIGHT_SHOULDER = 11, 12
POSE_LEFT_HIP, POSE_RIGHT_HIP = 23, 24


def head_pose(mesh: NDArray[Any]) -> tuple[float, float, float] | None:
    """(yaw, pitch, roll) in degrees from Face Mesh landmarks in pixels, (N, 3): x right,
    y down, z depth on the x scale (smaller is nearer the camera), as Face Mesh gives them
    once x and z are multiplied by the image width and y by its height.

    The face's own axes come from the mesh itself: across from the outer corner of the
    person's right eye to that of the left, up from chin to forehead. Why not solvePnP on a
    generic 3D face: with a handful of points and a guessed focal length it read the same
    frontal photo as yaw -1 degree at 512 px and -15 degrees scaled into a 640x360 frame;
    the mesh's own depth gives -1 and -2.5.
    """
    p = np.asarray(mesh, dtype=np.float64)
    across = p[MESH_LEFT_EYE_OUTER] - p[MESH_RIGHT_EYE_OUTER]
    up = p[MESH_FOREHEAD] - p[MESH_CHIN]
    across_norm, up_norm = float(np.linalg.norm(across)), float(np.linalg.norm(up))
    if across_norm <= 0 or up_norm <= 0:
        return None
    across /= across_norm
    up -= across * float(up @ across)  # make the two axes orthogonal
    if float(np.linalg.norm(up)) <= 0:
        return None
    up /= float(np.linalg.norm(up))
    # x right, y down, z away from the camera: across x up points out of the face.
    forward = np.cross(across, up)
    yaw = math.degrees(math.atan2(forward[0], -forward[2]))
    pitch = math.degrees(math.atan2(-forward[1], math.hypot(forward[0], forward[2])))
    roll = math.degrees(math.atan2(across[1], across[0]))
    return yaw, pitch, roll


def eye_aspect_ratio(points: NDArray[Any]) -> float:
    """Eye aspect ratio of six points p1..p6 (pixels): about 0.25-0.35 open, under 0.15 shut."""
    p = np.asarray(points, dtype=np.float64).reshape(6, 2)
    horizontal = float(np.linalg.norm(p[0] - p[3]))
    if horizontal <= 0:
        return 0.0
    vertical = float(np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4]))
    return vertical / (2.0 * horizontal)


def iris_offset(
    left_corner: NDArray[Any], right_corner: NDArray[Any], iris: NDArray[Any]
) -> tuple[float, float]:
    """(horizontal, vertical) offset of the iris centre from the middle of the eye, in eye
    widths: horizontal > 0 towards the right of the image, vertical > 0 downwards."""
    a = np.asarray(left_corner, dtype=np.float64)
    b = np.asarray(right_corner, dtype=np.float64)
    c = np.asarray(iris, dtype=np.float64)
    axis = b - a
    length = float(np.linalg.norm(axis))
    if length <= 0:
        return 0.0, 0.0
    unit = axis / length
    normal = np.array([-unit[1], unit[0]])  # the eye's "down" when the head is upright
    rel = c - (a + b) / 2.0
    return float(rel @ unit) / length, float(rel @ normal) / length


def eye_rotation(offset: float) -> float:
    """Eye rotation in degrees for an iris offset in eye widths."""
    return math.degrees(math.asin(max(-1.0, min(1.0, EYE_WIDTH_PER_RADIUS * offset))))


def gaze_angles(
    head_yaw: float, head_pitch: float, iris_dx: float, iris_dy: float
) -> tuple[float, float]:
    """(gaze yaw, gaze pitch) in degrees: the head's direction plus the eyes' rotation in it.

    ``iris_dx`` > 0 (towards the image's right) is the person looking to their left, which is
    yaw > 0; ``iris_dy`` > 0 (down in the image) is looking down, pitch < 0.
    """
    return head_yaw + eye_rotation(iris_dx), head_pitch - eye_rotation(iris_dy)


def shoulder_tilt(left_shoulder: NDArray[Any], right_shoulder: NDArray[Any]) -> float:
    """Degrees the shoulder line leans; > 0 when the person's left shoulder (image right) is
    lower. Points are image pixels (x right, y down)."""
    left = np.asarray(left_shoulder, dtype=np.float64)
    right = np.asarray(right_shoulder, dtype=np.float64)
    dx, dy = left - right  # from the image-left shoulder to the image-right one
    return math.degrees(math.atan2(dy, abs(dx) if dx != 0 else 1e-9))


def points_in_box(points: NDArray[Any], box: tuple[float, float, float, float]) -> int:
    """How many (x, y) points lie inside ``box`` = (x0, y0, x1, y1)."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x0, y0, x1, y1 = box
    inside = (p[:, 0] >= x0) & (p[:, 0] <= x1) & (p[:, 1] >= y0) & (p[:, 1] <= y1)
    return int(np.count_nonzero(inside))
