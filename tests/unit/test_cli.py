"""`video-analysis analyze` prints the result JSON; a bad file gives `failed` and exit 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.media_factory import make_clip, make_text_as_mp4, make_truncated
from video_analysis.cli import main
from video_analysis.settings import get_settings


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("VA_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("VA_UPLOAD_ROOT", str(tmp_path / "uploads"))
    monkeypatch.setenv("VA_FRAME_ANALYZERS", "quality")
    monkeypatch.setenv("VA_AUDIO_ANALYZERS", "quality")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_analyze_prints_complete_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "a.mp4", duration=2.0, audio="sine")
    code = main(["analyze", str(clip), "--video-id", "cli-1", "--language", "ko"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert result["video_id"] == "cli-1" and result["status"] == "complete"
    assert result["metadata"]["language"] == "ko"
    assert result["media"]["duration_s"] == pytest.approx(2.0, abs=0.1)
    assert result["media"]["has_audio"] is True


def test_analyze_of_a_truncated_file_says_how_much_was_analysed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The manifest is built as the splitter agent builds it: truncation reaches the result.
    whole = make_clip(tmp_path / "whole.mkv", duration=6.0, audio="sine")
    cut = make_truncated(whole, tmp_path / "cut.mkv", keep=0.5)
    assert main(["analyze", str(cut)]) == 0
    media = json.loads(capsys.readouterr().out)["media"]
    assert media["truncated"] is True
    assert 1.0 < media["analysed_s"] < media["duration_s"] - 1.0
    assert main(["analyze", str(whole)]) == 0
    media = json.loads(capsys.readouterr().out)["media"]
    assert (media["truncated"], media["analysed_s"]) == (False, pytest.approx(6.0, abs=0.1))


def test_an_impossible_video_id_is_a_clear_error(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "a.mp4", duration=1.0, audio="sine")
    with pytest.raises(SystemExit) as stop:
        main(["analyze", str(clip), "--video-id", "no spaces/or slashes"])
    assert "--video-id" in str(stop.value.code)


def test_analyze_of_text_file_prints_failed_result_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "analyze",
            str(make_text_as_mp4(tmp_path / "notes.mp4")),
            "--out",
            str(tmp_path / "out.json"),
        ]
    )
    result = json.loads(capsys.readouterr().out)
    assert code == 1
    assert result["status"] == "failed"
    assert result["error"]["code"] == "unreadable_media"
    assert json.loads((tmp_path / "out.json").read_text()) == result


def test_analyze_of_missing_file_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["analyze", str(tmp_path / "nope.mp4")])
    result = json.loads(capsys.readouterr().out)
    assert code == 1 and result["error"]["code"] == "source_not_found"


def test_analyze_of_audio_only_file_fails_with_no_video_stream(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = make_clip(tmp_path / "voice.m4a", duration=1.0, video=False, audio="sine")
    assert main(["analyze", str(clip)]) == 1
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "no_video_stream"


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ("{bad", "--metadata is not valid JSON"),
        ("[1]", "--metadata must be a JSON object"),
        (
            '{"questions": [{"question_id": "q1", "start": 3, "end": 1}]}',
            "--metadata is invalid: questions.0: Value error, question q1: end 1.0 <= start 3.0",
        ),
    ],
)
def test_bad_metadata_is_a_clear_error_not_a_traceback(
    tmp_path: Path, metadata: str, message: str
) -> None:
    clip = make_clip(tmp_path / "a.mp4", duration=1.0, audio="sine")
    with pytest.raises(SystemExit) as stop:
        main(["analyze", str(clip), "--metadata", metadata])
    assert message in str(stop.value.code)


def test_question_spans_reach_the_results_structure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = make_clip(tmp_path / "a.mp4", duration=2.0, audio="sine")
    metadata = '{"questions": [{"question_id": "q1", "start": 0, "end": 2}]}'
    code = main(["analyze", str(clip), "--metadata", metadata])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert result["metadata"]["questions"] == [{"question_id": "q1", "start": 0.0, "end": 2.0}]
    # No speech analyzer in this deployment: the structure says why it has no figures.
    assert result["structure"]["cannot_assess"].startswith("no speech to structure")
    assert [row["t"] for row in result["timeline"]] == [0.0, 1.0]


def test_keys_create_prints_a_key_once_and_the_entry_that_accepts_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from video_analysis.auth import KeyRing
    from video_analysis.settings import Settings

    assert main(["keys", "create", "platform", "--scopes", "submit,read"]) == 0
    lines = capsys.readouterr().out.splitlines()
    key = lines[0].rsplit(" ", 1)[-1]
    entry = lines[1].rsplit(" ", 1)[-1]
    assert key.startswith("va_") and key not in entry
    ring = KeyRing(Settings(api_keys=entry).api_keys)  # type: ignore[arg-type]
    found = ring.identify(key)
    assert found is not None and found.name == "platform"
    assert found.scopes == {"submit", "read"}
    assert ring.identify(key + "x") is None

    assert main(["keys", "create", "platform", "--scopes", "everything"]) == 2
    assert "scopes must be some of" in capsys.readouterr().err
