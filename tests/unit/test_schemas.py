"""Every message type survives the JSON round trip, and its JSON Schema is published."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel, ValidationError

from video_analysis.analyzers.registry import ANALYZERS, analyzer_class
from video_analysis.cli import main
from video_analysis.schemas import (
    JOIN_CONTROL,
    PART_DATA,
    PUBLISHED,
    AnalysisResult,
    AnalyzerPlan,
    AudioChunk,
    DeadLetter,
    ErrorInfo,
    FrameBatch,
    FrameImage,
    JoinDeadline,
    MediaInfo,
    ModelInfo,
    PartialResult,
    PartSource,
    SplitManifest,
    VideoMetadata,
    VideoState,
    VideoStatus,
    VideoUploaded,
    write_json_schemas,
)

JPEG = bytes(range(256)) * 4

SAMPLES: list[BaseModel] = [
    VideoUploaded(
        video_id="vid-1",
        uri="/data/uploads/vid-1/a.mp4",
        metadata=VideoMetadata(interview_id="iv", language="ko", team="platform"),
    ),
    FrameBatch(
        video_id="vid-1",
        batch_index=3,
        sample_fps=5.0,
        frames=[FrameImage(index=75, t=15.0, width=640, height=360, jpeg=JPEG)],
    ),
    AudioChunk(video_id="vid-1", chunk_index=1, start=29.5, end=58.25, data=b"fLaC\x00\x01"),
    SplitManifest(
        video_id="vid-1",
        media=MediaInfo(duration_s=60.0, width=1280, height=720, has_video=True),
        frame_batches=12,
        audio_chunks=2,
        analyzers=AnalyzerPlan(frames=["quality"], audio=["quality"]),
    ),
    PartialResult(
        video_id="vid-1",
        analyzer="quality",
        source=PartSource.AUDIO,
        index=1,
        model=ModelInfo(analyzer="quality", name="media-quality", version="0.1.0"),
        data={"rms_dbfs": -21.5},
    ),
    JoinDeadline(video_id="vid-1"),
    DeadLetter(
        stage="splitter",
        topic="video-uploaded",
        partition=0,
        offset=7,
        video_id="vid-1",
        error=ErrorInfo(code="unreadable_media", message="not a video"),
    ),
    AnalysisResult(video_id="vid-1", status="partial", missing=["media.quality"]),
    VideoStatus(video_id="vid-1", state=VideoState.PROCESSING, progress=0.5),
]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_message_round_trips_through_json(message: BaseModel) -> None:
    text = message.model_dump_json()
    again = type(message).model_validate_json(text)
    assert again == message
    assert json.loads(text).get("schema_version", 1) == 1


def test_binary_payloads_travel_as_base64_and_come_back_exact() -> None:
    batch = SAMPLES[1]
    assert isinstance(batch, FrameBatch)
    encoded = json.loads(batch.model_dump_json())["frames"][0]["jpeg"]
    assert isinstance(encoded, str) and len(encoded) > len(JPEG)
    assert FrameBatch.model_validate_json(batch.model_dump_json()).frames[0].jpeg == JPEG


def test_upload_event_rejects_bad_video_id_and_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        VideoUploaded(video_id="../etc/passwd", uri="/x.mp4")
    with pytest.raises(ValidationError):
        VideoUploaded.model_validate({"video_id": "ok", "uri": "/x.mp4", "surprise": 1})
    with pytest.raises(ValidationError):
        VideoUploaded.model_validate({"video_id": "ok", "uri": "/x.mp4", "schema_version": 2})


def test_manifest_expects_one_part_per_analyzer_and_batch() -> None:
    manifest = SAMPLES[3]
    assert isinstance(manifest, SplitManifest)
    expected = manifest.expected_parts()
    assert len(expected) == 12 + 2
    assert "quality:frames:11" in expected and "quality:audio:1" in expected


def test_schemas_command_writes_a_json_schema_per_topic(tmp_path: Path) -> None:
    assert main(["schemas", "--out", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(
        [f"{name}.schema.json" for name in PUBLISHED]
        + [f"analyzer-results.data.{key}.schema.json" for key in PART_DATA]
        + [f"{name}.schema.json" for name in JOIN_CONTROL]
    )
    result_schema = json.loads((tmp_path / "analysis-results.schema.json").read_text())
    for key in ("video_id", "status", "error", "missing", "media", "face", "speech", "models"):
        assert key in result_schema["properties"]


def test_shipped_json_schemas_match_the_code(tmp_path: Path) -> None:
    """``schemas/`` in the repo is what platform teams code against: regenerate it with
    ``make schemas`` (or ``video-analysis schemas --out schemas``) when a message changes."""
    shipped = Path(__file__).resolve().parents[2] / "schemas"
    written = write_json_schemas(tmp_path)

    assert sorted(p.name for p in shipped.glob("*.schema.json")) == sorted(p.name for p in written)
    for path in written:
        assert (shipped / path.name).read_text() == path.read_text(), (
            f"schemas/{path.name} is out of date: run `make schemas`"
        )


def test_published_part_data_schemas_are_the_analyzers_own_models() -> None:
    """The shipped ``analyzer-results.data.*`` schemas describe what each analyzer sends."""
    published = {}
    for name in ANALYZERS:
        cls = analyzer_class(name)
        for source in cls.sources:
            published[f"{name}.{source.value}"] = cls.part_data(source)
    assert published == PART_DATA


@pytest.mark.parametrize("model", [AnalysisResult, *PART_DATA.values()], ids=lambda m: m.__name__)
def test_every_field_of_the_result_and_of_part_data_has_a_type_and_a_description(
    model: type[BaseModel],
) -> None:
    """What platform teams code against says what each field is."""
    undescribed: list[str] = []
    seen: set[type[BaseModel]] = set()

    def walk(current: type[BaseModel]) -> None:
        if current in seen:
            return
        seen.add(current)
        for name, field in current.model_fields.items():
            if not field.description:
                undescribed.append(f"{current.__name__}.{name}")
            if field.annotation is Any:
                undescribed.append(f"{current.__name__}.{name} (untyped)")
            stack: list[Any] = [field.annotation]
            while stack:
                annotation = stack.pop()
                if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                    walk(annotation)
                stack.extend(get_args(annotation))

    walk(model)
    assert undescribed == []


def test_result_rows_read_and_write_the_same_json_and_ignore_keys_they_do_not_know() -> None:
    # Words, timeline seconds and expression and action unit seconds are slotted dataclasses
    # (an hour holds tens of thousands of them): their JSON is the models' JSON, byte for byte,
    # and a key a newer writer added to a row is dropped, not refused.
    from tests.interviews import dense_interview

    result = dense_interview(120)
    body = result.model_dump_json().encode()
    assert AnalysisResult.model_validate_json(body).model_dump_json().encode() == body

    newer = json.loads(body)
    newer["speech"]["segments"][0]["words"][0]["emphasis"] = 0.7
    newer["timeline"][3]["gesture"] = "wave"
    newer["face"]["expression"]["timeline"][0]["valence"] = 0.1
    read = AnalysisResult.model_validate(newer)
    assert read.model_dump_json().encode() == body
    word = read.speech.segments[0].words[0]
    assert not hasattr(word, "__dict__")  # slotted: no per-word dict
    assert word.midpoint == (word.start + word.end) / 2


HEADS = ("an", "dis", "fe", "ha", "s", "surp", "neu")
TAILS = ("gry", "gust", "ar", "ppy", "ad", "rise", "tral")


def test_face_rows_share_their_expression_labels() -> None:
    """An hour has 18,000 face rows: each holding its own copy of the seven labels was a
    third of a row's memory in the join (which reads the rows from each part's data)."""
    from video_analysis.schemas.parts import FacePart

    def part() -> dict[str, Any]:
        # Each label a new string, as a JSON parser makes it (a frame's scores give all seven).
        labels = ["".join(pair) for pair in zip(HEADS, TAILS, strict=True)]
        scores = dict(zip(labels, (0.1, 0.0, 0.0, 0.2, 0.0, 0.0, 0.7), strict=True))
        return {
            "backend": "fer",
            "detector": "mediapipe",
            "model": "fer",
            "frames": [{"index": 0, "t": 0.0, "faces": 1, "scores": scores}],
        }

    first, second = (FacePart.model_validate(part()).frames[0] for _ in range(2))
    assert (
        first.scores
        == second.scores
        == {
            "angry": 0.1,
            "disgust": 0.0,
            "fear": 0.0,
            "happy": 0.2,
            "sad": 0.0,
            "surprise": 0.0,
            "neutral": 0.7,
        }
    )
    assert first.scores is not None and second.scores is not None
    assert all(a is b for a, b in zip(first.scores, second.scores, strict=True))


def test_face_scores_must_give_every_expression_label() -> None:
    from pydantic import ValidationError

    from video_analysis.schemas.parts import FaceFrame

    with pytest.raises(ValidationError, match="must give each of angry, disgust"):
        FaceFrame(index=0, t=0.0, faces=1, scores={"happy": 1.0})
