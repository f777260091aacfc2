"""The multimodal timeline: rows per second from per-frame rows and words, and the camera's view
at each word; then on a generated clip whose truth is known second by second."""

from __future__ import annotations

import subprocess
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from tests.media_factory import FFMPEG, make_clip, make_speech_wav
from tests.vision_fixtures import FPS, expression_scores
from video_analysis import timeline
from video_analysis.analyzers.frame_columns import FaceColumns, PoseColumns
from video_analysis.schemas import Segment
from video_analysis.schemas.parts import FaceFrame, Hand, PoseFrame


def face_row(t: float, label: str | None, p: float = 0.7) -> FaceFrame:
    scores = None if label is None else expression_scores(label, p)
    return FaceFrame(index=round(t * FPS), t=t, faces=0 if label is None else 1, scores=scores)


def pose_row(t: float, **fields: Any) -> PoseFrame:
    return PoseFrame(index=round(t * FPS), t=t, face=fields.pop("face", True), **fields)


def faces(*rows: FaceFrame) -> FaceColumns:
    return FaceColumns.of(rows)


def poses(*rows: PoseFrame) -> PoseColumns:
    return PoseColumns.of(rows)


def hand(x: float) -> Hand:
    return Hand(x=x, y=0.5)


def word(start: float, end: float, text: str, speaker: str | None = "S1") -> dict[str, Any]:
    return {"start": start, "end": end, "word": f" {text}", "speaker": speaker, "probability": 0.9}


def segment(*words: dict[str, Any]) -> Segment:
    text = "".join(w["word"] for w in words).strip()
    return Segment(start=words[0]["start"], end=words[-1]["end"], text=text, words=list(words))


def test_every_second_gets_a_row_and_unmeasured_fields_are_null() -> None:
    rows = timeline.build(4.2, faces(face_row(0.0, "happy"), face_row(0.2, None)), poses(), [])

    assert [row.t for row in rows] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert rows[0].face_seen is True and rows[0].expression == "happy"
    assert all(
        row.face_seen is None and row.expression is None and row.eye_contact is None
        for row in rows[1:]
    )
    assert all(row.words == [] and row.text == "" for row in rows)


def test_a_second_with_frames_but_no_face_says_false_not_null() -> None:
    rows = timeline.build(2.0, faces(face_row(0.0, None), face_row(1.0, "sad")), poses(), [])

    assert (rows[0].face_seen, rows[0].expression) == (False, None)
    assert (rows[1].face_seen, rows[1].expression) == (True, "sad")


def test_without_face_rows_the_pose_role_says_whether_a_face_was_seen() -> None:
    rows = timeline.build(2.0, faces(), poses(pose_row(0.2, face=False), pose_row(1.2)), [])

    assert [row.face_seen for row in rows] == [False, True]


def test_expression_is_the_top_label_of_the_seconds_mean_scores() -> None:
    face = [face_row(0.0, "happy", 0.9), face_row(0.2, "sad", 0.5), face_row(0.4, "sad", 0.5)]
    (row,) = timeline.build(1.0, faces(*face), poses(), [])

    mean_happy = (0.9 + 2 * (0.5 / 6)) / 3
    mean_sad = (2 * 0.5 + 0.1 / 6) / 3
    assert row.expression == ("happy" if mean_happy > mean_sad else "sad")
    assert row.expression_score == pytest.approx(max(mean_happy, mean_sad), abs=1e-4)


def test_eye_contact_is_the_majority_and_head_angles_the_mean() -> None:
    pose = [
        pose_row(0.0, looking=True, yaw=10.0, pitch=-4.0),
        pose_row(0.2, looking=False, yaw=20.0, pitch=-2.0),
        pose_row(0.4, looking=False, yaw=30.0, pitch=0.0),
        pose_row(1.0, looking=True, yaw=1.0, pitch=1.0),
        pose_row(1.2, looking=False, yaw=1.0, pitch=1.0),
        pose_row(2.0, face=False),
    ]
    rows = timeline.build(3.0, faces(), poses(*pose), [])

    assert rows[0].eye_contact is False  # one of three
    assert rows[1].eye_contact is False  # a tie is not "most of the second"
    assert (rows[0].head_yaw, rows[0].head_pitch) == (20.0, -2.0)
    assert rows[2].eye_contact is None and rows[2].head_yaw is None


