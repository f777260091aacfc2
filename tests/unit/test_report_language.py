"""The report in Korean and English: the catalogue holds every word the page shows and Korean
words for each; a Korean page leaves no English of the catalogue; numbers, lengths and times
as the reader's locale writes them; the language as the request, the setting or the video
chooses it; reasons by stable code in the result, worded by each language."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from tests.interviews import interview
from tests.report_words import catalogue, english_left, fields, hangul, template, visible
from video_analysis.assemble import failed_result
from video_analysis.cli import main
from video_analysis.report import Reader, UnknownLanguage, choose_language, render
from video_analysis.report.i18n import LOCALE_DIR, reading, translations
from video_analysis.schemas import ActionUnits, ErrorInfo, ReliabilityNote
from video_analysis.schemas.reasons import REASONS, Reason, reason
from video_analysis.schemas.vision import BlinksSection, HeadPoseSection

ROOT = Path(__file__).resolve().parents[2]

#: Values for every reason code, as the analyzers and the join give them.
SAMPLES: dict[str, dict[str, Any]] = {
    "analysis_failed": {"error": "unreadable_media"},
    "result_failed": {"message": "the file has no video stream", "error": "no_video_stream"},
    "not_enabled": {"section": "gestures"},
    "no_part_arrived": {},
    "parts_missing": {},
    "parts_failed": {"count": 2, "parts": "face:frames:3, pose:frames:3"},
    "partly_judged": {"share": 0.62},
    "truncated": {"analysed_s": 41.5, "duration_s": 60.0},
    "too_few_frames": {"what": "a face", "share": 0.12, "minimum": 0.3, "name": "gaze"},
    "no_frame_analysed": {},
    "face_too_rare": {"share": 0.12, "minimum": 0.3},
    "blinks_fps": {"fps": 5.0, "minimum": 10.0},
    "no_eye": {},
    "no_head_pose": {},
    "no_shoulders": {},
    "no_hands_checked": {},
    "no_gaze": {},
    "no_landmarks": {},
    "pose_not_enabled": {},
    "no_audio_track": {},
    "no_audio_received": {},
    "no_speech": {},
    "no_words": {},
    "speaker_model_missing": {"detail": "speaker model not available: campplus missing"},
    "no_speech_to_structure": {"cause": reason("no_audio_track")},
}


def every_kind_of_page() -> Any:
    """An interview whose page shows every part of the report: questions, fillers and long
    pauses, action units, sections that could not be judged and a note for every reason."""
    result = interview(240, questions=4)
    result.created_at = datetime(2026, 12, 7, 6, 40, tzinfo=UTC)
    result.head_pose = HeadPoseSection.not_assessed(
        reason("too_few_frames", what="a face", share=0.12, minimum=0.3, name="head pose")
    )
    result.blinks = BlinksSection.not_assessed(reason("blinks_fps", fps=5.0, minimum=10.0))
    result.reliability = [
        ReliabilityNote.of("speech.speakers" if code.startswith("speaker") else "face", why)
        for code, why in ((c, reason(c, **SAMPLES[c])) for c in REASONS)
    ]
    return result


def test_every_reason_code_has_sample_values() -> None:
    assert set(SAMPLES) == set(REASONS)
    for code, values in SAMPLES.items():
        assert "{" not in reason(code, **values).english, code


def test_the_catalogue_template_holds_every_word_of_the_page(tmp_path: Path) -> None:
    """``make catalogs`` was run after the last change of the page's words."""
    extracted = tmp_path / "messages.pot"
    CommandLineInterface().run(
        [
            "pybabel",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "--no-location",
            "--sort-output",
            "-o",
            str(extracted),
            str(ROOT),
        ]
    )
    with extracted.open("rb") as fh:
        fresh = {m.id for m in read_po(fh) if m.id}
    shipped = {m.id for m in template() if m.id}
    assert fresh - shipped == set(), "new words: run `make catalogs` and translate them"
    assert shipped - fresh == set(), "words no page shows any more: run `make catalogs`"


def test_every_message_has_korean_words_with_the_same_fields() -> None:
    korean = catalogue("ko")
    missing, fuzzy, unlike = [], [], []
    for message in template():
        if not message.id:
            continue
        own = korean.get(message.id)
        if own is None or not own.string:
            missing.append(message.id)
            continue
        if own.fuzzy:
            fuzzy.append(message.id)
        expected = fields(str(message.id))
        if message.id == REASONS["result_failed"]:
            # The English words are the error's own message; others word it by its code.
            assert fields(str(own.string)) <= expected | {"{error}"}
        elif fields(str(own.string)) != expected:
            unlike.append(message.id)
    assert (missing, fuzzy, unlike) == ([], [], [])
    assert translations("ko").gettext("Key figures") != "Key figures"


@pytest.mark.parametrize("code", sorted(REASONS))
def test_each_reason_reads_in_korean(code: str) -> None:
    why = reason(code, **SAMPLES[code])
    with reading(Reader("ko")):
        from video_analysis.report.i18n import reason as worded

        words = worded(why)
    assert hangul(words) and "{" not in words, words
    assert why.english == REASONS[code].format(
        **{
            k: Reason.model_validate(v).english if isinstance(v, dict) else v
            for k, v in why.params.items()
        }
    )


def test_a_korean_page_leaves_no_english_word_of_the_catalogue() -> None:
    page = render(every_kind_of_page(), reader=Reader("ko", "Asia/Seoul"))

    assert english_left(page) == []
    assert '<html lang="ko">' in page
    # Read as Korean readers read them: the length, the time in their zone, the language.
    assert "2026. 12. 7. 오후 3:40 (한국 표준시)" in page
    assert "4분" in page and "영어" in page
    # The transcript keeps what was said, in the language it was said.
    assert "billing" in page


