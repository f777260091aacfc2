"""A real face and speech through the whole pipeline with every analyzer worker running."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.e2e.test_pipeline_e2e import stored_rows
from tests.media_factory import make_clip

pytestmark = pytest.mark.e2e


def test_face_and_speech_clip_gets_every_section(
    broker: str, mysql_database: str, tmp_path: Path
) -> None:
    from tests.e2e.conftest import make_stack

    deployment = make_stack(
        broker,
        tmp_path,
        mysql_database,
        VA_FRAME_ANALYZERS="quality,face,pose",
        VA_AUDIO_ANALYZERS="quality,speech",
    )
    clip = make_clip(
        tmp_path / "face.mp4", duration=6.0, size=(640, 360), audio="speech", face=True
    )
    for role in ("splitter", "quality", "face", "pose", "speech", "join"):
        deployment.start_worker(role)
    try:
        video_id = f"vision-{uuid.uuid4().hex[:8]}"
        deployment.submit(clip, video_id)
        result = deployment.results({video_id}, 400)[video_id]
        assert result["status"] == "complete", result.get("missing_parts")
        face = result["face"]
        assert face["cannot_assess"] is None
        assert face["coverage"] >= 0.9
        distribution = face["expression"]["distribution"]
        assert set(distribution) == {
            "angry",
            "disgust",
            "fear",
            "happy",
            "sad",
            "surprise",
            "neutral",
        }
        assert sum(distribution.values()) == pytest.approx(1.0, abs=0.01)
        assert face["expression"]["timeline"]
        assert result["gaze"]["cannot_assess"] is None
        assert 0.0 <= result["gaze"]["eye_contact_ratio"] <= 1.0
        assert result["head_pose"]["coverage"] >= 0.9
        speech = result["speech"]
        assert speech["cannot_assess"] is None
        assert speech["language"] == "en"
        # make_clip's speech: "Thank you for the question. In my last role I led a small team..."
        assert "question" in speech["transcript"].lower()
        assert speech["segments"] and speech["segments"][0]["words"]
        assert {m["analyzer"] for m in result["models"]} == {"quality", "face", "pose", "speech"}
        assert stored_rows(deployment, video_id)[0][0] == "complete"
    finally:
        deployment.stop()