def test_hands_are_counted_only_in_frames_checked_for_them() -> None:
    pose = [
        pose_row(0.0, body_checked=True, hands=[hand(0.1), hand(0.9)]),
        pose_row(0.2, body_checked=True, hands=[]),
        pose_row(1.0, hands=[hand(0.5)]),  # not checked: Pose and Hands skipped this frame
    ]
    rows = timeline.build(2.0, faces(), poses(*pose), [])

    assert [row.hands_visible for row in rows] == [2, None]


def test_words_go_to_the_second_of_their_midpoint_with_their_speakers() -> None:
    segments = [
        segment(word(0.2, 0.6, "Tell"), word(0.9, 1.3, "me", "S1")),
        segment(word(1.3, 1.6, "Sure.", "S2"), word(3.1, 3.4, "Yes.", None)),
    ]
    rows = timeline.build(3.5, faces(), poses(), segments)

    assert [row.text for row in rows] == ["Tell", "me Sure.", "", "Yes."]
    assert rows[1].speakers == ["S1", "S2"]
    assert [w.word for w in rows[1].words] == ["me", "Sure."]
    assert rows[3].speakers == [] and rows[3].words[0].speaker is None


def test_data_past_the_declared_duration_gets_rows_too() -> None:
    rows = timeline.build(
        2.0, faces(face_row(2.4, "happy")), poses(), [segment(word(3.0, 3.2, "ok"))]
    )

    assert len(rows) == 4 and rows[2].expression == "happy" and rows[3].text == "ok"


def test_each_word_gets_the_camera_view_of_the_frame_nearest_its_midpoint() -> None:
    segments = [segment(word(0.25, 0.45, "near"), word(5.0, 5.2, "far"))]
    face = [face_row(0.2, "happy"), face_row(0.6, "sad")]
    pose = [pose_row(0.2, looking=True, yaw=3.0), pose_row(0.6, looking=False, yaw=25.0)]

    timeline.annotate_words(segments, faces(*face), poses(*pose), FPS)

    near, far = segments[0].words
    assert (near.expression, near.eye_contact, near.head_yaw) == ("happy", True, 3.0)
    # No frame within one sampling interval (0.2 s) of 5.1 s: nothing is claimed.
    assert (far.expression, far.eye_contact, far.head_yaw) == (None, None, None)


# --- a generated clip with known truth ------------------------------------------------------

needs_models = pytest.mark.skipif(
    any(find_spec(n) is None for n in ("tensorflow", "mediapipe", "fer", "faster_whisper")),
    reason="needs the vision and speech extras and the installed models",
)


def truth_clip(tmp_path: Path) -> Path:
    """6 s: the astronaut's face and silence for 3 s, then a test pattern (no face) while
    espeak-ng speaks for the next 3 s."""
    face = make_clip(tmp_path / "a.mp4", duration=3.0, size=(640, 360), audio="silence", face=True)
    pattern = make_clip(tmp_path / "b.mp4", duration=3.0, size=(640, 360), audio=None)
    speech = make_speech_wav(tmp_path / "speech.wav", "Thank you. I am ready to begin now.")
    out = tmp_path / "truth.mp4"
    subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-i", str(face), "-i", str(pattern), "-i", str(speech)]
        + ["-filter_complex"]
        + [
            "[0:v][1:v]concat=n=2:v=1:a=0[v];"
            "[2:a]aresample=48000,aformat=channel_layouts=mono,adelay=3000,apad,"
            "atrim=0:6[a]"
        ]
        + ["-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-pix_fmt", "yuv420p"]
        + ["-c:a", "aac", "-t", "6", str(out)],
        check=True,
        capture_output=True,
    )
    return out


@needs_models
def test_rows_of_a_clip_match_its_truth_second_by_second(tmp_path: Path) -> None:
    from video_analysis.pipeline import analyze_file
    from video_analysis.settings import Settings

    result = analyze_file(truth_clip(tmp_path), Settings(speech_language="en"))
    rows = result.timeline

    assert [row.t for row in rows] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    # Within one row of the truth: a face in seconds 0-2, none in 3-5; words only in 3-5.
    assert all(row.face_seen for row in rows[:2])
    assert not any(row.face_seen for row in rows[4:])
    assert all(row.expression is not None for row in rows[:2])
    assert all(row.expression is None and row.eye_contact is None for row in rows[4:])
    assert not any(row.words for row in rows[:2])
    spoken = [row for row in rows if row.words]
    assert spoken and all(row.t >= 2.0 for row in spoken)
    assert "ready" in " ".join(row.text.lower() for row in rows)
    words = [w for seg in result.speech.segments for w in seg.words]
    assert words and all(w.expression is None for w in words if w.start >= 3.5)