def test_a_failed_video_reads_in_korean_too() -> None:
    failed = failed_result("bad-1", ErrorInfo(code="no_video_stream", message="no video stream"))
    page = render(failed, reader=Reader("ko"))

    assert english_left(page) == []
    assert "no_video_stream" in page  # the code a person can quote to support


def test_an_english_page_has_no_korean() -> None:
    page = render(every_kind_of_page(), reader=Reader("en"))

    assert not hangul(visible(page))
    assert '<html lang="en">' in page
    assert "Dec 7, 2026 6:40\u202fAM (Coordinated Universal Time)" in page  # CLDR: a narrow space
    assert "length 4 min" in page


def test_the_english_reasons_stay_in_the_json_with_their_codes() -> None:
    failed = failed_result("bad-1", ErrorInfo(code="no_video_stream", message="no video stream"))
    body = json.loads(failed.model_dump_json())

    assert body["gaze"]["cannot_assess"] == "analysis failed: no_video_stream"
    assert body["gaze"]["cannot_assess_reason"] == {
        "code": "analysis_failed",
        "params": {"error": "no_video_stream"},
    }
    assert body["reliability"] == [
        {
            "section": "result",
            "reason": "no video stream",
            "code": "result_failed",
            "params": {"message": "no video stream", "error": "no_video_stream"},
        }
    ]


def test_a_note_from_before_codes_keeps_its_english_words() -> None:
    result = interview(30)
    result.reliability = [ReliabilityNote(section="posture", reason="no shoulders in view")]
    result.face.action_units = ActionUnits.not_assessed(reason("pose_not_enabled"))

    page = render(result, reader=Reader("ko"))

    assert "no shoulders in view" in page
    assert "the pose role" not in page


@pytest.mark.parametrize(
    ("asked", "header", "setting", "video", "chosen"),
    [
        ("ko", "en-US,en;q=0.9", "en", "en", "ko"),  # asked for wins
        (None, "ko-KR,ko;q=0.9,en;q=0.8", "en", "en", "ko"),  # then the reader's browser
        (None, "fr-FR,fr;q=0.9,en;q=0.5", None, "ko", "en"),  # the best it is written in
        (None, "fr-FR", "ko", "en", "ko"),  # then the setting
        (None, None, None, "ko", "ko"),  # then the video's own language
        (None, "*", None, "de", "en"),  # else English
        (None, "en;q=0, ko;q=0.1", None, None, "ko"),
    ],
)
def test_the_language_is_chosen_by_request_header_setting_then_video(
    asked: str | None, header: str | None, setting: str | None, video: str | None, chosen: str
) -> None:
    assert choose_language(asked, header, setting, video) == chosen


def test_a_language_the_report_is_not_written_in_is_refused() -> None:
    with pytest.raises(UnknownLanguage, match="'fr' is not one of them"):
        choose_language("fr", None, None, None)


def test_the_cli_writes_the_report_in_the_language_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "result.json"
    result = interview(30)
    result.speech.language = "ko"
    source.write_text(result.model_dump_json())

    assert main(["report", str(source), "--out", str(tmp_path / "ko.html")]) == 0
    assert main(["report", str(source), "--out", str(tmp_path / "en.html"), "--lang", "en"]) == 0

    assert '<html lang="ko">' in (tmp_path / "ko.html").read_text()  # the video's language
    assert '<html lang="en">' in (tmp_path / "en.html").read_text()
    with pytest.raises(SystemExit):
        main(["report", str(source), "--out", str(tmp_path / "x.html"), "--lang", "fr"])
    assert "invalid choice: 'fr'" in capsys.readouterr().err


def test_no_compiled_catalogue_is_kept_in_the_repository() -> None:
    assert not list(LOCALE_DIR.rglob("*.mo"))
    assert re.search(r"babel>=", (ROOT / "pyproject.toml").read_text())


def test_the_report_settings_refuse_an_unknown_zone_and_read_empty_as_unset() -> None:
    from pydantic import ValidationError

    from video_analysis.settings import Settings

    assert Settings(report_language="").report_language is None  # compose's ${VAR:-}
    assert Settings(report_timezone="Asia/Seoul").report_timezone == "Asia/Seoul"
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        Settings(report_timezone="Mars/Olympus")
    with pytest.raises(ValidationError):
        Settings(report_language="fr")


def test_an_hour_in_korean_stays_within_the_pages_budget() -> None:
    from tests.interviews import dense_interview
    from tests.unit.test_report import MAX_HOUR_BYTES

    page = render(dense_interview(3600, questions=12), reader=Reader("ko"))

    assert len(page.encode()) <= MAX_HOUR_BYTES
    assert english_left(page) == []


def test_a_passage_in_another_language_is_marked_in_the_readers_words() -> None:
    from video_analysis.schemas.speech import LanguageShare

    result = interview(30)
    result.speech.language = "ko"
    for segment in result.speech.segments:
        segment.language = "en" if segment.speaker == "S1" else "ko"
    result.speech.languages = [
        LanguageShare(language="ko", speech_s=20.0, share=0.8),
        LanguageShare(language="en", speech_s=5.0, share=0.2),
    ]

    korean = render(result, reader=Reader("ko"))
    english = render(result, reader=Reader("en"))

    assert "언어: 한국어 80%, 영어 20%" in korean
    assert '<span data-t="3.5" lang="en" class="other-language">' in korean
    assert '<span class="lang-mark" title="영어(으)로 말함">영어</span>' in korean
    assert "languages: Korean 80%, English 20%" in english
    assert english_left(korean) == []
