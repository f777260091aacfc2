"""A real face through the whole pipeline with the face and pose workers running."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from tests.e2e.test_pipeline_e2e import place, stored_rows, upload_event
from tests.media_factory import make_clip
from tests.stack import publish, wait_for_results
from video_analysis.streams.topics import ANALYSIS_RESULTS, VIDEO_UPLOADED

pytestmark = pytest.mark.e2e


def test_face_clip_gets_expression_gaze_and_pose_sections(
    broker: str, mysql_database: str, tmp_path: Path
) -> None:
    from tests.e2e.conftest import make_stack

    deployment = make_stack(
        broker, tmp_path, mysql_database, VA_FRAME_ANALYZERS="quality,face,pose"
    )
    clip = make_clip(
        tmp_path / "face.mp4", duration=6.0, size=(640, 360), audio="speech", face=True
    )
    for role in ("splitter", "quality", "face", "pose", "join"):
        deployment.start_worker(role)
    try:
        video_id = f"vision-{uuid.uuid4().hex[:8]}"
        path = place(deployment, clip, video_id)
        asyncio.run(
            publish(
                broker,
                deployment.topic(VIDEO_UPLOADED),
                video_id,
                upload_event(video_id, str(path)),
            )
        )
        result = asyncio.run(
            wait_for_results(
                broker, deployment.topic(ANALYSIS_RESULTS), {video_id}, 400, deployment
            )
        )[video_id]
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
        assert {m["analyzer"] for m in result["models"]} == {"quality", "face", "pose"}
        assert stored_rows(deployment, video_id)[0][0] == "complete"
    finally:
        deployment.stop()
