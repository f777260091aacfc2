"""The face and the pose analyzers of one process detect the faces of a frame once."""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

import numpy as np
import pytest

from video_analysis.analyzers.face_detection import Face, FaceDetector, SharedDetections


class Counting(FaceDetector):
    name: ClassVar[str] = "counting"

    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.calls = 0
        self.delay = delay
        self.fail = fail

    def detect(self, rgb: Any) -> list[Face]:
        self.calls += 1
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("graph failed")
        return [Face((1, 2, 3, 4), 0.9)]


def frame(value: int = 0) -> Any:
    image = np.zeros((36, 64, 3), dtype=np.uint8)
    image[::8, ::8] = value
    return image


def test_the_second_analyzer_gets_the_first_ones_faces() -> None:
    shared, detector = SharedDetections(), Counting()
    first = shared.faces(detector, frame(), "v1", 0)
    second = shared.faces(detector, frame(), "v1", 0)
    assert first == second == [Face((1, 2, 3, 4), 0.9)] and detector.calls == 1


def test_another_frame_video_or_picture_is_detected_afresh() -> None:
    shared, detector = SharedDetections(), Counting()
    shared.faces(detector, frame(), "v1", 0)
    shared.faces(detector, frame(), "v1", 1)  # another frame
    shared.faces(detector, frame(), "v2", 0)  # another video
    shared.faces(detector, frame(200), "v1", 0)  # the id reused for other pictures
    assert detector.calls == 4


def test_two_at_once_detect_once() -> None:
    shared, detector = SharedDetections(), Counting(delay=0.2)
    found: list[list[Face]] = []
    threads = [
        threading.Thread(target=lambda: found.append(shared.faces(detector, frame(), "v", 0)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert detector.calls == 1 and found[0] == found[1]


def test_old_frames_are_forgotten_and_a_failure_is_not_kept() -> None:
    shared, detector = SharedDetections(capacity=2), Counting()
    for index in range(3):
        shared.faces(detector, frame(), "v", index)
    shared.faces(detector, frame(), "v", 0)  # evicted: detected again
    assert detector.calls == 4
    failing = Counting(fail=True)
    with pytest.raises(RuntimeError):
        shared.faces(failing, frame(), "w", 0)
    failing.fail = False
    assert shared.faces(failing, frame(), "w", 0) and failing.calls == 2
