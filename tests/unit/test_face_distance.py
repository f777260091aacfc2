"""Faces at every distance, found the same way by the face and the pose roles.

Real faces only: skimage's astronaut photo cropped to a close-up and scaled down into a large
frame, and the GRID talking-head clips in ``../shared/data/grid`` (beside the checkout), as
recorded and cropped tighter with ffmpeg at test time, decoded by the splitter at the default
5 fps as the service decodes uploads. When the full-range model runs and how the two models'
detections are merged is checked without any model.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from tests.media_factory import make_crop, make_inset
from tests.real_data import GRID, GRID_CLIPS, needs_grid
from tests.splitting import split_all
from tests.vision_fixtures import Image, astronaut, frame_batch, needs_models
from video_analysis import models
from video_analysis.analyzers import face_detection
from video_analysis.analyzers.base import DecodedFrames, SummaryInput
from video_analysis.analyzers.face import FaceAnalyzer
from video_analysis.analyzers.face_detection import (
    SURE_SCORE,
    Face,
    HaarFaceDetector,
    MediaPipeFaceDetector,
    build_detector,
    largest,
    merge,
)
from video_analysis.analyzers.pose import PoseAnalyzer
from video_analysis.errors import MissingExtra
from video_analysis.media.codec import decode_part
from video_analysis.schemas import (
    FaceSection,
    GazeSection,
    HeadPoseSection,
    SplitManifest,
)
from video_analysis.schemas.parts import FacePart, PartData, PosePart
from video_analysis.settings import Settings

# The GRID speakers' faces are MediaPipe boxes of 120-140 px centred near (178, 183) of the
# 360x288 frame. Cut to 132x106 px around that and scaled back to 360x288, the face fills the
# frame from the brows to the chin, as in a laptop or phone close-up. The full-range model
# alone found the face in 7-80% of these frames; on the original clips, in all of them.
CLOSE_UP_BOX = (112, 127, 132, 106)
GRID_SIZE = (360, 288)
# Shrunk to half and set in a 640x512 frame, the face is ~64 px high: too small for the
# short-range model and for Face Mesh on the whole frame.
FAR_SCALE, FAR_FRAME, FAR_AT = 0.5, (640, 512), (230, 184)


def close_up(width: int, height: int, size: tuple[int, int]) -> Image:
    """The astronaut's face (its detector box is 104 px of the 512 px photo, centred near
    (226, 124)) cut to ``width`` x ``height`` px around it and enlarged to ``size``."""
    x0, y0 = 226 - width // 2, 124 - height // 2
    face = astronaut()[y0 : y0 + height, x0 : x0 + width]
    return np.ascontiguousarray(cv2.resize(face, size, interpolation=cv2.INTER_CUBIC))


def far_away(frame: tuple[int, int], side: int, at: tuple[int, int]) -> Image:
    """The whole photo scaled to ``side`` px on a grey ``frame`` (w, h), its corner at ``at``:
    the face is about a fifth of ``side``."""
    canvas = np.full((frame[1], frame[0], 3), 90, np.uint8)
    x, y = at
    canvas[y : y + side, x : x + side] = cv2.resize(
        astronaut(), (side, side), interpolation=cv2.INTER_AREA
    )
    return canvas


def batch(images: list[Image]) -> DecodedFrames:
    return frame_batch(images, video_id="vid-distance")


def decisions(face_part: FacePart, pose_part: PosePart) -> list[tuple[bool, bool]]:
    """(face role saw a face, pose role saw a face) for each frame, by frame index."""
    pose_rows = {row.index: row for row in pose_part.frames}
    return [(row.faces > 0, bool(pose_rows[row.index].face)) for row in face_part.frames]


# --- the merge of both models' detections, without models -----------------------------------


def test_one_face_seen_by_both_models_is_kept_once_with_the_better_score() -> None:
    # The astronaut in a 640x360 frame: the short-range box is looser and scores lower.
    short = Face((247, 54, 95, 95), 0.54, model="short-range")
    full = Face((264, 50, 73, 73), 0.84, model="full-range")

    assert merge([short, full]) == [full]
    assert merge([full, short]) == [full]


def test_faces_of_two_people_are_both_kept() -> None:
    near = Face((400, 50, 75, 75), 0.61, model="short-range")
    beside = Face((95, 39, 55, 55), 0.94, model="full-range")
    same_near = Face((395, 45, 82, 82), 0.8, model="full-range")

    merged = merge([near, beside, same_near])

    assert merged == [beside, same_near]
    assert largest(merged) == same_near


def test_haar_faces_without_a_score_are_kept() -> None:
    faces = [Face((10, 10, 40, 40), None, model="haar"), Face((200, 10, 40, 40), None)]

    assert merge(faces) == faces
    assert largest([]) is None


class FakeModel:
    """A MediaPipe FaceDetection graph answering with fixed (score, x, y, w, h) detections."""

    def __init__(self, detections: list[tuple[float, float, float, float, float]]) -> None:
        self.detections = detections
        self.calls = 0

    def process(self, rgb: Image) -> SimpleNamespace:
        self.calls += 1
        eye = SimpleNamespace(x=0.5, y=0.5)
        return SimpleNamespace(
            detections=[
                SimpleNamespace(
                    score=[score],
                    location_data=SimpleNamespace(
                        relative_bounding_box=SimpleNamespace(xmin=x, ymin=y, width=w, height=h),
                        relative_keypoints=[eye, eye],
                    ),
                )
                for score, x, y, w, h in self.detections
            ]
            or None
        )


def fake_detector(
    short: list[tuple[float, float, float, float, float]],
    full: list[tuple[float, float, float, float, float]],
) -> tuple[MediaPipeFaceDetector, FakeModel, FakeModel]:
    models = {0: FakeModel(short), 1: FakeModel(full)}
    solution = SimpleNamespace(FaceDetection=lambda model_selection, **_: models[model_selection])
    mp = SimpleNamespace(solutions=SimpleNamespace(face_detection=solution))
    return MediaPipeFaceDetector(mp), models[0], models[1]


def test_full_range_model_runs_unless_the_short_range_one_is_sure() -> None:
    frame = np.zeros((360, 640, 3), np.uint8)
    close = (0.93, 0.3, 0.1, 0.4, 0.8)
    far = (0.84, 0.05, 0.3, 0.08, 0.14)

    sure, sure_short, sure_full = fake_detector([close], [far])
    unsure, unsure_short, unsure_full = fake_detector([(0.54, 0.41, 0.15, 0.15, 0.26)], [far])
    none, _, none_full = fake_detector([], [far])

    assert [f.model for f in sure.detect(frame)] == ["short-range"]
    assert (sure_short.calls, sure_full.calls) == (1, 0)
    # Unsure: the full-range model runs, and each face is kept once (these do not overlap).
    assert [f.model for f in unsure.detect(frame)] == ["full-range", "short-range"]
    assert (unsure_short.calls, unsure_full.calls) == (1, 1)
    assert [f.box for f in none.detect(frame)] == [(32, 108, 51, 50)]
    assert none_full.calls == 1
    assert close[0] >= SURE_SCORE > 0.54


def test_without_mediapipe_the_haar_cascade_finds_the_face(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("skimage")

    def missing() -> None:
        raise MissingExtra("mediapipe", "vision")

    monkeypatch.setattr(face_detection, "import_mediapipe", missing)
    detector = build_detector()
    faces = detector.detect(cv2.cvtColor(astronaut(), cv2.COLOR_BGR2RGB))

    assert isinstance(detector, HaarFaceDetector)
    (face,) = faces
    x, y, w, h = face.box
    assert 170 < x + w / 2 < 280 and 70 < y + h / 2 < 180  # her face, not the flag or suit
    assert face.score is None and face.model == "haar"


# --- the astronaut near and far ---------------------------------------------------------------


@needs_models
@pytest.mark.parametrize(
    ("width", "height", "size"),
    [(100, 100, (480, 480)), (75, 100, (360, 480))],
    ids=["square-480", "portrait-360x480"],
)
def test_face_filling_the_frame_is_found_by_both_roles(
    face_analyzer: FaceAnalyzer,
    pose_analyzer: PoseAnalyzer,
    width: int,
    height: int,
    size: tuple[int, int],
) -> None:
    # Brows to chin fill the frame; MediaPipe's full-range model alone finds no face here.
    image = close_up(width, height, size)

    (face_row,) = face_analyzer.analyze_frames(batch([image])).frames
    (pose_row,) = pose_analyzer.analyze_frames(batch([image])).frames

    assert face_row.faces == 1
    assert face_row.detection_score is not None and face_row.detection_score > 0.7
    assert face_row.box is not None and face_row.scores is not None
    _, _, w, h = face_row.box
    assert w > 0.6 and h > 0.6  # the box spans most of the frame
    assert max(face_row.scores, key=face_row.scores.__getitem__) == "happy"
    assert pose_row.face is True and pose_row.landmarks is True
    assert pose_row.yaw is not None and abs(pose_row.yaw) < 10.0
    assert pose_row.ear is not None and 0.15 < pose_row.ear < 0.45


@needs_models
@pytest.mark.parametrize(
    ("frame", "side", "at"),
    [((640, 360), 250, (40, 100)), ((1280, 720), 500, (390, 110))],
    ids=["640x360", "1280x720"],
)
def test_small_distant_face_is_found_by_both_roles(
    face_analyzer: FaceAnalyzer,
    pose_analyzer: PoseAnalyzer,
    frame: tuple[int, int],
    side: int,
    at: tuple[int, int],
) -> None:
    # The face is 8% of the frame's width (50 px of 640): under the short-range model's reach,
    # and Face Mesh's own detector, run on the whole frame, finds nothing there either.
    image = far_away(frame, side, at)

    (face_row,) = face_analyzer.analyze_frames(batch([image])).frames
    (pose_row,) = pose_analyzer.analyze_frames(batch([image])).frames

    assert face_row.faces == 1
    assert face_row.box is not None
    x, y, w, h = face_row.box
    assert w < 0.1
    assert at[0] / frame[0] < x < (at[0] + side) / frame[0]
    assert pose_row.face is True and pose_row.landmarks is True
    assert pose_row.yaw is not None and abs(pose_row.yaw) < 10.0
    # The mesh was mapped back from the enlarged crop to the frame's own coordinates.
    assert pose_row.face_width == pytest.approx(w * frame[0] / max(frame), rel=0.35)


@needs_models
def test_both_roles_agree_frame_by_frame(
    face_analyzer: FaceAnalyzer, pose_analyzer: PoseAnalyzer
) -> None:
    from skimage import data

    photo = astronaut()
    two = np.hstack([cv2.resize(photo, (256, 256)), cv2.resize(photo, (384, 384))[:256]])
    rng = np.random.default_rng(3)
    expected = {
        "close-up": (close_up(100, 100, (480, 480)), True),
        "close-up portrait": (close_up(75, 100, (360, 480)), True),
        "photo": (photo, True),
        "webcam": (far_away((640, 360), 360, (140, 0)), True),
        "far": (far_away((640, 360), 250, (40, 100)), True),
        "farther": (far_away((640, 360), 200, (400, 150)), True),
        "on its side": (np.ascontiguousarray(np.rot90(photo)), True),
        "two faces": (np.ascontiguousarray(two), True),
        "coffee": (cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR), False),
        "grey": (np.full((360, 640, 3), 128, np.uint8), False),
        "noise": (rng.integers(0, 256, (360, 640, 3), dtype=np.uint8), False),
    }
    images = [np.ascontiguousarray(image) for image, _ in expected.values()]

    face_part = face_analyzer.analyze_frames(batch(images))
    pose_part = pose_analyzer.analyze_frames(batch(images))

    assert face_part.detector == MediaPipeFaceDetector.name
    seen = dict(zip(expected, decisions(face_part, pose_part), strict=True))
    assert {name: by_face for name, (by_face, _) in seen.items()} == {
        name: present for name, (_, present) in expected.items()
    }
    assert all(by_face == by_pose for by_face, by_pose in seen.values()), seen
    assert face_part.frames[list(expected).index("two faces")].faces == 2
    with_face = [row for row in pose_part.frames if row.face]
    assert all(row.landmarks for row in with_face)


# --- GRID talking heads, through the splitter -----------------------------------------------


def split_and_analyse(
    path: Path, settings: Settings, face: FaceAnalyzer, pose: PoseAnalyzer
) -> tuple[SplitManifest, list[FacePart], list[PosePart]]:
    """Both roles' parts for a file, its frames sampled and decoded as the service does."""
    face_parts: list[FacePart] = []
    pose_parts: list[PosePart] = []
    split = split_all(path, "vid-grid", settings)
    summary = split.summary
    for batch in split.batches:
        frames = decode_part(batch)
        assert isinstance(frames, DecodedFrames)
        face_parts.append(face.analyze_frames(frames))
        pose_parts.append(pose.analyze_frames(frames))
    manifest = SplitManifest(
        video_id="vid-grid",
        frames_sampled=summary.frames_sampled,
        sample_fps=summary.sample_fps,
    )
    return manifest, face_parts, pose_parts


