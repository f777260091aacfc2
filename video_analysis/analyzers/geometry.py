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

# --- facial action units -------------------------------------------------------------------
# Face Mesh points that each geometric action-unit measure is taken from (``action_units``).
# The face's own frame: the four eye corners (its origin and, outer to outer, its x axis and
# scale, the inter-ocular distance) and the nose ridge from the tip (1) to the nasion (168),
# its y axis: points the expressions measured here barely move.
EYE_CORNERS = (33, 133, 362, 263)
NOSE_TIP, NASION = 1, 168
# Both brows, upper and lower edge, outer to inner; the inner thirds; and the innermost pair
# of each side (upper, lower edge) whose gap closes when the brows are drawn together.
BROWS = (70, 63, 105, 66, 107, 46, 53, 52, 65, 55, 300, 293, 334, 296, 336, 276, 283, 282, 295, 285)
INNER_BROWS = (66, 107, 65, 55, 296, 336, 295, 285)
INNER_BROW_PAIRS = ((107, 336), (55, 285))
# The middle of each upper lid and that eye's corners.
UPPER_LIDS = ((159, 158, 160), (386, 385, 387))
EYE_CORNER_PAIRS = ((33, 133), (362, 263))
# The alar creases, where the nose wrinkler lifts the nostril wings.
ALAE = (129, 358)
# Subnasale, and the top of the upper lip: its middle and the peaks of the Cupid's bow.
SUBNASALE = 2
UPPER_LIP = (0, 37, 267)
# The mouth's corners, the person's right first; the chin's lowest point.
MOUTH_CORNERS = (61, 291)
CHIN = 152
ACTION_UNIT_POINTS = 468

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


def face_frame(mesh: NDArray[Any]) -> NDArray[np.float64] | None:
    """Face Mesh landmarks (N, 3; pixels, y down, as ``head_pose`` takes them) in the face's
    own frame, in inter-ocular distances: origin the middle of the eye corners, x towards the
    person's left eye (outer corner to outer corner), y up the nose ridge, z out of the face.
    Turning and tilting the head, or moving towards the camera, leaves them (nearly) where they
    are; None where the frame cannot be built (points on top of each other)."""
    p = np.asarray(mesh, dtype=np.float64)
    right_outer, right_inner, left_inner, left_outer = (p[i] for i in EYE_CORNERS)
    across = left_outer - right_outer
    distance = float(np.linalg.norm(across))
    if distance <= 0:
        return None
    across /= distance
    up = p[NASION] - p[NOSE_TIP]  # image y is down: the nasion lies above the tip
    up -= across * float(up @ across)
    norm = float(np.linalg.norm(up))
    if norm <= 0:
        return None
    up /= norm
    axes = np.stack([across, up, np.cross(across, up)])
    origin = (right_outer + right_inner + left_inner + left_outer) / 4
    frame: NDArray[np.float64] = (p - origin) @ axes.T / distance
    return frame


def action_units(mesh: NDArray[Any]) -> dict[str, float] | None:
    """Geometric measures of nine facial action units in one frame, in inter-ocular distances
    in the face's own frame (``face_frame``), each oriented so that more of the action is a
    larger value. They are positions, not intensities: the join measures each against the
    person's neutral. None without the 468 Face Mesh points or where the frame fails.

    - brow_raiser (AU1+2): mean height of both brows above the eye corners.
    - brow_lowerer (AU4): minus the height of the brows' inner thirds, minus the gap between
      the inner ends of the brows (AU4 lowers them and draws them together).
    - upper_lid_raiser (AU5): height of the upper lids' middle above their eye's corners.
    - nose_wrinkler (AU9): height of the alar creases (the nostril wings rise).
    - upper_lip_raiser (AU10): minus the philtrum, from the subnasale down to the top of the
      upper lip (the lip rises towards the nose).
    - lip_corner_puller (AU12): height of the mouth's corners; lip_corner_depressor (AU15)
      is its opposite.
    - lip_stretcher (AU20): half the mouth's width minus the corners' height: the corners
      pulled sideways without rising (a smile widens the mouth too, but lifts its corners).
    - jaw_drop (AU26): depth of the chin below the eye corners.
    """
    if len(mesh) < ACTION_UNIT_POINTS:
        return None
    q = face_frame(mesh)
    if q is None:
        return None

    def height(points: tuple[int, ...]) -> float:
        return float(q[list(points), 1].mean())

    inner_gap = float(np.mean([q[b, 0] - q[a, 0] for a, b in INNER_BROW_PAIRS]))
    lids = float(
        np.mean(
            [
                height(lid) - height(corners)
                for lid, corners in zip(UPPER_LIDS, EYE_CORNER_PAIRS, strict=True)
            ]
        )
    )
    corners = height(MOUTH_CORNERS)
    right, left = MOUTH_CORNERS
    half_width = float(q[left, 0] - q[right, 0]) / 2
    return {
        "brow_raiser": height(BROWS),
        "brow_lowerer": -height(INNER_BROWS) - inner_gap,
        "upper_lid_raiser": lids,
        "nose_wrinkler": height(ALAE),
        "upper_lip_raiser": height(UPPER_LIP) - float(q[SUBNASALE, 1]),
        "lip_corner_puller": corners,
        "lip_corner_depressor": -corners,
        "lip_stretcher": half_width - corners,
        "jaw_drop": -float(q[CHIN, 1]),
    }