@needs_grid
@needs_models
@pytest.mark.parametrize("framing", ["as recorded", "close-up", "far"])
@pytest.mark.parametrize("clip", GRID_CLIPS)
def test_grid_speaker_is_seen_in_every_frame_by_both_roles(
    vision_settings: Settings,
    face_analyzer: FaceAnalyzer,
    pose_analyzer: PoseAnalyzer,
    tmp_path: Path,
    clip: str,
    framing: str,
) -> None:
    path = GRID / f"{clip}.mpg"
    if framing == "close-up":
        path = make_crop(path, tmp_path / f"{clip}-close-up.mp4", box=CLOSE_UP_BOX, size=GRID_SIZE)
    elif framing == "far":
        path = make_inset(
            path, tmp_path / f"{clip}-far.mp4", scale=FAR_SCALE, size=FAR_FRAME, at=FAR_AT
        )

    manifest, face_parts, pose_parts = split_and_analyse(
        path, vision_settings, face_analyzer, pose_analyzer
    )

    assert manifest.sample_fps == vision_settings.frame_rate == 5.0
    assert manifest.frames_sampled >= 14  # 3 s at 5 fps
    pairs = [pair for f, p in zip(face_parts, pose_parts, strict=True) for pair in decisions(f, p)]
    assert len(pairs) == manifest.frames_sampled
    assert all(by_face == by_pose for by_face, by_pose in pairs)
    with_face = [row for part in pose_parts for row in part.frames if row.face]
    assert all(row.landmarks for row in with_face)  # Face Mesh measured every face found
    face_input: SummaryInput[FacePart, PartData] = SummaryInput(
        manifest, vision_settings, frames=face_parts
    )
    pose_input: SummaryInput[PosePart, PartData] = SummaryInput(
        manifest, vision_settings, frames=pose_parts
    )
    face = FaceAnalyzer.summarize(face_input)["face"]
    sections = PoseAnalyzer.summarize(pose_input)
    gaze, head = sections["gaze"], sections["head_pose"]
    assert isinstance(face, FaceSection)
    assert isinstance(gaze, GazeSection) and isinstance(head, HeadPoseSection)
    assert face.coverage == pytest.approx(1.0, abs=0.07)  # one frame of 15 at most
    assert face.cannot_assess is None
    for section in (gaze, head):
        assert section.coverage == face.coverage
        assert section.cannot_assess is None
    assert head.yaw is not None and abs(head.yaw.mean) < 15.0  # facing the camera


def test_mediapipe_has_one_identity_in_the_bundle_and_both_roles(
    vision_settings: Settings, face_analyzer: FaceAnalyzer, pose_analyzer: PoseAnalyzer
) -> None:
    bundled = models.model_info(vision_settings, "mediapipe")
    (in_face,) = [m for m in face_analyzer.models if m.name == "mediapipe"]

    assert bundled.sha256 is not None
    for used, role in ((in_face, "face"), (pose_analyzer.model_info, "pose")):
        assert (used.analyzer, used.name) == (role, "mediapipe")
        assert (used.version, used.sha256) == (bundled.version, bundled.sha256)
